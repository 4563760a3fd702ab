"""The classical segmenter on the two backdrops that used to defeat it: a white garment on white
paper, and a model cut by the bottom edge of the photo."""
import cv2
import numpy as np

from catloc.engines.segment_classical import ClassicalSegmenter


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def _tee(h: int, w: int) -> np.ndarray:
    """A T-shirt silhouette (bool mask)."""
    mask = np.zeros((h, w), np.uint8)
    cx = w // 2
    body = np.array([[cx - w // 5, h // 5], [cx + w // 5, h // 5], [cx + w // 3, h // 3], [cx + w // 4, h // 2.6],
                     [cx + w // 5, h // 2.6], [cx + w // 5, h * 4 // 5], [cx - w // 5, h * 4 // 5],
                     [cx - w // 5, h // 2.6], [cx - w // 4, h // 2.6], [cx - w // 3, h // 3]], np.int32)
    cv2.fillPoly(mask, [body], 1)
    return mask.astype(bool)


def _white_tee_on_white_paper() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    h, w = 640, 480
    truth = _tee(h, w)
    image = np.full((h, w, 3), 247, np.float32)
    # the garment: 5-9 levels darker than the paper, with weave noise and soft folds
    yy, xx = np.mgrid[0:h, 0:w]
    fold = 2.0 * np.sin(xx / 23.0) * np.cos(yy / 41.0)
    image[truth] = (240 + fold[truth] + rng.normal(0, 0.8, truth.sum()))[:, None]
    image = np.clip(image, 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(image, (3, 3), 0), truth  # a camera's soft edge


def test_white_garment_on_white_paper_is_found():
    image, truth = _white_tee_on_white_paper()
    mask = ClassicalSegmenter().segment(image)
    assert _iou(mask, truth) > 0.9


def test_product_cut_by_the_bottom_edge_is_product_not_backdrop():
    h, w = 640, 480
    image = np.full((h, w, 3), 235, np.uint8)                   # grey studio paper
    truth = np.zeros((h, w), bool)
    truth[150:420, 150:330] = True                              # navy sweater
    truth[420:, 160:238] = truth[420:, 242:320] = True          # trousers running out of the photo
    truth[80:150, 205:275] = True                               # head
    image[truth] = (30, 40, 70)
    image[80:150, 205:275] = (200, 160, 130)
    mask = ClassicalSegmenter().segment(image)
    assert _iou(mask, truth) > 0.9
    assert mask[600:, 160:238].mean() > 0.9                     # the trousers at the border are kept


def test_segmentation_is_repeatable_whatever_opencvs_random_state():
    """GrabCut draws from OpenCV's per-thread RNG; a resumed night must give the same masks.
    A blotchy print close to the paper's colour is where GrabCut's start matters."""
    rng = np.random.default_rng(1)
    h, w = 640, 480
    truth = _tee(h, w)
    image = np.clip(rng.normal(200, 6, (h, w, 3)), 0, 255)
    colours = np.array([[180, 150, 140], [205, 195, 190], [120, 90, 80], [215, 205, 200]], float)
    blotches = colours[np.kron(rng.integers(0, 4, (h // 16 + 1, w // 16 + 1)), np.ones((16, 16), int))[:h, :w]]
    image[truth] = blotches[truth] + rng.normal(0, 6, (truth.sum(), 3))
    image = cv2.GaussianBlur(np.clip(image, 0, 255).astype(np.uint8), (5, 5), 0)
    masks = []
    for seed in (1, 2, 3, 4):
        cv2.setRNGSeed(seed)
        masks.append(ClassicalSegmenter().segment(image))
    assert all((m == masks[0]).all() for m in masks)
