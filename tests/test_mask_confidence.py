"""Mask confidence on drawn photos whose true masks are known: a true mask is trusted; the broken
cut-outs a reviewer would reject (hair only, a head cut in half, a white garment without its white
parts, the floor kept, a busy backdrop) are not, each with its reason; and the measures' pieces."""
import numpy as np
import pytest

from catloc.backdrop import fit_backdrop
from catloc.engines.base import PARTS, Parsing
from catloc.mask_confidence import _longest_circular_run, goodness, mask_confidence
from tests.synth import model_photo

TRUSTED = 0.8   # configs/pipeline.yaml qc.min_mask_confidence


@pytest.fixture(scope="module")
def model():
    return model_photo()


def _head_cut(parts: dict[str, np.ndarray]) -> np.ndarray:
    """The person with the left half of the head (hair, face, neck) cut away."""
    cut = parts["person"].copy()
    half = np.zeros_like(cut)
    half[:, : cut.shape[1] // 2] = True
    cut[half & (parts["hair"] | parts["face"])] = False
    return cut


def test_goodness_falls_linearly_from_ok_to_bad():
    assert goodness(0.1, 0.2, 0.6) == 1.0
    assert goodness(0.4, 0.2, 0.6) == pytest.approx(0.5)
    assert goodness(0.9, 0.2, 0.6) == 0.0


def test_the_longest_run_of_an_outline_wraps_around_its_start():
    assert _longest_circular_run(np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], bool)) == 5   # 3 at the end + 2 at the start
    assert _longest_circular_run(np.zeros(5, bool)) == 0
    assert _longest_circular_run(np.ones(5, bool)) == 5


def test_the_true_mask_of_a_model_is_trusted(model):
    image, parts = model
    confidence = mask_confidence(image, parts["person"])
    assert confidence.score >= 0.95 and confidence.reasons == []


def test_a_hair_only_mask_is_not_trusted(model):
    image, parts = model
    confidence = mask_confidence(image, parts["hair"])
    assert confidence.score < TRUSTED
    assert any("foreground left out" in r for r in confidence.reasons)


def test_a_head_cut_in_half_is_not_trusted(model):
    image, parts = model
    confidence = mask_confidence(image, _head_cut(parts))
    assert confidence.score < TRUSTED
    assert any("cut off along the outline" in r for r in confidence.reasons)


def test_a_white_garment_without_its_white_parts_is_not_trusted():
    image, parts = model_photo(garment=(246, 246, 243))
    assert mask_confidence(image, parts["person"]).score >= 0.95          # the white shirt itself is found fine
    confidence = mask_confidence(image, parts["person"] & ~parts["garment"])
    assert confidence.score < TRUSTED
    assert any("left out" in r or "fragments" in r for r in confidence.reasons)


def test_the_floor_kept_beside_the_feet_is_not_trusted(model):
    image, parts = model
    floor = np.zeros_like(parts["person"])
    floor[-60:-55, :] = True                                              # the floor line, to both edges
    confidence = mask_confidence(image, parts["person"] | floor)
    assert confidence.score < TRUSTED
    assert any("thin strips" in r for r in confidence.reasons)
    floor[-60:-20, :] = True                                              # a band of floor
    confidence = mask_confidence(image, parts["person"] | floor)
    assert confidence.score < TRUSTED
    assert any("backdrop kept" in r for r in confidence.reasons)


def test_a_mask_covering_most_of_the_photo_is_not_trusted(model):
    image, parts = model
    mask = np.ones_like(parts["person"])
    mask[:20] = False
    assert mask_confidence(image, mask).score < TRUSTED


def test_a_busy_backdrop_is_never_trusted_for_a_cut_out():
    rng = np.random.default_rng(3)
    image = np.repeat(np.repeat(rng.integers(0, 255, (30, 40, 3)), 16, 0), 16, 1).astype(np.uint8)  # a mosaic
    truth = np.zeros(image.shape[:2], bool)
    truth[120:360, 200:440] = True
    image[truth] = (40, 90, 160)
    confidence = mask_confidence(image, truth)
    assert confidence.score < TRUSTED and any("busy backdrop" in r for r in confidence.reasons)


def test_an_empty_mask_has_no_confidence(model):
    image, parts = model
    assert mask_confidence(image, np.zeros_like(parts["person"])).score == 0.0


def test_a_human_parsing_tells_a_cut_person_and_a_missing_garment(model):
    image, parts = model
    labels = np.zeros(parts["person"].shape, np.uint8)
    for part, name in (("legs", "pants"), ("garment", "upper_clothes"), ("face", "face"), ("hair", "hair")):
        labels[parts[part]] = PARTS.index(name)
    parsing = Parsing(labels)
    assert mask_confidence(image, parts["person"], parsing).score >= 0.95
    cut = mask_confidence(image, parts["person"] & ~(parts["hair"] | parts["face"]), parsing)
    assert cut.score < TRUSTED and any("cuts the person" in r for r in cut.reasons)
    sleeveless = parts["person"].copy()
    sleeveless[:, : parts["person"].shape[1] // 3] = False                # a sleeve gone
    missing = mask_confidence(image, sleeveless, parsing)
    assert missing.score < TRUSTED and any("garment missing" in r for r in missing.reasons)


def test_the_backdrop_surface_follows_a_gradient_and_ignores_what_crosses_the_border():
    h, w = 120, 90
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    lab = np.stack([200 - 0.5 * ys - 0.2 * xs, np.full((h, w), 128.0), np.full((h, w), 130.0)], -1).astype(np.float32)
    lab[:40, 35:55] = (30, 128, 128)                                      # hair crossing the top edge
    lab[80:, 30:60] = (40, 140, 110)                                      # a body crossing the bottom edge
    model = fit_backdrop(lab, 3)
    surface = model.surface((h, w))
    backdrop = np.ones((h, w), bool)
    backdrop[:40, 35:55] = backdrop[80:, 30:60] = False
    assert np.abs(surface[..., 0] - lab[..., 0])[backdrop].max() < 3.0    # the gradient, bridged under the crossings
    assert model.noise < 5.0
    assert model.distance(lab)[90:, 40:50].min() > 50                    # the body is far from the backdrop
