"""Inpainting with OpenCV's fast-marching (Telea) or Navier-Stokes method. CPU, no weights."""
from __future__ import annotations

import copy

import cv2
import numpy as np

from catloc.engines.base import BaseInpainter, EngineLoadError
from catloc.imaging import dilate, exemplar_fill, transplant_detail
from catloc.threads import thread_map

_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class OpenCVInpainter(BaseInpainter):
    name = "opencv"

    def __init__(self, method: str = "telea", radius: int = 5, texture: bool = False, exemplar: bool = False,
                 exemplar_min_radius: float | None = None):
        if method not in _METHODS:
            raise EngineLoadError(f"opencv inpaint: method must be one of {sorted(_METHODS)}, got {method!r}")
        self.flag = _METHODS[method]
        self.radius = int(radius)
        self.texture = bool(texture)  # holes in textured surroundings get their neighbours' fine detail
        self.exemplar = bool(exemplar)  # holes in textured surroundings get pixels copied from around them...
        # ... and so do holes at least this wide (inscribed radius, px); None: large smooth holes stay diffused
        self.exemplar_min_radius = np.inf if exemplar_min_radius is None else float(exemplar_min_radius)

    def quick(self) -> "OpenCVInpainter":
        """This inpainter without the exemplar copies (they cost CPU and only matter to the eye)."""
        if not self.exemplar:
            return self
        quick = copy.copy(self)
        quick.exemplar = False
        return quick

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        filled = self._diffuse(image, mask)
        filled = transplant_detail(image, filled, mask) if self.texture else filled
        return exemplar_fill(image, filled, mask, self.exemplar_min_radius) if self.exemplar else filled

    def _diffuse(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Masked blobs are grouped where they come within 2 x (``radius`` + 2) px of each other,
        and each group is inpainted in its own crop, its bounding box plus ``radius`` + 2 px (same
        result as the whole image, since both methods only look ``radius`` px around the hole,
        but far faster on large photos with small overlays). The crops are filled on the photo's
        threads (:func:`~catloc.threads.thread_map`) and written back in order: where crops overlap,
        a later crop's fill of the masked pixels they share wins."""
        out = image.copy()
        h, w = mask.shape
        margin = self.radius + 2
        mask8 = mask.view(np.uint8)
        grown = dilate(mask, margin, square=True)
        _, _, stats, _ = cv2.connectedComponentsWithStats(grown.view(np.uint8), connectivity=8)
        crops = [(slice(max(0, y - margin), min(h, y + bh + margin)), slice(max(0, x - margin), min(w, x + bw + margin)))
                 for x, y, bw, bh, _ in stats[1:]]
        fills = thread_map(lambda crop: cv2.inpaint(np.ascontiguousarray(image[crop]), mask8[crop] * 255,
                                                    self.radius, self.flag), crops)
        for crop, fill in zip(crops, fills):
            out[crop] = fill
        return out
