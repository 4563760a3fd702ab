"""Engine registry: each kind has named back-ends, one small module each.

``load_engine(kind, spec)`` builds the engine named in ``configs/pipeline.yaml`` once per
process and returns the same object on every later call (never one per image). Kinds in
:data:`catloc.config.OPTIONAL_ENGINES` (``parse``) may be left out of the config (or named
``none``): :func:`load_optional` then returns ``None`` and callers go without.
"""
from __future__ import annotations

import importlib
import json
import threading
from typing import Any

from catloc.config import EngineSpec
from catloc.engines.base import EngineLoadError
from catloc.threads import apply_library_threads

# kind -> name -> "module:Class". The class takes the config options as keyword arguments.
REGISTRY: dict[str, dict[str, str]] = {
    "ocr": {
        "rapidocr": "catloc.engines.ocr_rapidocr:RapidOCRDetector",
        "easyocr": "catloc.engines.ocr_easyocr:EasyOCRDetector",
    },
    "inpaint": {
        "opencv": "catloc.engines.inpaint_opencv:OpenCVInpainter",
        "diffusers": "catloc.engines.inpaint_diffusers:DiffusersInpainter",
    },
    "segment": {
        "classical": "catloc.engines.segment_classical:ClassicalSegmenter",
        "sam": "catloc.engines.segment_sam:SamSegmenter",
        "salient": "catloc.engines.segment_salient:SalientSegmenter",
    },
    "parse": {
        "segformer": "catloc.engines.parse_segformer:SegformerParser",
    },
    "generate": {
        "studio": "catloc.engines.generate_studio:StudioGenerator",
        "diffusers": "catloc.engines.generate_diffusers:DiffusersGenerator",
        "original": "catloc.engines.generate_original:OriginalGenerator",
    },
    "pose": {
        "openpose": "catloc.engines.pose_openpose:OpenposeBodyEstimator",
    },
}

_cache: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def engine_class(kind: str, name: str) -> type:
    """The class of the engine of ``kind`` called ``name`` (imported, not built: its class
    attributes, e.g. a generator's ``kinds``, without loading any weights)."""
    names = REGISTRY.get(kind)
    if names is None:
        raise EngineLoadError(f"unknown engine kind {kind!r} (known: {', '.join(REGISTRY)})")
    target = names.get(name)
    if target is None:
        raise EngineLoadError(f"unknown {kind} engine {name!r} (available: {', '.join(sorted(names))})")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def load_engine(kind: str, spec: EngineSpec) -> Any:
    """The engine of ``kind`` named by ``spec``, built on first use in this process."""
    cls = engine_class(kind, spec.name)
    key = (kind, spec.name, json.dumps(spec.options, sort_keys=True, default=str))
    with _lock:
        if key not in _cache:
            try:
                _cache[key] = cls(**spec.options)
                apply_library_threads()     # torch may have been imported by this engine
            except EngineLoadError:
                raise
            except TypeError as exc:
                raise EngineLoadError(f"{kind} engine {spec.name!r}: bad options: {exc}") from None
        return _cache[key]


def load_optional(kind: str, engines: dict[str, EngineSpec]) -> Any | None:
    """The engine of an optional ``kind`` (e.g. ``"parse"``) configured in ``engines``, or ``None``
    when the config leaves it out (or names it ``none``)."""
    spec = engines.get(kind)
    return None if spec is None else load_engine(kind, spec)


def load_all(engines: dict[str, EngineSpec]) -> dict[str, Any]:
    """Build every configured engine now, so a missing model fails before the first SKU."""
    return {kind: load_engine(kind, spec) for kind, spec in engines.items()}
