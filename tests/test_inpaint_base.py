"""BaseInpainter: the one place that keeps the pixels outside the mask unchanged."""
import numpy as np
import pytest

from catloc.engines.base import BaseInpainter


class Scribbler(BaseInpainter):
    """Returns noise everywhere, as a careless model might."""
    name = "scribbler"

    def __init__(self):
        self.calls = 0

    def _fill(self, image, mask):
        self.calls += 1
        return np.random.default_rng(0).integers(0, 256, image.shape, dtype=np.uint8)


def test_only_masked_pixels_change_and_the_input_stays():
    image = np.full((6, 5, 3), 7, np.uint8)
    mask = np.zeros((6, 5), bool)
    mask[2:4, 1:3] = True
    out = Scribbler().inpaint(image, mask)
    assert np.array_equal(out[~mask], image[~mask]) and not np.array_equal(out[mask], image[mask])
    assert (image == 7).all()
    assert np.array_equal(Scribbler().inpaint(image, mask.astype(np.uint8)), out)  # a 0/1 mask is taken too


def test_an_empty_mask_gives_a_copy_without_calling_the_engine():
    engine, image = Scribbler(), np.zeros((4, 4, 3), np.uint8)
    out = engine.inpaint(image, np.zeros((4, 4), bool))
    assert np.array_equal(out, image) and out is not image and engine.calls == 0


@pytest.mark.parametrize("image, mask", [
    (np.zeros((4, 4, 3), np.float32), np.ones((4, 4), bool)),
    (np.zeros((4, 4), np.uint8), np.ones((4, 4), bool)),
    (np.zeros((4, 4, 3), np.uint8), np.ones((4, 5), bool)),
])
def test_bad_inputs_are_refused(image, mask):
    with pytest.raises(ValueError, match="scribbler inpaint"):
        Scribbler().inpaint(image, mask)


def test_parsing_masks_by_part_and_group():
    from catloc.engines.base import PARTS, Parsing
    labels = np.zeros((2, 3), np.uint8)
    labels[0, 0], labels[0, 1], labels[1, 2] = PARTS.index("face"), PARTS.index("dress"), PARTS.index("left_arm")
    parsing = Parsing(labels)
    assert parsing.mask("garment").tolist() == [[False, True, False], [False, False, False]]
    assert parsing.mask("skin").sum() == 2 and parsing.mask("arms", "dress").sum() == 2
    assert parsing.has_person and not Parsing(np.zeros((2, 2), np.uint8)).has_person
    with pytest.raises(ValueError, match="unknown parsing part"):
        parsing.mask("wings")
