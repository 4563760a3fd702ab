"""Stage 2, clean: remove overlaid supplier text and QR codes, keep the product's own text.

:func:`remove_overlay_text` runs six steps, one function each:

1. *find* (:func:`find_text_and_codes`): text with the OCR engine, QR codes and barcodes with OpenCV's
   detectors (kept only if they look like a code), and the plates (banners, stickers, cards)
   findings sit on;
2. *place on the product* (:func:`place_on_product`): locate the product on a copy with *all*
   findings painted out, then gather the facts about each text finding
   (:class:`~tasks.clean.decisions.Finding`): its share on the product, whether it reaches off
   the product onto the backdrop, is part of a tiled watermark, is promo text, is an unsure reading;
3. *decide* (:func:`~tasks.clean.decisions.decide`) per text finding, from its facts alone:
   keep or remove, and the rule that fired; every code is removed;
4. *mask* (:func:`removal_mask`) what goes at stroke level (or its plate), never over kept
   product text read with confidence; a tiled watermark is no mask but a layer
   (:func:`watermark_layer`) whose blend is inverted (:func:`~tasks.clean.watermark.deblend`);
5. *inpaint* the union of removed regions; pixels outside that mask and the de-blended layer are
   bit-for-bit the source's;
6. *verify* (:func:`verify_cleaned`) around the cleaned regions: leftovers get one retry at stroke
   level (never over the product or kept text), what survives is reported as residual text.

Every decision is returned in the report (``clean.json``), so reviewers can see what was found,
kept and removed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import cv2
import numpy as np

from catloc.engines.base import BaseInpainter, HumanParser, Segmenter, TextDetector, TextRegion
from catloc.imaging import dilate, largest_components, polygon_mask, share_inside
from catloc.threads import run_beside, thread_map
from catloc.tasks.clean.codes import code_mask, detect_codes
from catloc.tasks.clean.decisions import (COMPOSITED, PRINTED, UNMEASURED, Decision, Finding, decide, is_unsure,
                                          tiled_watermarks)
from catloc.tasks.clean.lexicon import compile_promo, is_size_run, languages, promo_on_lines, split_mixed
from catloc.tasks.clean.options import CleanOptions
from catloc.tasks.clean.rendering import RenderingCues, looks_composited, rendering_cues
from catloc.tasks.clean.plates import backdrop_colour, backdrop_reached_from_border, find_plate, stroke_mask
from catloc.tasks.clean.product import segment_painted, surroundings_on_product
from catloc.tasks.clean.verify import leftover_text
from catloc.tasks.clean.watermark import WatermarkLayer, deblend, estimate_watermark, turned


@dataclass
class CleanResult:
    """What :func:`remove_overlay_text` returns."""

    cleaned: np.ndarray                 # uint8 (H, W, 3): the source with the removed regions inpainted
    removed_mask: np.ndarray            # bool (H, W): the pixels that were inpainted
    product_mask: np.ndarray            # bool (H, W): product located on the painted-out copy
    deblended_mask: np.ndarray          # bool (H, W): the pixels a tiled watermark's blend was inverted on
    report: dict[str, Any] = field(default_factory=dict)  # clean.json


@dataclass
class Detections:
    """What step 1 found in a photo of ``shape`` (H, W). Masks are bool (H, W); texts, their masks
    and plates are in OCR order, codes in detection order."""

    shape: tuple[int, int]
    backdrop: np.ndarray                 # float32 (3,): the backdrop's colour
    texts: list[TextRegion]
    text_masks: list[np.ndarray]         # each text's box
    plates: list[np.ndarray | None]      # the plate each text sits on, if any
    codes: list[tuple[str, np.ndarray]]  # (kind, corners (4, 2)) of each code
    code_masks: list[np.ndarray]         # each code with its quiet zone, plate and card

    def everything(self) -> np.ndarray:
        """The union of every finding and plate: what is painted out to locate the product."""
        out = np.zeros(self.shape, bool)
        for mask in self.text_masks + self.code_masks + [p for p in self.plates if p is not None]:
            out |= mask
        return out


class Verification(NamedTuple):
    """What step 6 leaves: the final image and mask, whether a retry ran, what text survived."""

    cleaned: np.ndarray
    removed_mask: np.ndarray
    retried: bool
    residual_text: list[str]


def remove_overlay_text(image: np.ndarray, ocr: TextDetector, inpainter: BaseInpainter, segmenter: Segmenter,
                        options: CleanOptions | None = None, parser: HumanParser | None = None) -> CleanResult:
    """Remove supplier overlays from ``image`` (RGB uint8 (H, W, 3)); see the module docstring.
    ``parser`` (optional) is a human-parsing engine whose garments count as product for the decisions."""
    options = options or CleanOptions()
    detections = find_text_and_codes(image, ocr, options)                                          # 1. find
    product, findings, cues = place_on_product(image, detections, inpainter, segmenter, options, parser)  # 2.
    decisions = [decide(finding, options) for finding in findings]                                 # 3. decide
    layer, regions = run_beside(                                                                   # 4. mask
        lambda: watermark_layer(image, detections, product, findings, decisions, options),
        lambda: removal_regions(image, detections, findings, decisions, options))
    remove, mask_kinds = removal_mask(detections, findings, decisions, regions, options,
                                      None if layer is None else dilate(layer.mask, options.dilate_px + 3))
    tiled = [kind for kind, f in zip(mask_kinds, findings) if f.tiled and kind]
    if layer is not None and tiled.count("de-blended") < 0.5 * len(tiled):  # the layer missed the tiles OCR read
        layer = None
        remove, mask_kinds = removal_mask(detections, findings, decisions, regions, options)
    deblended = image if layer is None else deblend(image, layer)
    cleaned = inpainter.inpaint(deblended, remove)                                                 # 5. inpaint
    kept = kept_text(detections, decisions)
    verified = verify_cleaned(cleaned, remove, product, kept, ocr, inpainter, options)              # 6. verify
    report = clean_report(detections, findings, cues, decisions, mask_kinds, verified, options)
    report["watermark"] = None if layer is None else layer.to_dict()
    return CleanResult(cleaned=verified.cleaned, removed_mask=verified.removed_mask, product_mask=product,
                       deblended_mask=np.zeros(image.shape[:2], bool) if layer is None else layer.mask,
                       report=report)


# ---------------------------------------------------------------- 1. find

def find_text_and_codes(image: np.ndarray, ocr: TextDetector, options: CleanOptions) -> Detections:
    """Step 1: text regions (OCR; a reading run together from promo text and other text is split in
    two, :func:`~tasks.clean.lexicon.split_mixed`), codes (``remove_qr``), and the plate each text sits
    on. Readings that repeat across the photo (watermark tiles, or a repeated print) get no plate."""
    shape = image.shape[:2]
    backdrop = backdrop_colour(image)
    patterns = compile_promo(options.promo_lexicon, options.always_remove)
    regions, codes = run_beside(lambda: ocr.detect(image),  # the code detectors run beside the OCR engine
                                lambda: detect_codes(image) if options.remove_qr else [])
    texts = [TextRegion(polygon, text, region.score) for region in regions
             for text, polygon in split_mixed(region.text, region.polygon, patterns)]
    text_masks = [polygon_mask(shape, t.polygon) for t in texts]
    repeated = tiled_watermarks(texts, [0.0] * len(texts))
    plates = thread_map(lambda i: None if i in repeated else find_plate(image, text_masks[i], backdrop),
                        range(len(texts)))
    code_masks = thread_map(lambda code: code_mask(image, code[1], backdrop), codes)
    return Detections(shape, backdrop, texts, text_masks, plates, codes, code_masks)


# ---------------------------------------------------------------- 2. place on the product

def place_on_product(image: np.ndarray, detections: Detections, inpainter: BaseInpainter, segmenter: Segmenter,
                     options: CleanOptions, parser: HumanParser | None = None
                     ) -> tuple[np.ndarray, list[Finding], list[RenderingCues | None]]:
    """Step 2: the product mask (bool (H, W)), located with every finding and plate painted out
    (grown by ``dilate_px``) so banners and stickers cannot pull it towards them, the facts
    about each text finding, and the rendering cues they were judged by (``None`` where no rule that
    reads them could fire: tiled, promo, or confident text well inside the product).

    An unsure reading may be the product itself (OCR "reading" a print or a shape): its share on
    the product is the larger of its share on that mask and on the product's main body located
    with the reading left in place, and it never takes its plate with it. A confident reading rendered
    like a print that reaches onto the backdrop from less than 15% on the product is looked at again the
    same way (:func:`_prints_cut_off`): painting it out can lose a small product. With a human ``parser``,
    each text's share on the parsed garments and accessories is a fact too.
    """
    product, open_backdrop = run_beside(  # the open backdrop does not depend on the product
        lambda: segment_painted(image, dilate(detections.everything(), options.dilate_px), inpainter, segmenter,
                                options.locate_side),
        lambda: backdrop_reached_from_border(image, detections.backdrop))
    patterns = compile_promo(options.promo_lexicon, options.always_remove)
    texts, masks = detections.texts, detections.text_masks
    insides = [share_inside(m, product) for m in masks]
    crossing, around = crosses_backdrop(detections, product, open_backdrop, options)
    tiled = tiled_watermarks(texts, insides)
    promo = promo_on_lines([t.text for t in texts], [t.polygon for t in texts], patterns)
    unsure = [is_unsure(t.score, bool(promo[i]), i in tiled, options) for i, t in enumerate(texts)]
    if any(u and inside < 1.0 for u, inside in zip(unsure, insides)):  # a share of 1 cannot grow: no second look
        body = _main_body(image, detections, unsure, inpainter, segmenter, options)
        insides = [max(inside, share_inside(m, body)) if unsure[i] else inside for i, (m, inside) in
                   enumerate(zip(masks, insides))]
    stripped = [next((lang for lang in languages(t.text) if lang in options.strip_languages), "") for t in texts]
    needed = [not (i in tiled or promo[i]) and bool(stripped[i] or crossing[i] or unsure[i]
                                                     or insides[i] < options.product_text_inside)
              for i in range(len(texts))]  # the rules that read the rendering can fire
    cues = [rendering_cues(image, m, t.polygon) if need else None for m, t, need in zip(masks, texts, needed)]
    renderings = [UNMEASURED if c is None else rendering_verdict(c, options) for c in cues]
    insides = _prints_cut_off(image, detections, insides, unsure, [crossing[i] and renderings[i] == PRINTED
                              and not (i in tiled or promo[i]) for i in range(len(texts))],
                              inpainter, segmenter, options)
    garment = parser.parse(image).mask("garment", "accessory") if parser is not None and texts else None
    findings = [Finding(text=t.text, score=t.score, inside=insides[i], tiled=i in tiled, promo=promo[i],
                        crosses_backdrop=crossing[i], unsure=unsure[i],
                        has_plate=detections.plates[i] is not None and not unsure[i], stripped=stripped[i],
                        rendering=renderings[i],
                        on_garment=None if garment is None else share_inside(masks[i], garment),
                        around_backdrop=around[i], size_run=is_size_run(t.text))
                for i, t in enumerate(texts)]
    return product, findings, cues


def rendering_verdict(cues: RenderingCues, options: CleanOptions) -> str:
    """``composited`` when every cue says overlay (:func:`~tasks.clean.rendering.looks_composited`),
    ``unmeasured`` when the ink or its edges cannot be measured, else ``printed``."""
    if cues.ink_spread is None or cues.edge_px is None:
        return UNMEASURED
    if looks_composited(cues, options.composited_max_spread, options.composited_max_edge_px,
                        options.composited_max_tilt_deg):
        return COMPOSITED
    return PRINTED


def crosses_backdrop(detections: Detections, product: np.ndarray, open_backdrop: np.ndarray,
                     options: CleanOptions) -> tuple[list[bool], list[float]]:
    """Per text: whether it is laid over the photo, even where the product mask (made with it painted
    out) grew into it -- without a plate: its box is at least ``on_backdrop`` ``open_backdrop`` (bool
    (H, W): backdrop colour connected to the border,
    :func:`~tasks.clean.plates.backdrop_reached_from_border`) between its strokes; with one: less than
    ``edge_on_product`` of the plate's surroundings lie on the product (a print stays on the product)
    -- and the share of its box grown by half its height that is open backdrop."""
    crossing = [share_inside(m, open_backdrop) >= options.on_backdrop if p is None
                else surroundings_on_product(p, product, options.dilate_px) < options.edge_on_product
                for m, p in zip(detections.text_masks, detections.plates)]
    around = [share_inside(dilate(m, max(2, cv2.boundingRect(m.view(np.uint8))[3] // 2)), open_backdrop)
              for m in detections.text_masks]
    return crossing, around


def _prints_cut_off(image: np.ndarray, detections: Detections, insides: list[float], unsure: list[bool],
                    printed_crossing: list[bool], inpainter: BaseInpainter, segmenter: Segmenter,
                    options: CleanOptions) -> list[float]:
    """The texts' shares on the product, where a confident reading rendered like a print that reaches
    onto the backdrop lies less than 15% on the product mask (which was located with it painted out:
    painting a print out of a small product can cut the product away with it): the larger of that
    share and its share on the product mask located with these readings (and their plates) left in place.
    A reading within 5% of the photo's side of an edge is not looked at again: that is where credits and
    watermarks sit (left in, a logo there pulls the classical segmenter's mask onto itself)."""
    h, w = detections.shape
    margin = 0.05 * max(h, w)
    clear = [x >= margin and y >= margin and x + bw <= w - margin and y + bh <= h - margin
             for x, y, bw, bh in (cv2.boundingRect(m.view(np.uint8)) for m in detections.text_masks)]
    second = [p and c and not u and inside < 0.15
              for p, c, u, inside in zip(printed_crossing, clear, unsure, insides)]
    if not any(second):
        return insides
    product = segment_painted(image, _painted_but(detections, second, options), inpainter, segmenter,
                              options.locate_side)
    return [max(inside, share_inside(m, product)) if s else inside
            for m, inside, s in zip(detections.text_masks, insides, second)]


def _main_body(image: np.ndarray, detections: Detections, unsure: list[bool], inpainter: BaseInpainter,
               segmenter: Segmenter, options: CleanOptions) -> np.ndarray:
    """The product's largest part, located with every finding painted out but the unsure readings
    (and their plates)."""
    return largest_components(segment_painted(image, _painted_but(detections, unsure, options), inpainter,
                                              segmenter, options.locate_side))


def _painted_but(detections: Detections, left_in: list[bool], options: CleanOptions) -> np.ndarray:
    """What is painted out (bool (H, W)) to locate the product: every finding and plate grown by
    ``dilate_px``, but the texts flagged in ``left_in`` (and their plates)."""
    keep = np.zeros(detections.shape, bool)
    for mask, plate, leave in zip(detections.text_masks, detections.plates, left_in):
        if leave:
            keep |= mask if plate is None else (mask | plate)
    return dilate(detections.everything() & ~keep, options.dilate_px)


# ---------------------------------------------------------------- 4. mask

def watermark_layer(image: np.ndarray, detections: Detections, product: np.ndarray, findings: list[Finding],
                    decisions: list[Decision], options: CleanOptions) -> WatermarkLayer | None:
    """Step 4, a tiled watermark: its layer (:func:`~tasks.clean.watermark.estimate_watermark`) from the
    removed tiled readings -- without two such, the removed readings turned off the horizontal (OCR may
    read a faint mark once or twice: its lattice must prove it) --, or ``None`` (``deblend_watermarks``
    off, no such readings, or no layer found: then its readings are masked and inpainted like other text)."""
    tiles = [i for i, (f, d) in enumerate(zip(findings, decisions)) if f.tiled and not d.keep]
    if len(tiles) < 2:
        tiles = [i for i, (t, d) in enumerate(zip(detections.texts, decisions)) if not d.keep and turned(t.polygon)]
    if not (options.deblend_watermarks and tiles):
        return None
    others = np.zeros(detections.shape, bool)  # what no estimate of the mark may read
    for i, (mask, plate) in enumerate(zip(detections.text_masks, detections.plates)):
        if i not in tiles:
            others |= mask if plate is None else mask | plate
    for mask in detections.code_masks:
        others |= mask
    return estimate_watermark(image, [detections.texts[i] for i in tiles], product, others)


def removal_regions(image: np.ndarray, detections: Detections, findings: list[Finding], decisions: list[Decision],
                    options: CleanOptions) -> list[tuple[np.ndarray, str] | None]:
    """Step 4, per text: ``None`` if kept, else the pixels its removal covers (bool (H, W)) and their
    kind: its plate grown by ``dilate_px`` (``plate``), or else its strokes grown by half a stroke
    width plus ``dilate_px`` (:func:`~tasks.clean.plates.stroke_mask`: ``strokes``, ``strokes on
    texture``, ``box``). They depend on the photo and the decisions alone, so
    :func:`remove_overlay_text` works them out beside the watermark's layer."""
    return [None if decision.keep else
            (dilate(plate, options.dilate_px), "plate") if finding.has_plate else
            stroke_mask(image, mask, options.dilate_px)
            for finding, decision, mask, plate in zip(findings, decisions, detections.text_masks, detections.plates)]


def removal_mask(detections: Detections, findings: list[Finding], decisions: list[Decision],
                 regions: list[tuple[np.ndarray, str] | None], options: CleanOptions,
                 deblended: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Step 4: the pixels to inpaint (bool (H, W)) and, per text, what its mask covers: the kind of its
    :func:`removal_regions` ``regions``, ``de-blended`` for a tiled watermark's reading whose region lies
    (70% or more) in the ``deblended`` layer (bool (H, W)), which is then not masked, ``""`` if kept.

    Protected text (kept product text read with confidence) is taken out of the union: where a
    watermark crosses a print, better a trace of the watermark than a print with letters wiped out.
    Codes are added last (grown by ``dilate_px``), protected text or not.
    """
    remove, protected = np.zeros(detections.shape, bool), np.zeros(detections.shape, bool)
    kinds = []
    for finding, decision, mask, removal in zip(findings, decisions, detections.text_masks, regions):
        kind = ""
        if removal is not None:
            region, kind = removal
            if finding.tiled and deblended is not None and share_inside(region, deblended) >= 0.7:
                kind = "de-blended"
            else:
                remove |= region
        elif decision.protect:
            protected |= mask
        kinds.append(kind)
    remove &= ~protected
    for mask in detections.code_masks:
        remove |= dilate(mask, options.dilate_px)
    return remove, kinds


# ---------------------------------------------------------------- 6. verify

def kept_text(detections: Detections, decisions: list[Decision]) -> np.ndarray:
    """Bool (H, W): the boxes of the texts step 3 kept."""
    out = np.zeros(detections.shape, bool)
    for mask, decision in zip(detections.text_masks, decisions):
        if decision.keep:
            out |= mask
    return out


def verify_cleaned(cleaned: np.ndarray, remove: np.ndarray, product: np.ndarray, kept: np.ndarray,
                   ocr: TextDetector, inpainter: BaseInpainter, options: CleanOptions) -> Verification:
    """Step 6 (``verify``): text still found around the cleaned regions that should be gone
    (:func:`~tasks.clean.verify.leftover_text`; a box mostly on text step 3 kept is none) gets one
    retry: its strokes on the cleaned photo (:func:`~tasks.clean.plates.stroke_mask`, grown by
    ``2 x dilate_px``), never over the product or kept text; OCR then reads around the retried regions
    once more, and what it still finds is the residual text."""
    if not (options.verify and remove.any()):
        return Verification(cleaned, remove, False, [])
    patterns = compile_promo(options.promo_lexicon, options.always_remove)
    remove_all = options.policy == "remove_all"
    leftovers = leftover_text(cleaned, ocr, product, remove, patterns, remove_all, options.verify_margin,
                              options.verify_side, read_all=False)
    boxes = [polygon_mask(remove.shape, region.polygon) for region in leftovers]
    boxes = [box for box in boxes if share_inside(box, kept) < 0.3]
    if not boxes:
        return Verification(cleaned, remove, False, [])
    found, retry = np.zeros(remove.shape, bool), np.zeros(remove.shape, bool)
    for box in boxes:
        found |= box
        retry |= stroke_mask(cleaned, box, 2 * options.dilate_px)[0]
    retry &= ~product & ~kept
    cleaned = inpainter.inpaint(cleaned, retry)
    residual = leftover_text(cleaned, ocr, product, found | retry, patterns, remove_all, options.verify_margin,
                             options.verify_side)
    return Verification(cleaned, remove | retry, True, [r.text for r in residual])


# ---------------------------------------------------------------- the report

def clean_report(detections: Detections, findings: list[Finding], cues: list[RenderingCues | None],
                 decisions: list[Decision], mask_kinds: list[str], verified: Verification,
                 options: CleanOptions) -> dict[str, Any]:
    """``clean.json``: every text with its decision, reason, mask kind and the facts it rests on
    (rendering cues included), the codes, and totals."""
    texts = [{**region.to_dict(), "inside_product": round(finding.inside, 3),
              "decision": "kept" if decision.keep else "removed", "why": decision.reason, "mask": kind,
              "languages": list(languages(region.text)), "promo": finding.promo, "rendering": finding.rendering,
              "crosses_backdrop": finding.crosses_backdrop, "size_run": finding.size_run,
              **({} if cue is None else {"cues": cue.to_dict()}),
              **({} if finding.on_garment is None else {"on_garment": round(finding.on_garment, 3)})}
             for region, finding, cue, decision, kind in zip(detections.texts, findings, cues, decisions, mask_kinds)]
    return {
        "policy": options.policy,
        "strip_languages": list(options.strip_languages),
        "text": texts,
        "codes": [{"kind": kind, "box": [[round(float(x), 1), round(float(y), 1)] for x, y in quad]}
                  for kind, quad in detections.codes],
        "text_found": len(texts),
        "text_removed": sum(d["decision"] == "removed" for d in texts),
        "text_kept": sum(d["decision"] == "kept" for d in texts),
        "qr_removed": len(detections.codes),
        "inpainted_share": round(float(verified.removed_mask.mean()), 5),
        "retried": verified.retried,
        "residual_text": verified.residual_text,
    }
