"""Inpainting with OpenCV's fast-marching (Telea) or Navier-Stokes method. CPU, no weights."""
from __future__ import annotations

import cv2
import numpy as np

from catloc.engines.base import EngineLoadError

_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class OpenCVInpainter:
    name = "opencv"

    def __init__(self, method: str = "telea", radius: int = 5):
        if method not in _METHODS:
            raise EngineLoadError(f"opencv inpaint: method must be one of {sorted(_METHODS)}, got {method!r}")
        self.flag = _METHODS[method]
        self.radius = int(radius)

    def inpaint(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Fill ``mask``; each masked blob is inpainted in its own crop (same result as the
        whole image, since both methods only look ``radius`` px around the hole, but far faster
        on large photos with small overlays)."""
        out = image.copy()
        if not mask.any():
            return out
        h, w = mask.shape
        margin = self.radius + 2
        mask8 = mask.astype(np.uint8)
        grown = cv2.dilate(mask8, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
        n, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
        for x, y, bw, bh, _ in stats[1:]:
            ys, xs = slice(max(0, y - margin), min(h, y + bh + margin)), slice(max(0, x - margin), min(w, x + bw + margin))
            crop_mask = mask8[ys, xs]
            filled = cv2.inpaint(np.ascontiguousarray(image[ys, xs]), crop_mask * 255, self.radius, self.flag)
            out[ys, xs] = np.where(crop_mask[..., None] > 0, filled, out[ys, xs])
        return out
