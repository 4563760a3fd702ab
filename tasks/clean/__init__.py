"""Stage 2, clean: remove overlaid supplier text and QR codes, keep the product's own text.

The steps are in :mod:`tasks.clean.overlays`; this module stores what they produce.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec
from catloc.engines import load_engine
from tasks.clean.overlays import (CleanResult, clean_options, detect_codes, find_plate, looks_like_code,
                                  polygon_mask, qr_plate_mask, remove_overlay_text, stroke_mask,
                                  tiled_watermarks)

__all__ = ["CleanResult", "clean_options", "clean_task", "detect_codes", "find_plate", "looks_like_code",
           "polygon_mask", "qr_plate_mask", "remove_overlay_text", "stroke_mask", "tiled_watermarks"]


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(source_uri: str, sku_dir: str, engines: dict[str, EngineSpec], clean_cfg: dict[str, Any],
               policy: str, force: bool = False) -> dict[str, Any]:
    """Clean one source image; store ``cleaned.png``, ``removed_mask.png`` and ``clean.json``."""
    config = {"engines": {k: engines[k] for k in ("ocr", "inpaint", "segment")}, "clean": clean_cfg, "policy": policy}

    def run() -> dict[str, Any]:
        result = remove_overlay_text(
            storage.load_rgb(source_uri),
            load_engine("ocr", engines["ocr"]), load_engine("inpaint", engines["inpaint"]),
            load_engine("segment", engines["segment"]), **{**clean_options(clean_cfg), "policy": policy})
        cleaned_uri = storage.save_image(storage.join(sku_dir, "cleaned.png"), result.cleaned)
        mask_uri = storage.save_image(storage.join(sku_dir, "removed_mask.png"),
                                      result.removed_mask.astype(np.uint8) * 255)
        storage.write_json(storage.join(sku_dir, "clean.json"), result.report)
        return {"cleaned_image": cleaned_uri, "removed_mask": mask_uri, "report": result.report}

    return reuse_or_run(sku_dir, "clean", stage_key("clean", [source_uri], config), run, force)
