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
from catloc.tasks.clean.watermark import deblend, estimate_watermark
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
    on_product = marked & mask  # some tiles on the product are not found yet: half of the error goes
    assert on_product.sum() > 500
    assert float(np.abs(restored[on_product].astype(np.float32) - clean[on_product]).mean()) <= \
        0.5 * float(np.abs(image[on_product].astype(np.float32) - clean[on_product]).mean())


def test_pixels_off_the_layer_are_left_bit_for_bit(case):
    _, image, _, layer = case
    restored = deblend(image, layer)
    assert np.array_equal(restored[~layer.mask], image[~layer.mask])
    assert layer.mask.mean() < 0.3


def test_readings_without_a_translucent_mark_under_them_give_no_layer():
    clean, _, mask, readings, insides = watermarked()
    assert estimate_watermark(clean, readings, mask) is None
