"""Step 6 of the clean stage: the crops OCR looks at again, merged from boxes without drawing them."""
import cv2
import numpy as np
import pytest

from catloc.tasks.clean.verify import crops_around, merge_touching


def drawn_components(boxes, shape):
    """The reference: the boxes drawn filled, their 8-connected components' bounding boxes in OpenCV's order."""
    canvas = np.zeros(shape, np.uint8)
    for x0, y0, x1, y1 in boxes:
        canvas[y0:y1, x0:x1] = 1
    _, _, stats, _ = cv2.connectedComponentsWithStats(canvas, connectivity=8)
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:]]


@pytest.mark.parametrize("seed", range(6))
def test_merging_touching_boxes_equals_the_components_of_the_drawn_boxes(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(40, 900)), int(rng.integers(40, 900)))
    boxes = []
    for _ in range(40):
        x0, y0 = int(rng.integers(0, shape[1] - 2)), int(rng.integers(0, shape[0] - 2))
        x1, y1 = int(min(shape[1], x0 + rng.integers(1, 60))), int(min(shape[0], y0 + rng.integers(1, 60)))
        boxes.append((x0, y0, x1, y1))
    assert merge_touching(boxes) == drawn_components(boxes, shape)


def test_boxes_touching_at_a_corner_merge_and_boxes_one_pixel_apart_do_not():
    assert merge_touching([(0, 0, 5, 5), (5, 5, 9, 9)]) == [(0, 0, 9, 9)]
    assert merge_touching([(0, 0, 5, 5), (6, 0, 9, 5)]) == [(0, 0, 5, 5), (6, 0, 9, 5)]


def test_crops_grow_merge_until_apart_and_cover_the_image_when_large():
    mask = np.zeros((200, 300), bool)
    mask[20:30, 20:40] = True     # these two grow into each other
    mask[20:30, 70:90] = True
    mask[150:160, 250:260] = True
    assert crops_around(mask, 16) == [(4, 4, 106, 46), (234, 134, 276, 176)]
    assert crops_around(mask, 60) == [(0, 0, 300, 200)]  # the boxes would cover over 40% of it
    assert crops_around(np.zeros((10, 10), bool), 5) == []
