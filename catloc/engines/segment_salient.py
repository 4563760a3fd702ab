"""Product cut-outs with a salient-object / background-removal model (ONNX, onnxruntime).

The models behind rembg and most background-removal tools take one RGB image resized to a
square, normalised per channel, and return one map of how surely each pixel is the main
object. Any ONNX file of that shape works (``model_path``); ``preset`` fills in the input size,
normalisation and output activation of the published ones (the ONNX files rembg distributes):

=====================  ====  ======================  ======================  ==========
preset                 size  mean                    std                     output
=====================  ====  ======================  ======================  ==========
``isnet-general-use``  1024  0.485, 0.456, 0.406     1, 1, 1                 probability
``u2net``              320   0.485, 0.456, 0.406     0.229, 0.224, 0.225     probability
``birefnet``           1024  0.485, 0.456, 0.406     0.229, 0.224, 0.225     logits (sigmoid)
=====================  ====  ======================  ======================  ==========

Pixels are scaled to 0..1 (``/255``), then ``(x - mean) / std``; the image is resized to
``size`` x ``size`` (its aspect is not kept, as the models were trained) and the model's first
output (``(1, 1, s, s)`` or ``(1, s, s)``) is resized back to the image's own size.
Explicit ``size``/``mean``/``std``/``activation`` options override the preset; without a preset
the size is read from the model's input when it is fixed, and mean/std default to ImageNet's.
``stretch: true`` rescales each prediction to span 0..1 as rembg does (off by default: it makes
a photo with nothing salient look certain).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from catloc.engines.base import EngineLoadError
from catloc.threads import library_threads

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ACTIVATIONS = ("none", "sigmoid")
PRESETS: dict[str, dict[str, Any]] = {
    "isnet-general-use": {"size": 1024, "mean": IMAGENET_MEAN, "std": (1.0, 1.0, 1.0), "activation": "none"},
    "u2net": {"size": 320, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "activation": "none"},
    "birefnet": {"size": 1024, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "activation": "sigmoid"},
}
_HOW = ("download a background-removal model as ONNX on a machine with internet access (e.g. rembg's "
        "isnet-general-use.onnx, u2net.onnx or BiRefNet-general-epoch_244.onnx), copy it over and set "
        "engines.segment.options.model_path (and preset)")


def _triple(value: Any, key: str) -> tuple[float, float, float]:
    try:
        triple = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        triple = ()
    if len(triple) != 3 or (key == "std" and min(triple) <= 0):
        raise EngineLoadError(f"salient segment: {key} must be three numbers (R, G, B){' > 0' if key == 'std' else ''}, "
                              f"got {value!r}")
    return triple  # type: ignore[return-value]


def _session(path: str, providers: Sequence[str] | None, threads: int) -> Any:
    """An onnxruntime InferenceSession of ``path`` on ``providers`` (default: CPU)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    providers = list(providers or ["CPUExecutionProvider"])
    missing = [p for p in providers if p not in available]
    if missing:
        raise EngineLoadError(f"salient segment: onnxruntime provider(s) {missing} are not available here "
                              f"(available: {', '.join(available)})")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(path, sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... kinds
        raise EngineLoadError(f"salient segment: cannot load {path} as an ONNX model "
                              f"({type(exc).__name__}: {exc}): {_HOW}") from None


def _input_side(session: Any, path: str, size: int | None) -> int:
    """The square side the model is fed: ``size``, checked against the model's input shape
    (1, 3, S, S) where that is fixed; the model's own S when ``size`` is None."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = [(i.name, i.shape) for i in inputs]
        raise EngineLoadError(f"salient segment: {path} must take one (1, 3, S, S) image input, it takes {shapes}")
    _, channels, height, width = inputs[0].shape
    if isinstance(channels, int) and channels != 3:
        raise EngineLoadError(f"salient segment: {path} takes {channels} channels, expected 3 (RGB)")
    fixed = [d for d in (height, width) if isinstance(d, int)]
    if size is None:
        if len(fixed) != 2 or height != width:
            raise EngineLoadError(f"salient segment: {path} has input shape {inputs[0].shape}: set the "
                                  f"input side with the size option or a preset ({', '.join(PRESETS)})")
        return int(height)
    if any(d != size for d in fixed):
        raise EngineLoadError(f"salient segment: {path} takes {height}x{width} images, but size is {size}")
    return int(size)


class SalientSegmenter:
    """The ``salient`` segment engine. Options: ``model_path`` (ONNX file), ``preset``
    (``isnet-general-use`` | ``u2net`` | ``birefnet``), ``size`` (px, square input side), ``mean``
    and ``std`` (per RGB channel, on 0..1 pixels), ``activation`` (``none`` when the model outputs
    probabilities, ``sigmoid`` when logits), ``threshold`` (0..1: alpha above it is product),
    ``stretch`` (rembg's per-image min-max rescale), ``providers`` (onnxruntime execution
    providers, default CPU), ``threads`` (0 = onnxruntime's default)."""

    name = "salient"

    def __init__(self, model_path: str | None = None, preset: str | None = None, size: int | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 activation: str | None = None, threshold: float = 0.5, stretch: bool = False,
                 providers: Sequence[str] | None = None, threads: int = 0):
        if preset is not None and preset not in PRESETS:
            raise EngineLoadError(f"salient segment: unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        base = PRESETS.get(preset or "", {})
        self.activation = activation or base.get("activation", "none")
        if self.activation not in ACTIVATIONS:
            raise EngineLoadError(f"salient segment: activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        self.threshold = float(threshold)
        if not 0.0 < self.threshold < 1.0:
            raise EngineLoadError(f"salient segment: threshold must be between 0 and 1, got {threshold}")
        self.mean = np.array(_triple(mean or base.get("mean", IMAGENET_MEAN), "mean"), dtype=np.float32)
        self.std = np.array(_triple(std or base.get("std", IMAGENET_STD), "std"), dtype=np.float32)
        self.stretch = bool(stretch)
        if not model_path:
            raise EngineLoadError(f"salient segment: engines.segment.options.model_path is not set: {_HOW}")
        path = os.path.abspath(os.path.expanduser(str(model_path)))
        if not os.path.isfile(path):
            raise EngineLoadError(f"salient segment: model_path {path} does not exist: {_HOW}")
        self.model_path = path
        self._session = _session(path, providers, threads or library_threads())
        self.size = _input_side(self._session, path, int(size) if size else base.get("size"))
        self._input_name = self._session.get_inputs()[0].name

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Bool (H, W) product mask of ``image`` (RGB uint8 (H, W, 3)): ``alpha(image) > threshold``."""
        return self.alpha(image) > self.threshold

    def alpha(self, image: np.ndarray) -> np.ndarray:
        """Float32 (H, W) in 0..1 at ``image``'s own size: the model's belief that each pixel is
        the salient object (the soft cut-out matte)."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"salient segment: image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        down = max(h, w) > self.size
        work = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA if down else cv2.INTER_LINEAR)
        x = (work.astype(np.float32) / 255.0 - self.mean) / self.std
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        out = np.asarray(self._session.run(None, {self._input_name: x})[0], dtype=np.float32)
        if out.ndim not in (3, 4) or out.shape[0] != 1 or (out.ndim == 4 and out.shape[1] != 1):
            raise ValueError(f"salient segment: {self.model_path} returned shape {out.shape}, "
                             f"expected (1, 1, s, s) or (1, s, s)")
        pred = out.reshape(out.shape[-2:])
        if self.activation == "sigmoid":
            pred = 0.5 * (1.0 + np.tanh(0.5 * pred))  # the sigmoid, without overflow
        if self.stretch:
            lo, hi = float(pred.min()), float(pred.max())
            pred = (pred - lo) / (hi - lo) if hi > lo else np.zeros_like(pred)
        pred = np.clip(pred, 0.0, 1.0)
        return cv2.resize(pred, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
