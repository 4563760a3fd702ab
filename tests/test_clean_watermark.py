"""A tiled watermark de-blended (tasks.clean.watermark), on drawn photos: the layer's colour and opacity
are found from the tiles, the blend is inverted over the product too, and nothing else is touched.

The readings handed in are the tiles' true boxes (as OCR reads them), so these tests need no OCR.
"""
import numpy as np
import pytest

from catloc import synthetic
from catloc.engines.base import TextRegion
from catloc.synthetic import changed_pixels, paint_watermark_tiles
from catloc.tasks.clean.plates import backdrop_colour
from catloc.tasks.clean.watermark import deblend, estimate_watermark, turned
from tests.synth import shirt

GREY, OPACITY = (120, 120, 120), 0.25


def watermarked(garment=(40, 60, 120), colour=GREY, opacity=OPACITY, seed=0):
    """(clean photo, watermarked photo, product mask, tile readings): a dark shirt on a light backdrop with
    a grey tiled watermark at ``opacity`` over everything."""
    clean, mask = shirt(640, (242, 242, 240), garment)
    rng = np.random.default_rng(seed)
    clean = np.clip(clean + rng.normal(0, 1.0, clean.shape), 0, 255).astype(np.uint8)
    font = synthetic.font("cjk", 44)
    out, tiles = paint_watermark_tiles(clean, "盗图必究", font, colour, opacity, angle=30.0, spacing=(1.6, 3.0))
    readings = [TextRegion(t.quad, "盗图必究", 0.99) for t in tiles]
    insides = [float(mask[t.mask].mean()) for t in tiles]
    return clean, out, mask, readings, insides


@pytest.fixture(scope="module")
def case():
    clean, image, mask, readings, insides = watermarked()
    layer = estimate_watermark(image, readings, mask)
    return clean, image, mask, layer


def test_the_marks_colour_and_opacity_are_found_from_its_tiles(case):
    _, _, _, layer = case
    assert layer is not None
    assert abs(layer.opacity - OPACITY) < 0.08
    assert np.abs(layer.colour - GREY).max() < 40


def test_de_blending_restores_the_backdrop_and_the_product_under_the_mark(case):
    clean, image, mask, layer = case
    restored = deblend(image, layer)
    marked = changed_pixels(clean, image)
    err = lambda a: float(np.abs(a[marked].astype(np.float32) - clean[marked]).mean())  # noqa: E731
    assert err(restored) <= 0.3 * err(image)  # the benchmark's target residual
    on_product = marked & mask  # the tiles on the product, placed by the lattice, are de-blended too
    assert on_product.sum() > 500
    assert float(np.abs(restored[on_product].astype(np.float32) - clean[on_product]).mean()) <= \
        0.35 * float(np.abs(image[on_product].astype(np.float32) - clean[on_product]).mean())


def test_pixels_off_the_layer_are_left_bit_for_bit(case):
    _, image, _, layer = case
    restored = deblend(image, layer)
    assert np.array_equal(restored[~layer.mask], image[~layer.mask])
    assert layer.mask.mean() < 0.3


def test_readings_without_a_translucent_mark_under_them_give_no_layer():
    clean, _, mask, readings, insides = watermarked()
    assert estimate_watermark(clean, readings, mask) is None


def residual(clean: np.ndarray, image: np.ndarray, restored: np.ndarray) -> float:
    """Mean |restored - clean| / mean |image - clean| over the pixels the watermark changed."""
    marked = changed_pixels(clean, image)
    return float(np.abs(restored[marked].astype(np.float32) - clean[marked]).mean() /
                 np.abs(image[marked].astype(np.float32) - clean[marked]).mean())


def test_partial_readings_still_give_the_whole_mark():
    """OCR often reads a tile in pieces: with only the second half of each tile read, the layer still
    covers the whole mark (its extent comes from the pieces moved onto one line by the lattice)."""
    clean, image, mask, readings, _ = watermarked(seed=1)
    halves = []
    for k, r in enumerate(readings):
        tl, tr, br, bl = np.asarray(r.polygon, np.float32)
        left = k % 2 == 0  # every other tile read as its first half, the others as their second
        quad = [tl, (tl + tr) / 2, (bl + br) / 2, bl] if left else [(tl + tr) / 2, tr, br, (bl + br) / 2]
        halves.append(TextRegion(np.asarray(quad, np.float32), "盗图" if left else "必究", 0.99))
    layer = estimate_watermark(image, halves, mask)
    assert layer is not None
    assert residual(clean, image, deblend(image, layer)) <= 0.3


def test_a_reading_of_other_text_sharing_the_string_is_no_reference():
    """A horizontal promo reading that shares the mark's string (grouped with the tiles by its text)
    lies across the tiles' direction: it is never the reference, and the mark is still found."""
    clean, image, mask, readings, _ = watermarked(seed=2)
    stray = synthetic.paint_text(image, (20, 600), "盗图必究官方店", synthetic.font("cjk", 30), (200, 40, 40),
                                 opacity=1.0)
    box = stray.box
    quad = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], np.float32)
    layer = estimate_watermark(stray.image, [TextRegion(quad, "盗图必究官方店", 0.99)] + readings, mask,
                               others=None)
    assert layer is not None
    assert abs(layer.opacity - OPACITY) < 0.08


def test_a_mark_read_once_is_found_by_its_lattice():
    """OCR may read a faint mark only once: that reading is the template, and the matches on a lattice
    prove the mark (pipeline.watermark_layer hands over such a turned reading when no tiled group
    was read)."""
    clean, image, mask, readings, insides = watermarked(seed=3)
    alone = min(range(len(readings)), key=lambda k: insides[k])  # one reading on the backdrop
    assert turned(readings[alone].polygon)
    layer = estimate_watermark(image, [readings[alone]], mask)
    assert layer is not None and layer.tiles >= 9
    assert residual(clean, image, deblend(image, layer)) <= 0.3
    level = np.array([[0, 0], [120, 0], [120, 30], [0, 30]], np.float32)
    assert not turned(level) and not turned(level[:, ::-1])
