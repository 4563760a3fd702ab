"""Stage 3, analyse: the product mask of the cleaned image (garment/goods and whoever wears them),
and how far it can be trusted for a cut-out.

The segment engine draws the mask; :func:`catloc.mask_confidence.mask_confidence` judges it (0..1,
with reasons: an outline through a smooth region such as a face, fragments, holes, foreground left
out, backdrop kept, photo edges run along). With a ``parse`` engine configured (human parsing,
optional) the person the mask takes part of is added to it whole — for a model photo the product
shot is the model wearing the garment — and the parsing's own checks join the confidence (the person
cut, the garment missing). A photo whose mask cannot be trusted still goes on: localize then makes
only its ``original`` candidate. Only a blank photo fails here.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec
from catloc.engines import load_engine
from catloc.engines.base import HumanParser, Parsing, Segmenter
from catloc.mask_confidence import mask_confidence
from catloc.outputs import Analysis, Cleaned
from catloc.records import SkuError
from catloc.runfolder import SkuFolder

MIN_PRODUCT_SHARE = 0.01   # a product smaller than 1% of the photo is not a product shot
MAX_PRODUCT_SHARE = 0.97   # a "product" covering more leaves no backdrop to cut it from
BLANK_STD = 2.0            # a photo whose pixel values vary less than this (std, 8-bit levels) is blank


def with_person(mask: np.ndarray, parsing: Parsing) -> np.ndarray:
    """``mask`` plus the whole person of ``parsing`` when the mask takes at least 20% of the person
    (a model photo's product shot is the model wearing it); ``mask`` itself otherwise."""
    person = parsing.mask("person")
    if person.shape != mask.shape or not person.any() or (person & mask).sum() < 0.2 * person.sum():
        return mask
    return mask | person


def analyse_product(image: np.ndarray, segmenter: Segmenter,
                    parser: HumanParser | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Product mask (bool H x W) and facts about it: area share, bounding box, edge contact, and the
    mask's confidence with its reasons and measures (the fields of :class:`Analysis`).

    Raises :class:`SkuError` only for a blank photo; a photo in which no product stands out gets an
    empty mask with confidence 0 and the reason.
    """
    if float(image.std()) < BLANK_STD:
        raise SkuError("analyse", "no product found: the photo is blank (one flat colour)")
    mask = segmenter.segment(image)
    parsing = parser.parse(image) if parser is not None else None
    if parsing is not None:
        mask = with_person(mask, parsing)
    share = float(mask.mean())
    confidence = mask_confidence(image, mask, parsing)
    score, reasons = confidence.score, list(confidence.reasons)
    if share < MIN_PRODUCT_SHARE:
        score, reasons = 0.0, [f"no product found: only {share:.1%} of the photo differs from the backdrop "
                                "(is the product the same colour as the background?)"]
        mask = np.zeros_like(mask)
    elif share > MAX_PRODUCT_SHARE:
        score, reasons = 0.0, ["no backdrop found: the product fills the whole photo, it cannot be cut out"]
    facts = {"product_share": round(float(mask.mean()), 4), "bbox": [], "touches_edges": [],
             "mask_confidence": round(float(score), 3), "mask_reasons": reasons,
             "mask_measures": confidence.measures}
    if mask.any():
        ys, xs = np.nonzero(mask)
        h, w = mask.shape
        facts["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
        facts["touches_edges"] = [name for name, hit in (("top", ys.min() == 0), ("bottom", ys.max() == h - 1),
                                                         ("left", xs.min() == 0), ("right", xs.max() == w - 1)) if hit]
    return mask, facts


def analyse_cleaned(cleaned: Cleaned, folder: SkuFolder, engines: dict[str, EngineSpec],
                    force: bool = False) -> Analysis:
    """Segment the cleaned image (and parse it, with a ``parse`` engine); store ``product_mask.png``."""
    def run() -> Analysis:
        parser = load_engine("parse", engines["parse"]) if "parse" in engines else None
        mask, facts = analyse_product(storage.load_rgb(cleaned.image), load_engine("segment", engines["segment"]),
                                      parser)
        mask_uri = storage.save_image(folder.file("product_mask.png"), mask.astype(np.uint8) * 255)
        return Analysis(product_mask=mask_uri, **facts)

    key = stage_key("analyse", [cleaned.image], {"segment": engines["segment"], "parse": engines.get("parse")})
    return reuse_or_run(folder.manifest("analyse"), key, run, Analysis.from_dict, force)
