"""Step 6 of the clean stage: look again around what was cleaned, for text that should be gone."""
from __future__ import annotations

import re

import cv2
import numpy as np

from catloc.engines.base import TextDetector, TextRegion
from catloc.imaging import polygon_mask, resize_longest, share_inside
from catloc.tasks.clean.lexicon import promo_match


def leftover_text(cleaned: np.ndarray, ocr: TextDetector, product: np.ndarray, around: np.ndarray,
                  patterns: list[tuple[str, re.Pattern]], remove_all: bool, margin: int, whole_side: int,
                  read_all: bool = True) -> list[TextRegion]:
    """Text found after cleaning that should be gone: mostly off the product (any text under
    ``remove_all``), or promo text (``patterns``).

    OCR looks at the crops around the cleaned regions (``around``, a bool (H, W) mask, grown by
    ``margin`` px), where the leftovers of a removal are; when those crops cover most of the
    image (a tiled watermark), at the whole image at ``whole_side`` px instead. With
    ``read_all=False`` a box off the product counts without being read (it goes whatever it
    says, and its text is ``""``); only boxes on the product are read, for the promo patterns.
    Polygons are returned in full-size coordinates.
    """
    out = []
    for x0, y0, x1, y1 in crops_around(around, margin):
        crop, scale = resize_longest(cleaned[y0:y1, x0:x1], whole_side)
        crop = np.ascontiguousarray(crop)
        to_read = []
        for box in ocr.find(crop):
            polygon = box / scale + np.float32([x0, y0])
            off_product = remove_all or share_inside(polygon_mask(product.shape, polygon), product) < 0.5
            if off_product and not read_all:
                out.append(TextRegion(polygon, "", 0.0))
            else:
                to_read.append((box, off_product))
        for (box, off_product), region in zip(to_read, _read_each(ocr, crop, [b for b, _ in to_read])):
            if region is not None and (off_product or promo_match(region.text, patterns)):
                region.polygon = box / scale + np.float32([x0, y0])
                out.append(region)
    return out


def _read_each(ocr: TextDetector, image: np.ndarray, boxes: list[np.ndarray]) -> list[TextRegion | None]:
    """``ocr.read`` box by box position: the reading of each box, or ``None`` where it was dropped."""
    readings = ocr.read(image, boxes) if boxes else []
    return [next((r for r in readings if np.allclose(r.polygon, box, atol=1.0)), None) for box in boxes]


def crops_around(mask: np.ndarray, margin: int, whole_above: float = 0.4) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` (px) around the blobs of ``mask`` (bool (H, W)), grown by
    ``margin`` and merged where they overlap or touch, until none do (:func:`merge_touching`); the
    whole image when they cover more than ``whole_above`` of it."""
    h, w = mask.shape
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    boxes = [(int(max(0, x - margin)), int(max(0, y - margin)), int(min(w, x + bw + margin)),
              int(min(h, y + bh + margin))) for x, y, bw, bh, _ in stats[1:]]
    while True:
        merged = merge_touching(boxes)
        if len(merged) == len(boxes):
            break
        boxes = merged
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes) > whole_above * h * w:
        return [(0, 0, w, h)]
    return boxes


def merge_touching(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """The bounding boxes of the groups of ``boxes`` (``(x0, y0, x1, y1)`` px, ends exclusive) that
    overlap or touch, side or corner, directly or through others: what ``cv2.connectedComponents``
    (connectivity 8) finds on the boxes drawn filled, in its order (its block-based scan numbers the
    groups by their first 2 x 2 block, row then column), without drawing them."""
    group = list(range(len(boxes)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, (ax0, ay0, ax1, ay1) in enumerate(boxes):
        for j in range(i):
            bx0, by0, bx1, by1 = boxes[j]
            if ax0 <= bx1 and bx0 <= ax1 and ay0 <= by1 and by0 <= ay1:
                group[root(i)] = root(j)
    members: dict[int, list[tuple[int, int, int, int]]] = {}
    for i, box in enumerate(boxes):
        members.setdefault(root(i), []).append(box)
    firsts = sorted(members.values(), key=lambda g: min((b[1] // 2, b[0] // 2) for b in g))
    return [(min(b[0] for b in g), min(b[1] for b in g), max(b[2] for b in g), max(b[3] for b in g))
            for g in firsts]
