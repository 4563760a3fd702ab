"""Text detection with RapidOCR (PP-OCRv4 det + rec, ONNX Runtime).

The weights ship inside the ``rapidocr-onnxruntime`` wheel, so this engine works offline
with nothing to configure. It reads Chinese and Latin script.

Steps of :meth:`RapidOCRDetector.detect`:

1. find text boxes on a copy whose longer side is at most ``det_side`` px (the detector's
   cost grows with the pixel count; text a few px high at that size is still found);
2. scale the boxes back and cut each one from the *full-size* image, so the recogniser
   reads small print at full resolution;
3. turn upside-down crops (angle classifier, optional) and read them; readings below
   ``min_score`` are dropped.

The three ONNX Runtime sessions are made once at load with ``threads`` intra-op threads (0: the
process's library threads, :mod:`catloc.threads`, else one
per CPU core), worker threads that sleep rather than spin while they wait (spinning burns the
cores other work on a shared machine needs), and a memory arena (the detector's buffers are
reused from run to run, not allocated and paged in again each time). The results do not depend
on these settings.
"""
from __future__ import annotations

import os
import threading

import numpy as np

from catloc.engines.base import EngineLoadError, TextRegion
from catloc.imaging import resize_longest
from catloc.threads import library_threads


class RapidOCRDetector:
    name = "rapidocr"

    def __init__(self, min_score: float = 0.5, box_thresh: float = 0.5, unclip_ratio: float = 1.6,
                 det_side: int = 1024, use_cls: bool = True, threads: int = 0):
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EngineLoadError(f"rapidocr engine: cannot import rapidocr_onnxruntime ({exc})") from None
        if int(det_side) < 64:
            raise EngineLoadError(f"rapidocr engine: det_side must be >= 64, got {det_side}")
        self.min_score = float(min_score)
        self.det_side = int(det_side)
        self.use_cls = bool(use_cls)
        # limit_type "max": the detector keeps images up to 960 px as they are (step 1 sizes them)
        self._ocr = RapidOCR(text_score=self.min_score, det_box_thresh=box_thresh,
                             det_unclip_ratio=unclip_ratio, det_limit_type="max", print_verbose=False)
        if int(threads) < 0:
            raise EngineLoadError(f"rapidocr engine: threads must be >= 0 (0: one per core), got {threads}")
        # 0: the process's library threads (catloc.threads: a Dask worker's CPU resource), else one per core
        _tune_sessions(self._ocr, int(threads) or library_threads() or os.cpu_count() or 1)
        self._lock = threading.Lock()  # ONNX sessions are shared; keep one image at a time

    def detect(self, image: np.ndarray) -> list[TextRegion]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        if self._own_preprocessing(bgr):
            with self._lock:  # small or strip-shaped images: RapidOCR's own pre-processing
                result, _ = self._ocr(bgr, use_cls=self.use_cls)
            return self._regions(result or [])
        return self._read(bgr, self._find(bgr))

    def find(self, image: np.ndarray) -> list[np.ndarray]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        if self._own_preprocessing(bgr):
            with self._lock:
                boxes, _ = self._ocr(bgr, use_cls=False, use_rec=False)
            return [np.asarray(b, np.float32) for b in boxes or []]
        return self._find(bgr)

    def read(self, image: np.ndarray, polygons: list[np.ndarray]) -> list[TextRegion]:
        return self._read(np.ascontiguousarray(image[:, :, ::-1]), polygons)

    def _own_preprocessing(self, bgr: np.ndarray) -> bool:
        h, w = bgr.shape[:2]
        scale = self.det_side / max(h, w)
        return scale >= 1.0 or min(h, w) * scale < 32 or max(h, w) > 8 * min(h, w)

    def _find(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Step 1: boxes found on the reduced copy, in full-size coordinates."""
        h, w = bgr.shape[:2]
        small, scale = resize_longest(bgr, self.det_side)
        with self._lock:
            boxes, _ = self._ocr.text_det(small)
        if boxes is None or len(boxes) == 0:
            return []
        return [np.clip(b.astype(np.float32) / scale, 0, [w - 1, h - 1]).astype(np.float32)
                for b in self._ocr.sorted_boxes(boxes)]

    def _read(self, bgr: np.ndarray, polygons: list[np.ndarray]) -> list[TextRegion]:
        """Steps 2-3: cut each box from the full-size image, turn it upright, read it."""
        if not polygons:
            return []
        boxes = [np.asarray(p, np.float32).reshape(4, 2) for p in polygons]
        with self._lock:
            crops = self._ocr.get_crop_img_list(bgr, boxes)
            if self.use_cls:
                crops, _, _ = self._ocr.text_cls(crops)
            readings, _ = self._ocr.text_rec(crops, False)
        return self._regions([(box, text, score) for box, (text, score, *_) in zip(boxes, readings)])

    def _regions(self, result) -> list[TextRegion]:
        return [TextRegion(np.asarray(box, dtype=np.float32), str(text), float(score))
                for box, text, score in result if float(score) >= self.min_score]


def _tune_sessions(ocr, threads: int) -> None:
    """Replace the detector's, angle classifier's and recogniser's ONNX Runtime sessions of
    ``ocr`` (a ``RapidOCR``) by sessions of the same model files with ``threads`` intra-op threads
    that do not spin while waiting and a CPU memory arena (see the module docstring)."""
    import onnxruntime as ort

    for holder in (ocr.text_det.infer, ocr.text_cls.infer, ocr.text_rec.session):
        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = True
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        path = getattr(holder.session, "_model_path", None)  # the model file rapidocr loaded
        if not path:
            raise EngineLoadError("rapidocr engine: cannot tell which model file an ONNX session was loaded "
                                  "from (onnxruntime changed?); expected the det, cls and rec .onnx files of "
                                  "rapidocr_onnxruntime/models")
        cpu = ("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})  # grow by what a run needs
        holder.session = ort.InferenceSession(path, sess_options=options, providers=[cpu])
