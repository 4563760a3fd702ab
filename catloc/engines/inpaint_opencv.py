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
        if not mask.any():
            return image.copy()
        filled = cv2.inpaint(np.ascontiguousarray(image), mask.astype(np.uint8) * 255, self.radius, self.flag)
        return np.where(mask[..., None], filled, image)
