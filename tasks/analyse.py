"""Stage 3, analyse: the product mask of the cleaned image (garment/goods and whoever wears them)."""
from __future__ import annotations

from typing import Any

import numpy as np

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec
from catloc.engines import load_engine
from catloc.engines.base import Segmenter
from catloc.outputs import Analysis, Cleaned
from catloc.records import SkuError
from catloc.runfolder import SkuFolder

MIN_PRODUCT_SHARE = 0.01   # a product smaller than 1% of the photo is not a product shot


def analyse_product(image: np.ndarray, segmenter: Segmenter) -> tuple[np.ndarray, dict[str, Any]]:
    """Product mask (bool H x W) and facts about it: area share, bounding box, edge contact.

    Raises :class:`SkuError` when no product can be told apart from the backdrop.
    """
    mask = segmenter.segment(image)
    share = float(mask.mean())
    if share < MIN_PRODUCT_SHARE:
        raise SkuError("analyse", f"no product found: only {share:.1%} of the photo differs from the backdrop "
                                  "(is the product the same colour as the background?)")
    if share > 0.97:
        raise SkuError("analyse", "no backdrop found: the product fills the whole photo, it cannot be cut out")
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    edges = [name for name, hit in (("top", ys.min() == 0), ("bottom", ys.max() == h - 1),
                                    ("left", xs.min() == 0), ("right", xs.max() == w - 1)) if hit]
    facts = {"product_share": round(share, 4),
             "bbox": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1],
             "touches_edges": edges}
    return mask, facts


def analyse_cleaned(cleaned: Cleaned, folder: SkuFolder, engines: dict[str, EngineSpec],
                    force: bool = False) -> Analysis:
    """Segment the cleaned image; store ``product_mask.png``."""
    def run() -> Analysis:
        mask, facts = analyse_product(storage.load_rgb(cleaned.image), load_engine("segment", engines["segment"]))
        mask_uri = storage.save_image(folder.file("product_mask.png"), mask.astype(np.uint8) * 255)
        return Analysis(product_mask=mask_uri, **facts)

    key = stage_key("analyse", [cleaned.image], {"segment": engines["segment"]})
    return reuse_or_run(folder.manifest("analyse"), key, run, Analysis.from_dict, force)
