"""Stage 5, qc: score every candidate, give it pass/fail with reasons and a rank.

``qc_pass`` means "a reviewer could publish this": every check below passed. Checks, in the order
their reasons are listed:

- ``mask confidence`` (cut-outs only): the analysis' confidence in the product mask is at least
  ``qc.min_mask_confidence``; below it the cut-out is not trusted (localize does not even make it;
  a cut-out that exists anyway fails here). The ``original`` candidate of such a SKU carries the
  reason as a warning (``cut-outs skipped: ...``).
- ``product_fidelity`` (0..1): 1 - mean absolute difference / 255 between the candidate and
  the cleaned source inside the product mask (eroded by 1 px; the whole photo for an ``original``
  without a mask), at the placement the generator reports. 1.0 means the product's pixels are
  exactly the source's.
- ``product text lost``: every text the OCR engine reads confidently (score >= ``qc.legible_score``)
  on the cleaned source inside the product must still read (a similar string, ``qc.text_similarity``)
  in the same place on the candidate (moved by the candidate's offset and scale).
- ``residual_text``: text regions the OCR engine still finds *outside* the product. For an
  ``original`` whose mask is not trusted, "the product" is the mask plus everything in the photo
  that is not backdrop (``product_zone``): text on a garment the mask missed is product text.
- ``residue``: leftovers outside the product (the same zone): QR-code finder patterns; and on the
  ``original`` of a SKU whose mask is trusted (the only candidate showing the source's backdrop, and
  only where the product is known), on a plain backdrop, strong isolated blobs (a plate, a sticker,
  an inpainting smudge) that stand out from the smoothed backdrop; a backdrop too busy to tell is not
  checked (and says so).
- ``product repainted``: the clean stage inpainted part of the product (the same zone, in the
  source), so every candidate carries those repainted pixels. Above ``qc.warn_repainted`` (2%) it
  is a warning for the reviewer to look at (overlays crossing a garment are removed this way); above
  ``qc.max_repainted`` (15%) too much of the product is the inpainter's — a print or a brand name
  erased, stripes smeared — and every candidate fails. ``product hidden under an overlay``: the widest
  solid patch of the product the clean stage repainted (the diameter of the largest disc inside it)
  above ``qc.max_hidden_patch`` (5%) of the product's longer side fails every candidate: a QR card or
  a sticker lay on the product there, and what it hid is the inpainter's guess (a smear on a sleeve,
  a blank where a pocket was). Removed strings are thin and stay far below it.
- ``inpainted patch flatter than its surroundings``: a removed region filled smooth where what surrounds
  it is textured (wood, brick, concrete, a knit): a smear (:func:`smooth_patches`, ``qc.min_texture``,
  ``qc.max_smooth_ratio``); on the product it fails every candidate, outside it the original.
- generative candidates (``scene_swap``, ``model_swap``, ``mannequin_to_model``) are measured in the
  pixels they kept (``Candidate.kept_mask``: the product for a scene swap, the garment for a model
  swap) rather than the product mask; ``seam colour shift``: the engine's ``seam_colour_shift``
  (Delta E*ab in the band just outside the kept pixels, between the model's image and the photo) above
  ``qc.max_seam_shift`` fails (a halo of the old surroundings); ``modesty``: where the market's
  ``modesty`` says arms, legs (or, for a persona with a hijab or a female one under ``hijab:
  required``, hair) are covered, the ``parse`` engine parses the candidate and a part showing on more
  than ``qc.max_bare_share`` of the person (hair: ``qc.max_hair_share``) fails (:mod:`catloc.tasks.modesty`); without a parse
  engine a warning says modesty was not checked.
- artefacts: product cut by the frame, product touching the source photo's edge (the supplier
  cropped it; a warning), canvas below the marketplace minimum size.
- ``duplicate of cXX``: a candidate nearly identical to a better-ranked one of the same SKU (mean
  absolute difference of 48 x 48 thumbnails below ``qc.duplicate_diff`` levels) fails; the best of
  them keeps its verdict.

Rank: passing first, then least residual text, highest fidelity, cut-outs before the original,
recipe order.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from catloc import storage
from catloc.backdrop import foreground
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec, MarketProfile
from catloc.engines import load_engine, load_optional
from catloc.engines.base import GENERATIVE_KINDS, HumanParser, TextDetector, TextRegion
from catloc.imaging import (components_touching, dilate, erode, finder_patterns, place, polygon_mask, resize_longest,
                            resize_mask, share_inside)
from catloc.outputs import Analysis, Candidate, Cleaned, ScoredCandidate, list_of
from catloc.runfolder import SkuFolder
from catloc.tasks.modesty import modesty_findings, modesty_rules

DEFAULTS = {"min_product_fidelity": 0.995, "max_residual_text": 0, "ocr_side": 768, "min_output_side": 512,
            "min_mask_confidence": 0.8, "legible_score": 0.8, "text_similarity": 0.6, "duplicate_diff": 1.5,
            "residue_side": 512, "warn_repainted": 0.02, "max_repainted": 0.15, "max_seam_shift": 12.0, "max_bare_share": 0.03,
            "max_hair_share": 0.01, "max_hidden_patch": 0.05, "min_texture": 1.5, "max_smooth_ratio": 0.5}


def qc_option(qc_cfg: dict[str, Any], name: str) -> Any:
    """``qc_cfg[name]`` or its default (:data:`DEFAULTS`), as the default's type."""
    return type(DEFAULTS[name])(qc_cfg.get(name, DEFAULTS[name]))


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
    """Text the OCR engine finds in the candidate outside the product: boxes less than a quarter on
    it (a box mostly on the product is product text, or OCR seeing a glyph in the product's shape);
    all text if ``count_product_text``."""
    small, _ = resize_longest(candidate, ocr_side)
    small_mask = resize_mask(placed_mask, small.shape[:2])
    return [region.text for region in ocr.detect(small)
            if count_product_text or share_inside(polygon_mask(small_mask.shape, region.polygon), small_mask) < 0.25]


def _normalised(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def text_similarity(a: str, b: str) -> float:
    """0..1: how alike two readings are, case, spaces and punctuation aside (difflib's ratio)."""
    return difflib.SequenceMatcher(None, _normalised(a), _normalised(b)).ratio()


def product_texts(cleaned: np.ndarray, mask: np.ndarray, ocr: TextDetector, min_score: float) -> list[TextRegion]:
    """The texts the OCR engine reads on the cleaned source with at least ``min_score``, at least half
    inside the product ``mask``, with two or more letters or digits: what must stay legible."""
    if not mask.any():
        return []
    return [r for r in ocr.detect(cleaned) if r.score >= min_score and len(_normalised(r.text)) >= 2
            and share_inside(polygon_mask(mask.shape, r.polygon), mask) >= 0.5]


def texts_lost(candidate: np.ndarray, texts: list[TextRegion], offset: tuple[float, float], scale: float,
               ocr: TextDetector, min_similarity: float) -> list[str]:
    """The ``texts`` (read on the source) that no longer read alike on ``candidate`` in their place
    (source polygon x ``scale`` + ``offset``); ``'TEXT' (read 'T3XT')`` for each, or ``(unread)``."""
    h, w = candidate.shape[:2]
    lost = []
    for region in texts:
        polygon = region.polygon * scale + np.asarray(offset, np.float32)
        if polygon[:, 0].min() < 0 or polygon[:, 1].min() < 0 or polygon[:, 0].max() > w or polygon[:, 1].max() > h:
            continue  # outside the frame: "product cut by the frame" says it
        readings = ocr.read(candidate, [polygon])
        best = max((text_similarity(region.text, r.text) for r in readings), default=0.0)
        if best < min_similarity:
            seen = readings[0].text if readings else "(unread)"
            lost.append(f"{region.text!r} (read {seen!r})" if readings else f"{region.text!r} {seen}")
    return lost


def residue_outside(candidate: np.ndarray, placed_mask: np.ndarray, side: int,
                    blobs: bool = True) -> tuple[list[str], bool]:
    """Leftovers outside the product (``placed_mask`` grown by 2% of the side) and whether the
    backdrop was plain enough to look for blobs: QR finder patterns anywhere there; with ``blobs``,
    blobs (Lab distance > 30 from the backdrop median-smoothed over 1/12 of the side) of 0.02-3% of
    the frame, not touching the frame's edge, when under 5% of the outside differs from the smoothed
    backdrop by more than 15."""
    small, _ = resize_longest(candidate, side)
    product = dilate(resize_mask(placed_mask, small.shape[:2]), max(2, int(0.02 * max(small.shape[:2]))))
    outside = ~product
    found = []
    for x, y, w, h in finder_patterns(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)):
        if not product[y:y + h, x:x + w].any():
            found.append(f"QR pattern at ({x / small.shape[1]:.0%}, {y / small.shape[0]:.0%})")
    if not blobs:
        return found, True
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    k = max(5, (max(small.shape[:2]) // 12) | 1)
    smooth = cv2.cvtColor(cv2.medianBlur(small, k), cv2.COLOR_RGB2LAB).astype(np.float32)
    residual = np.linalg.norm(lab - smooth, axis=-1)
    if outside.sum() == 0 or (residual[outside] > 15).mean() > 0.05:
        return found, False
    blobs = cv2.morphologyEx(((residual > 30) & outside).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _, stats, centroids = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    hs, ws = small.shape[:2]
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if 0.0002 * hs * ws <= area <= 0.03 * hs * ws and x > 0 and y > 0 and x + w < ws and y + h < hs:
            found.append(f"blob at ({centroids[i][0] / ws:.0%}, {centroids[i][1] / hs:.0%})")
    return found, True


def product_zone(cleaned: np.ndarray, mask: np.ndarray, analysis: Analysis, qc_cfg: dict[str, Any]) -> np.ndarray:
    """Where the product may be in the cleaned source, for the checks *outside* it (residual text,
    residue) on candidates that keep the source's backdrop (the original): the mask when it is
    trusted, else the mask plus the regions of what is not backdrop (:func:`catloc.backdrop.foreground`)
    that reach within 2% of the photo's side of it: text on a garment the mask missed is product
    text, while a watermark in a corner stays residue."""
    if analysis.mask_trusted(qc_option(qc_cfg, "min_mask_confidence")):
        return mask
    fore = foreground(cleaned)
    if not mask.any():
        return fore
    return mask | components_touching(fore, dilate(mask, max(2, int(0.02 * max(mask.shape)))))


def repainted_share(removed: np.ndarray, zone: np.ndarray) -> float:
    """Share 0..1 of the product ``zone`` (bool (H, W), source) the clean stage inpainted (``removed``)."""
    return float((removed & zone).sum()) / max(1, int(zone.sum()))


def hidden_patch(removed: np.ndarray, zone: np.ndarray) -> float:
    """The widest solid patch of the product ``zone`` (bool (H, W), source) the clean stage inpainted
    (``removed``): the diameter of the largest disc inside ``removed & zone``, as a share of the zone's
    longer side (0 when nothing of it was inpainted)."""
    inside = removed & zone
    if not inside.any():
        return 0.0
    radius = float(cv2.distanceTransform(inside.view(np.uint8), cv2.DIST_L2, 5).max())
    _, _, width, height = cv2.boundingRect(zone.view(np.uint8))
    return 2 * radius / max(1, width, height)


def smooth_patches(cleaned: np.ndarray, removed: np.ndarray, zone: np.ndarray, qc_cfg: dict[str, Any]
                   ) -> tuple[list[str], list[str]]:
    """Inpainted patches flatter than what surrounds them: on wood, brick, concrete or a knit the fill
    is a smooth smear a reviewer sees. At ``qc.residue_side``, each removed region of at least 0.1%
    of the frame whose detail (mean absolute Laplacian of grey blurred by 1 px, levels) is below
    ``qc.max_smooth_ratio`` x that of the ring around it (outside every removed region), where the ring
    has at least ``qc.min_texture`` of it. Returns the descriptions of those on the product ``zone``
    (most of the patch in it) and of those outside it."""
    small, _ = resize_longest(cleaned, qc_option(qc_cfg, "residue_side"))
    shape = small.shape[:2]
    gone, product = resize_mask(removed, shape), resize_mask(zone, shape)
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    detail = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))  # blurred first: JPEG noise is no texture
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(gone.view(np.uint8), connectivity=8)
    on, off = [], []
    for i in np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= 0.001 * gone.size) + 1:
        patch = labels == i
        inner = erode(patch, 2)
        ring = dilate(patch, max(4, int(np.sqrt(stats[i, cv2.CC_STAT_AREA]) / 3))) & ~dilate(gone, 1)
        on_product = share_inside(patch, product) > 0.5
        ring &= product if on_product else ~product
        if inner.sum() < 20 or ring.sum() < 50 or detail[ring].mean() < qc_option(qc_cfg, "min_texture"):
            continue
        if detail[inner].mean() < qc_option(qc_cfg, "max_smooth_ratio") * detail[ring].mean():
            where = f"({centroids[i][0] / shape[1]:.0%}, {centroids[i][1] / shape[0]:.0%})"
            (on if on_product else off).append(where)
    return on, off


@dataclass(frozen=True)
class Repaint:
    """What the clean stage inpainted, as every candidate of the SKU carries it."""

    share: float = 0.0                        # of the product zone (:func:`repainted_share`)
    hidden: float = 0.0                       # the widest solid patch on the mask (:func:`hidden_patch`)
    smooth_on_product: tuple[str, ...] = ()   # smeared patches (:func:`smooth_patches`): where
    smooth_outside: tuple[str, ...] = ()

    @classmethod
    def measure(cls, cleaned: np.ndarray, removed: np.ndarray, zone: np.ndarray, mask: np.ndarray,
                qc_cfg: dict[str, Any]) -> "Repaint":
        """The facts for the cleaned source: share and smears in the product ``zone``
        (:func:`product_zone`), the hidden patch in the product ``mask`` itself (an untrusted mask's zone
        takes in a busy table, and a QR card on the table is on no product)."""
        on, off = smooth_patches(cleaned, removed, zone, qc_cfg)
        return cls(repainted_share(removed, zone), hidden_patch(removed, mask), tuple(on), tuple(off))


def repaint_findings(repaint: Repaint, original: bool, qc_cfg: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Reasons and warnings for what the clean stage inpainted (:class:`Repaint`); the smears outside
    the product concern only the ``original`` (the one candidate showing the source's backdrop)."""
    reasons, warnings = [], []
    repainted, hidden = repaint.share, repaint.hidden
    smears = list(repaint.smooth_on_product) + (list(repaint.smooth_outside) if original else [])
    if smears:
        reasons.append(f"inpainted patch flatter than its surroundings at {', '.join(smears)}: a smear")
    if repainted > qc_option(qc_cfg, "warn_repainted"):
        repaint = f"product repainted by the clean stage: {repainted:.1%} of it (a print, a name or a pattern erased?)"
        (reasons if repainted > qc_option(qc_cfg, "max_repainted") else warnings).append(repaint)
    if hidden > qc_option(qc_cfg, "max_hidden_patch"):
        reasons.append(f"product hidden under an overlay: a solid patch {hidden:.0%} of its size was inpainted "
                       "by the clean stage (a QR card or sticker lay on it)")
    return reasons, warnings


def score_candidate(image: np.ndarray, candidate: Candidate, cleaned: np.ndarray, mask: np.ndarray,
                    analysis: Analysis, ocr: TextDetector, qc_cfg: dict[str, Any], policy: str,
                    texts: list[TextRegion] | None = None, zone: np.ndarray | None = None,
                    repaint: Repaint = Repaint()) -> ScoredCandidate:
    """QC of one candidate ``image``: the checks of the module docstring, with reasons. ``texts``: the
    product texts of the cleaned source (:func:`product_texts`), if known; ``zone``: where the product
    may be for an original (:func:`product_zone`; computed when not given); ``repaint``: what the clean
    stage inpainted (:class:`Repaint`)."""
    offset, scale = tuple(candidate.offset), float(candidate.scale)
    original = candidate.kind == "original"
    size = (image.shape[1], image.shape[0])
    region = mask if mask.any() or not original else np.ones(mask.shape, bool)
    placed = place(region.astype(np.uint8), offset, scale, size, nearest=True) > 0
    fidelity, inside = product_fidelity(image, cleaned, region, placed, offset, scale)
    if original:
        zone = product_zone(cleaned, mask, analysis, qc_cfg) if zone is None else zone
        placed = place(zone.astype(np.uint8), offset, scale, size, nearest=True) > 0
    residual = residual_text(image, placed, ocr, qc_option(qc_cfg, "ocr_side"),
                             count_product_text=policy == "remove_all")
    lost = texts_lost(image, texts or [], offset, scale, ocr, qc_option(qc_cfg, "text_similarity"))
    min_conf = qc_option(qc_cfg, "min_mask_confidence")
    trusted = analysis.mask_trusted(min_conf)
    residue, plain = residue_outside(image, placed, qc_option(qc_cfg, "residue_side"), blobs=original and trusted)
    reasons, warnings = [], []
    if not original and analysis.mask_confidence < min_conf:
        reasons.append(f"mask confidence {analysis.mask_confidence:.2f} < {min_conf:.2f}: "
                       + ("; ".join(analysis.mask_reasons) or "no reason given"))
    if original and not trusted:
        warnings.append(analysis.cutouts_skipped(min_conf))
    min_fid = qc_option(qc_cfg, "min_product_fidelity")
    if fidelity < min_fid:
        reasons.append(f"product changed: fidelity {fidelity:.4f} < {min_fid}")
    repaint_reasons, repaint_warnings = repaint_findings(repaint, original, qc_cfg)
    reasons, warnings = reasons + repaint_reasons, warnings + repaint_warnings
    if lost:
        reasons.append(f"product text lost: {', '.join(lost[:3])}")
    if len(residual) > qc_option(qc_cfg, "max_residual_text"):
        reasons.append(f"residual text outside the product: {len(residual)} ({', '.join(repr(t) for t in residual[:3])})")
    if residue:
        reasons.append(f"residue outside the product: {', '.join(residue[:3])}")
    if inside < 0.999:
        reasons.append(f"product cut by the frame: {inside:.1%} inside")
    seam = candidate.meta.get("seam_colour_shift")
    if isinstance(seam, (int, float)) and seam > qc_option(qc_cfg, "max_seam_shift"):
        reasons.append(f"seam colour shift {seam:.1f} > {qc_option(qc_cfg, 'max_seam_shift')} (Delta E: a halo "
                       "round the product)")
    min_side = qc_option(qc_cfg, "min_output_side")
    if min(image.shape[:2]) < min_side:
        reasons.append(f"low resolution: {image.shape[1]}x{image.shape[0]} < {min_side} px")
    if analysis.touches_edges:
        warnings.append(f"product touches the source photo edge ({', '.join(analysis.touches_edges)}): "
                        "it may be cropped")
    if not plain:
        warnings.append("backdrop too busy to look for residue blobs")
    return ScoredCandidate(**candidate.to_dict(), product_fidelity=round(fidelity, 5), residual_text=len(residual),
                           residual_strings=residual, qc_pass=not reasons, qc_reasons="; ".join(reasons + warnings),
                           text_lost=lost, residue=residue)


def rank_candidates(scored: list[ScoredCandidate]) -> list[ScoredCandidate]:
    """The same candidates with ``rank`` set, 1 = best: passing first, then least residual text,
    highest fidelity, cut-outs before the original, recipe order."""
    order = sorted(range(len(scored)), key=lambda i: (not scored[i].qc_pass, scored[i].residual_text,
                                                      -scored[i].product_fidelity, scored[i].kind == "original", i))
    ranks = {i: rank for rank, i in enumerate(order, start=1)}
    return [replace(c, rank=ranks[i]) for i, c in enumerate(scored)]


def thumbnail(image: np.ndarray, side: int = 48) -> np.ndarray:
    """``image`` (RGB uint8) squeezed to ``side`` x ``side`` px (area interpolation): float32 (side, side, 3)."""
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)


def flag_duplicates(scored: list[ScoredCandidate], thumbs: list[np.ndarray], max_diff: float) -> list[ScoredCandidate]:
    """``scored`` (ranked) with every candidate whose thumbnail (:func:`thumbnail`) is within ``max_diff``
    (mean absolute difference, levels) of a better-ranked candidate's failed as its duplicate."""
    out = list(scored)
    order = sorted(range(len(out)), key=lambda i: out[i].rank)
    for pos, i in enumerate(order):
        for j in order[:pos]:
            if out[j].duplicate_of or float(np.abs(thumbs[i] - thumbs[j]).mean()) >= max_diff:
                continue
            reason = f"duplicate of {out[j].candidate_id}"
            out[i] = replace(out[i], qc_pass=False, duplicate_of=out[j].candidate_id,
                             qc_reasons="; ".join(x for x in (reason, out[i].qc_reasons) if x))
            break
    return out


def with_reasons(scored: ScoredCandidate, fails: list[str], warnings: list[str]) -> ScoredCandidate:
    """``scored`` with more reasons: ``fails`` fail it, ``warnings`` are only listed."""
    reasons = "; ".join(x for x in (*fails, scored.qc_reasons, *warnings) if x)
    return replace(scored, qc_pass=scored.qc_pass and not fails, qc_reasons=reasons)


def check_modesty(scored: ScoredCandidate, image: np.ndarray, parser: HumanParser | None,
                  market: MarketProfile | None, qc_cfg: dict[str, Any]) -> ScoredCandidate:
    """The modesty check (:mod:`catloc.tasks.modesty`) of a generative candidate whose market says
    parts are covered: a failing reason per bare part; without a parse engine, a warning that it
    was not checked."""
    if scored.kind not in GENERATIVE_KINDS or market is None:
        return scored
    persona = next((p for p in market.personas if p.get("id") == scored.persona), None) if scored.persona else None
    rules = modesty_rules(market.modesty, persona)
    if not rules:
        return scored
    if parser is None:
        return with_reasons(scored, [], ["modesty not checked: no parse engine (engines.parse)"])
    found = modesty_findings(parser.parse(image), rules, qc_option(qc_cfg, "max_bare_share"),
                             qc_option(qc_cfg, "max_hair_share"))
    return with_reasons(scored, found, [])


def score_candidates(candidates: list[Candidate], cleaned: Cleaned, analysis: Analysis, folder: SkuFolder,
                     engines: dict[str, EngineSpec], qc_cfg: dict[str, Any], policy: str,
                     force: bool = False, market: MarketProfile | None = None) -> list[ScoredCandidate]:
    """Score, de-duplicate and rank the stored candidates of one SKU. A candidate with a kept mask
    (generative kinds) is measured in it rather than in the product mask; with ``market``, generative
    candidates get the modesty check."""
    def run() -> list[ScoredCandidate]:
        ocr, parser = load_engine("ocr", engines["ocr"]), load_optional("parse", engines)
        source, mask = storage.load_rgb(cleaned.image), storage.load_mask(analysis.product_mask)
        texts = product_texts(source, mask, ocr, qc_option(qc_cfg, "legible_score"))
        zone = product_zone(source, mask, analysis, qc_cfg)
        repaint = Repaint.measure(source, storage.load_mask(cleaned.removed_mask), zone, mask, qc_cfg)
        images = [storage.load_rgb(c.image) for c in candidates]
        kept = [storage.load_mask(c.kept_mask) if c.kept_mask else mask for c in candidates]
        scored = [score_candidate(image, c, source, region, analysis, ocr, qc_cfg, policy, texts, zone, repaint)
                  for image, c, region in zip(images, candidates, kept)]
        scored = rank_candidates([check_modesty(s, image, parser, market, qc_cfg) for s, image in zip(scored, images)])
        scored = flag_duplicates(scored, [thumbnail(image) for image in images], qc_option(qc_cfg, "duplicate_diff"))
        return rank_candidates(scored)

    inputs = [cleaned.image, cleaned.removed_mask, analysis.product_mask] + [c.image for c in candidates] + \
        [c.kept_mask for c in candidates if c.kept_mask]
    modesty = {"parse": engines.get("parse"), "modesty": market.modesty, "personas": market.personas} \
        if market is not None and any(c.kind in GENERATIVE_KINDS for c in candidates) else {}
    key = stage_key("qc", inputs, {"candidates": candidates, "analysis": analysis, "ocr": engines["ocr"],
                                   "qc": qc_cfg, "policy": policy, **modesty})
    return reuse_or_run(folder.manifest("qc"), key, run, list_of(ScoredCandidate), force)
