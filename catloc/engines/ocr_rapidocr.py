"""Text detection with RapidOCR (PP-OCRv4 det + rec, ONNX Runtime).

The weights ship inside the ``rapidocr-onnxruntime`` wheel, so this engine works offline
with nothing to configure. It reads Chinese and Latin script.
"""
from __future__ import annotations

import threading

import numpy as np

from catloc.engines.base import EngineLoadError, TextRegion


class RapidOCRDetector:
    name = "rapidocr"

    def __init__(self, min_score: float = 0.5, box_thresh: float = 0.5, unclip_ratio: float = 1.6,
                 det_limit_side_len: int = 736, det_limit_type: str = "min"):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EngineLoadError(f"rapidocr engine: cannot import rapidocr_onnxruntime ({exc})") from None
        self.min_score = float(min_score)
        self._ocr = RapidOCR(text_score=self.min_score, det_box_thresh=box_thresh,
                             det_unclip_ratio=unclip_ratio, det_limit_side_len=int(det_limit_side_len),
                             det_limit_type=det_limit_type, print_verbose=False)
        self._lock = threading.Lock()  # ONNX sessions are shared; keep one image at a time

    def detect(self, image: np.ndarray) -> list[TextRegion]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        with self._lock:
            result, _ = self._ocr(bgr)
        regions = []
        for box, text, score in result or []:
            if float(score) >= self.min_score:
                regions.append(TextRegion(np.asarray(box, dtype=np.float32), str(text), float(score)))
        return regions
