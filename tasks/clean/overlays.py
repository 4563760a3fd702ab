"""Temporary: the clean stage's old import path, kept until ``tasks/clean/__init__.py``, the flows,
the CLI and ``bench/clean.py`` use the new modules. Remove it then.

The logic moved to :mod:`tasks.clean.pipeline` (``remove_overlay_text``, ``CleanResult``),
:mod:`tasks.clean.options` (``CleanOptions``), :mod:`tasks.clean.codes`,
:mod:`tasks.clean.plates`, :mod:`tasks.clean.decisions` and :mod:`catloc.imaging` (``polygon_mask``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from catloc.engines.base import BaseInpainter, Segmenter, TextDetector
from catloc.imaging import polygon_mask
from tasks.clean.codes import detect_codes, looks_like_code, qr_plate_mask
from tasks.clean.decisions import tiled_watermarks
from tasks.clean.options import CleanOptions
from tasks.clean import pipeline
from tasks.clean.pipeline import CleanResult
from tasks.clean.plates import find_plate, stroke_mask

__all__ = ["CleanResult", "clean_options", "detect_codes", "find_plate", "looks_like_code", "polygon_mask",
           "qr_plate_mask", "remove_overlay_text", "stroke_mask", "tiled_watermarks"]


def clean_options(clean_cfg: dict[str, Any]) -> dict[str, Any]:
    """Old API: the ``clean:`` section as keyword arguments of the old ``remove_overlay_text``,
    checked and typed by :meth:`CleanOptions.from_config` (the policy comes from the market)."""
    options = CleanOptions.from_config(clean_cfg, "keep_product_text")
    return {name: getattr(options, name) for name in clean_cfg}


def remove_overlay_text(image: np.ndarray, ocr: TextDetector, inpainter: BaseInpainter, segmenter: Segmenter,
                        **options: Any) -> CleanResult:
    """Old API: :func:`tasks.clean.pipeline.remove_overlay_text` with the options as keywords."""
    return pipeline.remove_overlay_text(image, ocr, inpainter, segmenter,
                                        dataclasses.replace(CleanOptions(), **options))
