"""Stage 2, clean: remove overlaid supplier text and QR codes, keep the product's own text.

Steps (``remove_overlay_text``):

1. find text with the OCR engine, QR codes and barcodes with OpenCV's detectors (kept only if
   they look like a code), and the plates (banners, stickers, cards) findings sit on;
2. locate the product on a copy with *all* findings painted out, so promo stickers and
   banners cannot pull the product mask towards them;
3. decide per text region: tiled watermarks, promo patterns and text reaching off the product
   onto the backdrop are removed; a region lying inside the product (``product_text_inside``
   share of its area) is product text (brand label, print) and is kept under the
   ``keep_product_text`` policy; an unsure reading over the product is never touched;
   everything else, and every code, is removed;
4. mask what goes at stroke level (or its plate), never over kept product text;
5. inpaint the union of removed regions; pixels outside that mask are bit-for-bit the source's;
6. verify around the cleaned regions: leftovers off the product get one wider retry, what
   survives is reported as residual text.

Every decision is returned in the report, so reviewers can see what was found, kept and removed.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from catloc.config import ConfigError
from catloc.engines.base import BaseInpainter as Inpainter, Segmenter, TextDetector, TextRegion

POLICIES = ("keep_product_text", "remove_all")


@dataclass
class CleanResult:
    cleaned: np.ndarray
    removed_mask: np.ndarray            # bool (H, W): the pixels that were inpainted
    product_mask: np.ndarray            # bool (H, W): product located on the painted-out copy
    report: dict[str, Any] = field(default_factory=dict)


def detect_codes(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(kind, corners (4, 2))`` of the QR codes and barcodes OpenCV finds in an RGB image.

    OpenCV's detectors now and then return a large quadrilateral over plain fabric; a finding is
    kept only if it looks like a code (:func:`looks_like_code`), since removing it repaints all of it.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    found: list[tuple[str, np.ndarray]] = []
    detector = cv2.QRCodeDetector()
    try:
        ok, points = detector.detectMulti(gray)
    except cv2.error:
        ok, points = False, None
    if not ok or points is None:
        ok, points = detector.detect(gray)
        points = None if points is None else [points]
    if ok and points is not None:
        for p in points:
            quad = np.asarray(p, np.float32).reshape(-1, 2)
            if not looks_like_code(gray, quad, "qr"):
                quad = _redetect_qr(gray, quad, detector)  # a corner off: look again around it
            if quad is not None:
                found.append(("qr", quad))
    try:
        ok, points = cv2.barcode.BarcodeDetector().detectMulti(gray)
    except cv2.error:
        ok, points = False, None
    if ok and points is not None:
        for p in points:
            quad = np.asarray(p, np.float32).reshape(-1, 2)
            if not any(_overlap(quad, q) for _, q in found) and looks_like_code(gray, quad, "barcode"):
                found.append(("barcode", quad))
    return found


def _redetect_qr(gray: np.ndarray, quad: np.ndarray, detector: cv2.QRCodeDetector) -> np.ndarray | None:
    """The QR code near a malformed finding, detected again on a crop around it, if any."""
    h, w = gray.shape
    x0, y0 = np.maximum(quad.min(0) - 16, 0).astype(int)
    x1, y1 = np.minimum(quad.max(0) + 16, [w, h]).astype(int)
    if (x1 - x0) * (y1 - y0) > 0.25 * h * w or min(x1 - x0, y1 - y0) < 21:
        return None  # a finding that large is not a code with one corner off
    ok, points = detector.detect(np.ascontiguousarray(gray[y0:y1, x0:x1]))
    if not ok or points is None:
        return None
    again = np.asarray(points, np.float32).reshape(-1, 2) + np.float32([x0, y0])
    return again if looks_like_code(gray, again, "qr") else None


def looks_like_code(gray: np.ndarray, quad: np.ndarray, kind: str) -> bool:
    """Whether the quadrilateral ``quad`` of ``gray`` holds a code: a convex quadrilateral (about
    square for a QR code) whose content, straightened and binarised, is a dense black-and-white
    pattern (modules or bars), not a plain surface."""
    if quad.shape != (4, 2) or not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return False
    sides = np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)
    if sides.min() < 12 or (kind == "qr" and sides.max() > 1.6 * sides.min()):
        return False
    side = 96
    square = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    patch = cv2.warpPerspective(gray, cv2.getPerspectiveTransform(quad.astype(np.float32), square), (side, side))
    if float(patch.std()) < 40:  # a code is black on white: strong contrast throughout
        return False
    _, binary = cv2.threshold(patch, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = 1.0 - float(binary.mean())
    across = max(float(np.abs(np.diff(binary.astype(np.int8), axis=1)).mean()),
                 float(np.abs(np.diff(binary.astype(np.int8), axis=0)).mean()))
    return 0.2 <= dark <= 0.8 and across >= 0.08  # modules/bars: a change every ~12 px at least


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    (ax0, ay0), (ax1, ay1) = a.min(0), a.max(0)
    (bx0, by0), (bx1, by1) = b.min(0), b.max(0)
    return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1


def qr_plate_mask(image: np.ndarray, quad: np.ndarray, max_grow: float = 0.5) -> np.ndarray:
    """The code plus its quiet zone and the plain plate it is printed on.

    The detector returns the code's corners; the white quiet zone and any plate around it
    belong to the overlay too: the mask grows from the code while the colour found just
    outside it continues (at most ``max_grow`` x the code's side).
    """
    code = polygon_mask(image.shape[:2], quad)
    side = float(np.sqrt(max(1.0, code.sum())))
    max_px = int(max_grow * side)
    win = _window(code, max_px + 3)
    if win is None:
        return code
    local = code[win]
    first = _dilate(local, 2) & ~local
    if not first.any():
        return code
    colour = np.median(image[win][first].astype(np.float32), axis=0)
    out = np.zeros_like(code)
    out[win] = grow_plate(image[win], local, colour, max_px=max_px) | local
    return out


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.view(bool)


def backdrop_colour(image: np.ndarray, border: float = 0.03) -> np.ndarray:
    """Median colour of the image border: the supplier's backdrop."""
    return np.median(_border_strip(image, border), axis=0).astype(np.float32)


def backdrop_reached_from_border(image: np.ndarray, backdrop: np.ndarray, border: float = 0.03) -> np.ndarray:
    """Pixels of the backdrop's colour (within the border's own spread: 3 to 25 levels) that
    connect to the image border: open backdrop, not a garment that happens to share its colour."""
    spread = _colour_distance(_border_strip(image, border), backdrop)
    spread = spread[spread < 30]  # leave out a product running off the photo
    tolerance = min(25.0, max(3.0, 2.5 * float(np.percentile(spread, 90)))) if len(spread) else 3.0
    return _connected_to_border(_colour_distance(image, backdrop) <= tolerance)


def _border_strip(image: np.ndarray, border: float) -> np.ndarray:
    """(N, 3) pixels of the image's outer ``border`` share, all four sides."""
    h, w = image.shape[:2]
    b = max(2, int(border * min(h, w)))
    return np.concatenate([image[:b].reshape(-1, 3), image[-b:].reshape(-1, 3),
                           image[:, :b].reshape(-1, 3), image[:, -b:].reshape(-1, 3)])


def _connected_to_border(mask: np.ndarray) -> np.ndarray:
    """The parts of ``mask`` (4-connected) that touch the image border."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, edge[edge > 0])


def grow_plate(image: np.ndarray, seed: np.ndarray, colour: np.ndarray, max_px: int,
               tolerance: float = 14.0) -> np.ndarray:
    """Grow ``seed`` ring by ring while (almost) every ring pixel has ``colour``.

    Used for the banner or sticker a promo text is printed on: growth stops at the plate's
    edge, or where it would run into the product (a different colour).
    """
    dist = cv2.distanceTransform((~seed).astype(np.uint8), cv2.DIST_L2, 3)
    close_all = _colour_distance(image, colour) < tolerance
    reach = 0
    for k in range(1, max_px + 1):
        ring = (dist > k - 1) & (dist <= k)
        if not ring.any():
            break
        if close_all[ring].mean() < 0.97:
            break
        reach = k
    return dist <= reach if reach else seed.copy()


def find_plate(image: np.ndarray, seed: np.ndarray, backdrop: np.ndarray, colour: np.ndarray | None = None,
               tolerance: float = 16.0, max_area_ratio: float = 5.0) -> np.ndarray | None:
    """The plain-coloured plate a finding sits on (promo banner, sticker, QR card), or ``None``.

    The plate colour is ``colour`` if given, else the colour dominating the finding's surround
    (60%) or, for a banner cut tight around its text, its own box (40%, the rest being text).
    It must differ from the backdrop. The plate is the region of that colour connected to the
    finding, with everything it encloses (the text), and it must be bounded: a region that
    runs out of a window of a few text heights around the seed, or covers more than
    ``max_area_ratio`` x the finding, is a garment or a backdrop.
    """
    x, y, width, height = cv2.boundingRect(seed.view(np.uint8))
    if width == 0 or height == 0:
        return None
    h, w = seed.shape
    # everything happens in a window of a few text heights around the finding
    pad_y, pad_x = 2 * height, max(2 * height, 3 * width)
    y0, y1 = max(0, y - pad_y), min(h, y + height + pad_y)
    x0, x1 = max(0, x - pad_x), min(w, x + width + pad_x)
    local = seed[y0:y1, x0:x1]
    window = image[y0:y1, x0:x1]
    ring = _dilate(local, max(3, height // 6)) & ~local
    if colour is not None:
        candidates = [np.asarray(colour, np.float32)]
    else:
        candidates = []
        for pixels, share in ((window[ring], 0.5), (window[local], 0.3)):
            dominant = _dominant_colour(pixels)
            if dominant is not None and (_colour_distance(pixels, dominant) < tolerance).mean() >= share:
                candidates.append(dominant)
    near = ring | local
    seed_area = int(local.sum())
    for plate_colour in candidates:
        if np.linalg.norm(plate_colour - backdrop) < 20:
            continue  # that is the backdrop itself
        similar = _colour_distance(window, plate_colour) < tolerance
        _, labels = cv2.connectedComponents(similar.view(np.uint8), connectivity=8)
        touching = np.unique(labels[near & similar])
        region = np.isin(labels, touching[touching > 0])
        if not 0.2 * seed_area <= region.sum() <= max_area_ratio * seed_area:
            continue  # too small to be a plate, or so big it is a garment, not a sticker
        outline = _dilate(region, 2) & ~region
        if outline.any() and np.median(_colour_distance(window[outline], plate_colour)) < 2 * tolerance:
            continue  # a soft edge: shading on a garment, not a printed plate
        region |= local
        edges = [(y0 > 0, region[0]), (y1 < h, region[-1]), (x0 > 0, region[:, 0]), (x1 < w, region[:, -1])]
        if any(interior and edge.any() for interior, edge in edges):
            continue  # not bounded near the finding
        plate = np.zeros_like(seed)
        plate[y0:y1, x0:x1] = _fill_holes(region)
        return plate
    return None


def _colour_distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Euclidean RGB distance of every pixel of ``pixels`` (..., 3) to ``colour``."""
    diff = pixels.astype(np.float32) - np.asarray(colour, np.float32)
    return np.sqrt(np.einsum("...c,...c->...", diff, diff))


def _dominant_colour(pixels: np.ndarray) -> np.ndarray | None:
    """The most frequent colour of (N, 3) pixels (mode of a 16-level quantisation, then its mean)."""
    if len(pixels) == 0:
        return None
    bins = (pixels // 16).astype(np.int32)
    codes = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    top = np.bincount(codes).argmax()
    return pixels[codes == top].astype(np.float32).mean(axis=0)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every hole (background not connected to the border) filled."""
    return ~_connected_to_border(~mask)


def stroke_mask(image: np.ndarray, region: np.ndarray, dilate_px: int) -> tuple[np.ndarray, str]:
    """The pixels of the text inside ``region`` (a text box), dilated by about a stroke width.

    When the box sits on a uniform surround, the strokes are the pixels that differ from the
    surround's colour; on a textured surround (the product) they are the pixels a median
    filter wider than a stroke takes away. When that finds no clear strokes the whole box is
    used. Returns (mask, ``strokes``, ``strokes on texture`` or ``box``).
    """
    win = _window(region, max(3, dilate_px) + 2 + 32)  # room for the surround and the median filter
    if win is None:
        return region.copy(), "box"
    local, crop = region[win], image[win]
    out = np.zeros_like(region)
    grown = _dilate(local, max(3, dilate_px))
    colours = crop[grown & ~local].astype(np.float32)
    strokes = np.zeros(local.shape, bool)
    how = "strokes"
    if len(colours) and colours.std(0).max() <= 12:  # uniform surround: strokes differ from its colour
        strokes[local] = _colour_distance(crop[local], np.median(colours, axis=0)) > 18.0
    else:  # textured surround (the product): strokes are what a median wider than a stroke removes
        height = cv2.boundingRect(local.view(np.uint8))[3]
        k = min(31, max(7, (height // 2) | 1))
        strokes = (_colour_distance(crop, cv2.medianBlur(crop, k)) > 24.0) & local
        how = "strokes on texture"
        if strokes.sum() > 0.6 * local.sum():
            strokes[:] = False
    if not strokes.any():
        out[win] = _dilate(local, dilate_px)
        return out, "box"
    # stroke width from the distance transform of the strokes; dilate by it (anti-aliasing, halos)
    width = float(cv2.distanceTransform(strokes.view(np.uint8), cv2.DIST_L2, 3).max())
    out[win] = _dilate(strokes, dilate_px + int(np.ceil(width / 2))) & _dilate(local, dilate_px + 2)
    return out, how


def _window(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """Slices of ``mask``'s bounding box grown by ``pad`` px (clipped), or ``None`` if it is empty."""
    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    if w == 0 or h == 0:
        return None
    return slice(max(0, y - pad), y + h + pad), slice(max(0, x - pad), x + w + pad)


def tiled_watermarks(texts: list[TextRegion], insides: list[float], min_repeats: int = 3) -> set[int]:
    """Indices of text regions that belong to a tiled watermark.

    A tiled watermark repeats one string across the photo, so OCR reads overlapping pieces
    of it several times. Regions sharing a piece (2 CJK or 3 Latin characters) with at least
    ``min_repeats - 1`` others form a group; a group is a watermark when at least one of its members lies on the
    backdrop (a monogram printed only on the product is left alone).
    """
    def pieces(text: str) -> set[str]:  # CJK pairs; Latin/digit triples (so "1988" != "8888")
        t = re.sub(r"\s+", "", text).lower()
        pairs = {t[i:i + 2] for i in range(len(t) - 1) if not t[i:i + 2].isascii()}
        return pairs | {t[i:i + 3] for i in range(len(t) - 2) if t[i:i + 3].isascii()}

    grams = [pieces(t.text) for t in texts]
    tiled: set[int] = set()
    for i, gi in enumerate(grams):
        if not gi:
            continue
        group = [j for j, gj in enumerate(grams) if gi & gj]
        if len(group) >= min_repeats and any(insides[j] < 0.5 for j in group):
            tiled.update(group)
    return tiled


def _matches_any(text: str, patterns: list[re.Pattern]) -> bool:
    return any(p.search(text) for p in patterns)


def remove_overlay_text(image: np.ndarray, ocr: TextDetector, inpainter: Inpainter, segmenter: Segmenter, *,
                        policy: str = "keep_product_text", product_text_inside: float = 0.85,
                        dilate_px: int = 4, remove_qr: bool = True, always_remove: list[str] | None = None,
                        verify: bool = True, protect_below_score: float = 0.8, edge_on_product: float = 0.9,
                        on_backdrop: float = 0.08,
                        verify_margin: int = 32, verify_side: int = 768) -> CleanResult:
    """Remove supplier overlays from ``image`` (RGB uint8); see the module docstring."""
    if policy not in POLICIES:
        raise ValueError(f"unknown clean policy {policy!r} (known: {', '.join(POLICIES)})")
    shape = image.shape[:2]
    patterns = [re.compile(p, re.IGNORECASE) for p in (always_remove or [])]

    # 1. what is there: text, codes, and the plates (banners, stickers, cards) they sit on
    backdrop = backdrop_colour(image)
    texts: list[TextRegion] = ocr.detect(image)
    codes = detect_codes(image) if remove_qr else []
    text_masks = [polygon_mask(shape, t.polygon) for t in texts]
    repeated = tiled_watermarks(texts, [0.0] * len(texts))  # watermark tiles, or a repeated print: no plates
    plates = [None if i in repeated else find_plate(image, m, backdrop) for i, m in enumerate(text_masks)]
    code_masks = []
    for _, quad in codes:
        code = qr_plate_mask(image, quad)
        quiet = _dilate(polygon_mask(shape, quad), 2) & ~polygon_mask(shape, quad)
        card = find_plate(image, code, backdrop, colour=np.median(image[quiet].astype(np.float32), axis=0))
        code_masks.append(code if card is None else code | card)

    # 2. the product, located with every finding (and its plate) painted out
    everything = np.zeros(shape, bool)
    for m in text_masks + code_masks + [p for p in plates if p is not None]:
        everything |= m
    product = _segment_painted(image, _dilate(everything, dilate_px), inpainter, segmenter)

    # 3. decide, and 4. mask what goes: the plate, else the strokes
    remove, kept = np.zeros(shape, bool), np.zeros(shape, bool)
    decisions = []
    insides = [float((m & product).sum()) / max(1, int(m.sum())) for m in text_masks]
    # laid over the photo, even where the product mask (made with it painted out) grew into it:
    # text whose own box shows open backdrop between its strokes, or a plate whose surroundings run
    # onto the backdrop (a print stays on the product)
    open_backdrop = backdrop_reached_from_border(image, backdrop)
    crossing = [float(open_backdrop[m].mean()) >= on_backdrop if p is None
                else _edge_on(p, product, dilate_px) < edge_on_product for m, p in zip(text_masks, plates)]
    tiled = tiled_watermarks(texts, insides)
    unsure = [i for i, t in enumerate(texts)
              if t.score < protect_below_score and not _matches_any(t.text, patterns) and i not in tiled]
    if unsure:
        # an unsure reading may be the product itself (OCR "reading" a print or a shape): judge it
        # against the product's main body located with that reading left in place
        kept_in = np.zeros(shape, bool)
        for i in unsure:
            kept_in |= text_masks[i] if plates[i] is None else (text_masks[i] | plates[i])
        body = _largest_component(_segment_painted(image, _dilate(everything & ~kept_in, dilate_px),
                                                   inpainter, segmenter))
        for i in unsure:
            insides[i] = max(insides[i], float((text_masks[i] & body).sum()) / max(1, int(text_masks[i].sum())))
            plates[i] = None  # never take a whole region away on an unsure reading
    for i, (region, mask, plate) in enumerate(zip(texts, text_masks, plates)):
        inside = insides[i]
        if policy == "remove_all":
            keep, why = False, "policy remove_all"
        elif i in tiled:
            keep, why = False, "tiled watermark (repeated across the photo)"
        elif _matches_any(region.text, patterns):
            keep, why = False, "promo pattern (price, contact, shop)"
        elif crossing[i] and i not in unsure:
            keep, why = False, "reaching off the product onto the backdrop"
        elif inside >= product_text_inside:
            keep, why = True, f"inside the product ({inside:.0%})"
        elif region.score < protect_below_score and inside >= 0.15:
            keep, why = True, f"unsure reading ({region.score:.2f}) over the product ({inside:.0%}): not touched"
        else:
            keep, why = False, f"outside the product ({inside:.0%} inside)"
        how = ""
        if not keep:
            if plate is not None:
                region_mask, how = _dilate(plate, dilate_px), "plate"
            else:
                region_mask, how = stroke_mask(image, mask, dilate_px)
            remove |= region_mask
        elif inside >= product_text_inside and region.score >= protect_below_score:
            kept |= mask  # product text read with confidence (an unsure box may span a whole garment)
        decisions.append({**region.to_dict(), "inside_product": round(inside, 3),
                          "decision": "kept" if keep else "removed", "why": why, "mask": how})
    # what is kept stays as it is, even under a removed watermark crossing it: better a trace of
    # the watermark on a print than a print with letters wiped out
    remove &= ~kept
    for mask in code_masks:
        remove |= _dilate(mask, dilate_px)

    # 5. inpaint only the removed regions; everything else stays the source's pixels
    cleaned = _inpaint_masked(image, remove, inpainter)

    # 6. verify: text still found outside the product gets one retry with a wider mask
    residual: list[str] = []
    retried = False
    if verify and remove.any():
        leftovers = _leftover_text(cleaned, ocr, product, patterns, policy, remove, verify_margin, verify_side,
                                   read_all=False)
        if leftovers:
            retried = True
            found = np.zeros(shape, bool)
            for poly in leftovers:
                found |= polygon_mask(shape, poly.polygon)
            wider = _dilate(found, 3 * dilate_px) & ~product  # a wider mask, but never over the product
            cleaned = _inpaint_masked(cleaned, wider, inpainter)
            remove |= wider
            # only the leftovers' surroundings changed: read there again
            residual = [r.text for r in _leftover_text(cleaned, ocr, product, patterns, policy, found | wider,
                                                       verify_margin, verify_side)]

    report = {
        "policy": policy,
        "text": decisions,
        "codes": [{"kind": kind, "box": [[round(float(x), 1), round(float(y), 1)] for x, y in q]}
                  for kind, q in codes],
        "text_found": len(decisions),
        "text_removed": sum(d["decision"] == "removed" for d in decisions),
        "text_kept": sum(d["decision"] == "kept" for d in decisions),
        "qr_removed": len(codes),
        "inpainted_share": round(float(remove.mean()), 5),
        "retried": retried,
        "residual_text": residual,
    }
    return CleanResult(cleaned=cleaned, removed_mask=remove, product_mask=product, report=report)


def _edge_on(region: np.ndarray, product: np.ndarray, gap: int) -> float:
    """Share of the surroundings of ``region`` that lie on ``product``: a ring a few px wide,
    clear of the ``gap`` px (and the product mask's coarser resolution) it was painted out by."""
    win = _window(region, gap + 9)
    local = region[win]
    outline = _dilate(local, gap + 8) & ~_dilate(local, gap + 4)
    return float(product[win][outline].mean()) if outline.any() else 1.0


def _inpaint_masked(image: np.ndarray, remove: np.ndarray, inpainter: Inpainter) -> np.ndarray:
    if not remove.any():
        return image.copy()
    filled = inpainter.inpaint(image, remove)
    return np.where(remove[..., None], filled, image)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def _segment_painted(image: np.ndarray, painted_out: np.ndarray, inpainter: Inpainter,
                     segmenter: Segmenter, side: int = 320) -> np.ndarray:
    """The product mask of ``image`` with ``painted_out`` filled in, worked out at ``side`` px
    (the mask only judges what lies on the product; the analyse stage makes the exact one)."""
    h, w = painted_out.shape
    scale = min(1.0, side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    small_out = cv2.resize(painted_out.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0 \
        if scale < 1 else painted_out
    if small_out.any():
        small = inpainter.inpaint(small, _dilate(small_out, 1))
    mask = segmenter.segment(small)
    if scale == 1.0:
        return mask
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def _leftover_text(cleaned: np.ndarray, ocr: TextDetector, product: np.ndarray, patterns: list[re.Pattern],
                   policy: str, around: np.ndarray, margin: int, whole_side: int,
                   read_all: bool = True) -> list[TextRegion]:
    """Text found after cleaning that should be gone: mostly outside the product, or promo.

    OCR looks at the crops around the cleaned regions (``around``, grown by ``margin`` px), where
    the leftovers of a removal are; when those crops cover most of the image (a tiled
    watermark), at the whole image at ``whole_side`` px instead. With ``read_all=False`` a box
    off the product counts without being read (it goes whatever it says; only boxes on the
    product are read, for the promo patterns). Polygons are returned in full-size coordinates.
    """
    out = []
    for x0, y0, x1, y1 in _crops_around(around, margin):
        crop = cleaned[y0:y1, x0:x1]
        scale = min(1.0, whole_side / max(crop.shape[:2]))
        if scale < 1:
            crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)),
                              interpolation=cv2.INTER_AREA)
        crop = np.ascontiguousarray(crop)
        to_read = []
        for box in ocr.find(crop):
            polygon = box / scale + np.float32([x0, y0])
            mask = polygon_mask(product.shape, polygon)
            off_product = policy == "remove_all" or float((mask & product).sum()) < 0.5 * max(1, int(mask.sum()))
            if off_product and not read_all:
                out.append(TextRegion(polygon, "", 0.0))
            else:
                to_read.append((box, off_product))
        for (box, off_product), region in zip(to_read, _read_each(ocr, crop, [b for b, _ in to_read])):
            if region is not None and (off_product or _matches_any(region.text, patterns)):
                region.polygon = box / scale + np.float32([x0, y0])
                out.append(region)
    return out


def _read_each(ocr: TextDetector, image: np.ndarray, boxes: list[np.ndarray]) -> list[TextRegion | None]:
    """``ocr.read`` box by box position: the reading of each box, or ``None`` where it was dropped."""
    readings = ocr.read(image, boxes) if boxes else []
    out: list[TextRegion | None] = []
    for box in boxes:
        match = next((r for r in readings if np.allclose(r.polygon, box, atol=1.0)), None)
        out.append(match)
    return out


def _crops_around(mask: np.ndarray, margin: int, whole_above: float = 0.4) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` around the blobs of ``mask``, grown by ``margin`` and merged
    where they overlap; the whole image when they cover more than ``whole_above`` of it."""
    h, w = mask.shape
    canvas, pad, boxes = mask.astype(np.uint8), margin, None
    while True:  # draw the boxes, take the boxes of what they form, until nothing merges any more
        _, _, stats, _ = cv2.connectedComponentsWithStats(canvas, connectivity=8)
        found = [(int(max(0, x - pad)), int(max(0, y - pad)), int(min(w, x + bw + pad)), int(min(h, y + bh + pad)))
                 for x, y, bw, bh, _ in stats[1:]]
        if boxes is not None and len(found) == len(boxes):
            break
        boxes, pad = found, 0
        canvas = np.zeros((h, w), np.uint8)
        for x0, y0, x1, y1 in boxes:
            canvas[y0:y1, x0:x1] = 1
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes) > whole_above * h * w:
        return [(0, 0, w, h)]
    return boxes


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """``mask`` grown by ``px`` pixels (elliptic), computed on its bounding box only."""
    if px <= 0:
        return mask
    mask8 = mask.astype(np.uint8)
    x, y, w, h = cv2.boundingRect(mask8)
    if w == 0 or h == 0:
        return mask.copy()
    y0, y1 = max(0, y - px), min(mask.shape[0], y + h + px)
    x0, x1 = max(0, x - px), min(mask.shape[1], x + w + px)
    k = 2 * px + 1
    out = np.zeros(mask.shape, bool)
    out[y0:y1, x0:x1] = cv2.dilate(mask8[y0:y1, x0:x1], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    return out


def clean_options(clean_cfg: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`remove_overlay_text` that the ``clean:`` config section
    sets, typed like their defaults (a new argument is configurable without touching this).
    An unknown key is a :class:`~catloc.config.ConfigError` (a typo must not pass silently)."""
    params = {name: p for name, p in inspect.signature(remove_overlay_text).parameters.items()
              if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(clean_cfg) - set(params))
    if unknown:
        raise ConfigError(f"clean: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(params))})")
    options: dict[str, Any] = {}
    for name, param in params.items():
        if name not in clean_cfg:
            continue
        value, default = clean_cfg[name], param.default
        for typ in (bool, int, float, str):
            if isinstance(default, typ):
                value = typ(value)
                break
        else:
            value = list(value or [])
        options[name] = value
    return options
