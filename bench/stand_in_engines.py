"""Cheap stand-in engines for bench/memory.py, registered in :data:`catloc.engines.REGISTRY` as
``bench-ocr``, ``bench-inpaint`` and ``bench-segment`` when this module is imported: in the
benchmark's own process, or in each Dask worker as a preload (``distributed.worker.preload``)."""
from __future__ import annotations

import numpy as np

from catloc.engines import REGISTRY


class NoText:
    """OCR stand-in: finds no text."""

    name = "bench-no-text"

    def detect(self, image):
        return []

    def find(self, image):
        return []

    def read(self, image, polygons):
        return []


class KeepPixels:
    """Inpainter stand-in: leaves the pixels as they are."""

    name = "bench-keep-pixels"

    def inpaint(self, image, mask):
        return image.copy()


class CentreBox:
    """Segmenter stand-in: the product is the centre half of the photo."""

    name = "bench-centre-box"

    def segment(self, image):
        h, w = image.shape[:2]
        mask = np.zeros((h, w), bool)
        mask[h // 4:3 * h // 4, w // 4:3 * w // 4] = True
        return mask


STAND_INS = {"ocr": NoText, "inpaint": KeepPixels, "segment": CentreBox}
for _kind, _cls in STAND_INS.items():
    REGISTRY[_kind][f"bench-{_kind}"] = f"{__name__}:{_cls.__name__}"
