"""Stage 5, qc: score every candidate, give it pass/fail with reasons and a rank.

- ``product_fidelity`` (0..1): 1 - mean absolute difference / 255 between the candidate and
  the cleaned source inside the product mask (eroded by 1 px), at the placement the
  generator reports. 1.0 means the product's pixels are exactly the source's.
- ``residual_text``: text regions the OCR engine still finds *outside* the product.
- artefacts: product cut by the frame, product touching the source photo's edge (the
  supplier cropped it), canvas below the marketplace minimum size.
"""
from __future__ import annotations

from typing import Any

from dataclasses import replace

import numpy as np

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec
from catloc.engines import load_engine
from catloc.engines.base import TextDetector
from catloc.imaging import erode, place, polygon_mask, resize_longest, resize_mask, share_inside
from catloc.outputs import Analysis, Candidate, Cleaned, ScoredCandidate, list_of
from catloc.runfolder import SkuFolder


def product_fidelity(candidate: np.ndarray, cleaned: np.ndarray, mask: np.ndarray, placed: np.ndarray,
                     offset: tuple[float, float], scale: float) -> tuple[float, float]:
    """(fidelity 0..1, share of the product inside the frame) for one candidate; ``placed`` is
    ``mask`` moved to candidate coordinates."""
    size = (candidate.shape[1], candidate.shape[0])
    inside = float(placed.sum()) / max(1.0, float(mask.sum()) * scale * scale)
    core = erode(placed, 1, square=True)
    if not core.any():
        return 0.0, inside
    reference = place(cleaned, offset, scale, size)
    diff = np.abs(candidate[core].astype(np.int16) - reference[core].astype(np.int16))
    return float(1.0 - diff.mean() / 255.0), inside


def residual_text(candidate: np.ndarray, placed_mask: np.ndarray, ocr: TextDetector, ocr_side: int,
                  count_product_text: bool) -> list[str]:
    """Text the OCR engine finds in the candidate outside the product (all text if
    ``count_product_text``)."""
    small, _ = resize_longest(candidate, ocr_side)
    small_mask = resize_mask(placed_mask, small.shape[:2])
    return [region.text for region in ocr.detect(small)
            if count_product_text or share_inside(polygon_mask(small_mask.shape, region.polygon), small_mask) < 0.5]


def score_candidate(image: np.ndarray, candidate: Candidate, cleaned: np.ndarray, mask: np.ndarray,
                    analysis: Analysis, ocr: TextDetector, qc_cfg: dict[str, Any], policy: str) -> ScoredCandidate:
    """QC of one candidate ``image``: fidelity, residual text, frame and size checks, with reasons."""
    offset, scale = tuple(candidate.offset), float(candidate.scale)
    placed = place(mask.astype(np.uint8), offset, scale, (image.shape[1], image.shape[0]), nearest=True) > 0
    fidelity, inside = product_fidelity(image, cleaned, mask, placed, offset, scale)
    texts = residual_text(image, placed, ocr, int(qc_cfg.get("ocr_side", 768)),
                          count_product_text=policy == "remove_all")
    reasons = []
    min_fid = float(qc_cfg.get("min_product_fidelity", 0.995))
    if fidelity < min_fid:
        reasons.append(f"product changed: fidelity {fidelity:.4f} < {min_fid}")
    if len(texts) > int(qc_cfg.get("max_residual_text", 0)):
        shown = ", ".join(repr(t) for t in texts[:3])
        reasons.append(f"residual text outside the product: {len(texts)} ({shown})")
    if inside < 0.999:
        reasons.append(f"product cut by the frame: {inside:.1%} inside")
    min_side = int(qc_cfg.get("min_output_side", 512))
    if min(image.shape[:2]) < min_side:
        reasons.append(f"low resolution: {image.shape[1]}x{image.shape[0]} < {min_side} px")
    warnings = []
    if analysis.touches_edges:
        warnings.append(f"product touches the source photo edge ({', '.join(analysis.touches_edges)}): "
                        "it may be cropped")
    return ScoredCandidate(**candidate.to_dict(), product_fidelity=round(fidelity, 5), residual_text=len(texts),
                           residual_strings=texts, qc_pass=not reasons, qc_reasons="; ".join(reasons + warnings))


def rank_candidates(scored: list[ScoredCandidate]) -> list[ScoredCandidate]:
    """The same candidates with ``rank`` set, 1 = best: passing first, then least residual text,
    highest fidelity, recipe order."""
    order = sorted(range(len(scored)), key=lambda i: (not scored[i].qc_pass, scored[i].residual_text,
                                                      -scored[i].product_fidelity, i))
    ranks = {i: rank for rank, i in enumerate(order, start=1)}
    return [replace(c, rank=ranks[i]) for i, c in enumerate(scored)]


def score_candidates(candidates: list[Candidate], cleaned: Cleaned, analysis: Analysis, folder: SkuFolder,
                     engines: dict[str, EngineSpec], qc_cfg: dict[str, Any], policy: str,
                     force: bool = False) -> list[ScoredCandidate]:
    """Score and rank the stored candidates of one SKU."""
    def run() -> list[ScoredCandidate]:
        ocr = load_engine("ocr", engines["ocr"])
        source, mask = storage.load_rgb(cleaned.image), storage.load_mask(analysis.product_mask)
        return rank_candidates([score_candidate(storage.load_rgb(c.image), c, source, mask, analysis, ocr,
                                                qc_cfg, policy) for c in candidates])

    inputs = [cleaned.image, analysis.product_mask] + [c.image for c in candidates]
    key = stage_key("qc", inputs, {"candidates": candidates, "analysis": analysis, "ocr": engines["ocr"],
                                   "qc": qc_cfg, "policy": policy})
    return reuse_or_run(folder.manifest("qc"), key, run, list_of(ScoredCandidate), force)
