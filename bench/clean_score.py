"""Scoring for the clean benchmark: the photo's own text as ground truth, legibility, pixel residuals.

Ground truth for *product text* is what the photo itself says: the configured OCR engine reads the
clean photo at full resolution before anything is drawn, and every reading with a score of at least
``PHOTO_TEXT_MIN_SCORE`` (0.8) and at least ``MIN_CHARS`` (2) letters or digits is product text
(logos, labels, packaging) -- unless it matches one of the ``--photo-overlays`` patterns given for
that photo (text the photo already carries that is no product: a photographer's watermark).

*Legible* (:func:`legible`): OCR reads the item's box grown by half its height (at least 8 px) on its
own, at the image's own resolution; the item is legible when the readings whose boxes overlap its
box, joined in reading order, contain its text with at most ``LEGIBLE_MAX_ERRORS`` (25%) of its
characters wrong (edit distance of the item's text to the closest substring, on the case-folded
letters and digits). A photo text counts only if it is legible by this very test on the clean photo
("legible before"); it is kept if it is still legible after cleaning.

*Still read* (:func:`still_read`, overlay strings): OCR reads the item's padded box on its own and
some reading overlaps it (IoU > 0.3, or more than half of the reading inside its box) and shares a
letter or digit with it. An overlay string is judged only if it is read so in the input.

*Residual* (:func:`residual_sums`) over an item's scored pixels (the pixels it changed; for a QR code
its whole square with quiet zone, and its card): mean |cleaned - clean original| / mean |input - clean
original|, pooled over all items of a kind in a category (0 = restored exactly, 1 = left as it was).
"""
from __future__ import annotations

import math
import re
from dataclasses import replace

import cv2
import numpy as np

from catloc.imaging import dilate, polygon_mask
from catloc.synthetic import changed_pixels

from clean_layout import Item, quad_box

PHOTO_TEXT_MIN_SCORE = 0.8
MIN_CHARS = 2
LEGIBLE_MAX_ERRORS = 0.25
PSNR_GROW_PX = 12
TARGETS = {"overlay_gone": (">=", 0.97), "overlay_residual": ("<=", 0.25), "photo_text_kept": (">=", 0.95),
           "qr_residual": ("<=", 0.15), "watermark_residual": ("<=", 0.3), "psnr_outside_db": (">=", 40.0),
           "seconds_per_1024px": ("<=", 0.7)}


def normalise(text: str) -> str:
    """Case-folded letters and digits of ``text`` (CJK characters count as letters)."""
    return "".join(c for c in text.casefold() if c.isalnum())


def substring_distance(needle: str, hay: str) -> int:
    """The edit distance from ``needle`` to the closest substring of ``hay`` (insertions, deletions and
    substitutions cost 1; ``len(needle)`` when ``hay`` is empty)."""
    prev = [0] * (len(hay) + 1)
    for i, a in enumerate(needle, 1):
        cur = [i] + [0] * len(hay)
        for j, b in enumerate(hay, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b))
        prev = cur
    return min(prev)


def overlap(polygon: np.ndarray, quad: np.ndarray) -> tuple[float, float, float]:
    """(intersection, area of ``polygon``, area of ``quad``) of the convex hulls of two (N, 2) polygons, px²."""
    a = cv2.convexHull(np.asarray(polygon, np.float32)).reshape(-1, 2)
    b = cv2.convexHull(np.asarray(quad, np.float32)).reshape(-1, 2)
    inter, _ = cv2.intersectConvexConvex(a, b)
    return float(inter), float(cv2.contourArea(a)), float(cv2.contourArea(b))


def read_region(ocr, image: np.ndarray, quad: np.ndarray) -> list:
    """OCR's readings of ``quad``'s box grown by half its height (at least 8 px), read on their own;
    polygons in the image's coordinates."""
    x0, y0, x1, y1 = quad_box(quad)
    pad = max(8, (y1 - y0) // 2)
    h, w = image.shape[:2]
    ox, oy = max(0, x0 - pad), max(0, y0 - pad)
    crop = np.ascontiguousarray(image[oy:min(h, y1 + pad), ox:min(w, x1 + pad)])
    return [replace(r, polygon=r.polygon + np.float32([ox, oy])) for r in ocr.detect(crop)]


def legible(ocr, image: np.ndarray, item: Item) -> tuple[bool, str]:
    """Whether ``item``'s text is legible in its region of ``image`` (see the module docstring), and
    what OCR read there."""
    readings = []
    for r in read_region(ocr, image, item.quad):
        inter, area_r, area_q = overlap(r.polygon, item.quad)
        if inter > 0.3 * min(area_r, area_q):
            readings.append(r.text)
    target = normalise(item.text)
    found = normalise("".join(readings))
    return substring_distance(target, found) <= LEGIBLE_MAX_ERRORS * len(target), " ".join(readings)


def still_read(ocr, image: np.ndarray, item: Item) -> bool:
    """Whether OCR still reads overlay ``item`` in ``image`` (see the module docstring)."""
    chars = set(normalise(item.text))
    for r in read_region(ocr, image, item.quad):
        inter, area_r, area_q = overlap(r.polygon, item.quad)
        geom = inter > 0.3 * (area_r + area_q - inter) or inter > 0.5 * max(area_r, 1e-6)
        if geom and chars & set(normalise(r.text)):
            return True
    return False


def photo_text(ocr, clean: np.ndarray, not_product: list[re.Pattern]) -> list[Item]:
    """The photo's own product text (see the module docstring), each with ``facts``: its score, whether
    it is legible before (on the clean photo, by :func:`legible`) and what that read."""
    items = []
    for r in ocr.detect(clean):
        if r.score < PHOTO_TEXT_MIN_SCORE or len(normalise(r.text)) < MIN_CHARS:
            continue
        if any(p.search(r.text) for p in not_product):
            continue
        item = Item("photo_text", r.text, polygon_mask(clean.shape[:2], r.polygon), np.asarray(r.polygon, np.float32))
        ok, read = legible(ocr, clean, item)
        item.facts = {"score": round(float(r.score), 3), "legible_before": ok, "read_before": read}
        items.append(item)
    return items


def qr_present(image: np.ndarray, item: Item) -> bool:
    """Whether OpenCV still detects or decodes a QR code around ``item``'s square (grown by 30%)."""
    x0, y0, x1, y1 = quad_box(item.quad)
    pad = int(0.3 * (x1 - x0))
    h, w = image.shape[:2]
    crop = image[max(0, y0 - pad):min(h, y1 + pad), max(0, x0 - pad):min(w, x1 + pad)]
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    det = cv2.QRCodeDetector()
    text, points, _ = det.detectAndDecode(gray)
    return bool(text) or points is not None or bool(det.detect(gray)[0])


def residual_sums(clean: np.ndarray, image: np.ndarray, cleaned: np.ndarray, mask: np.ndarray) -> list[float]:
    """[sum |cleaned - clean|, sum |input - clean|] over ``mask``'s pixels (mean over channels)."""
    if not mask.any():
        return [0.0, 0.0]
    c = clean[mask].astype(np.float32)
    return [float(np.abs(cleaned[mask] - c).mean(1).sum()), float(np.abs(image[mask] - c).mean(1).sum())]


def psnr(sse: float, count: int) -> float | None:
    """PSNR (dB, 8-bit) of a sum of squared errors over ``count`` values; 100 when exact."""
    if count == 0:
        return None
    mse = sse / count
    return 100.0 if mse == 0 else round(10 * math.log10(255.0 ** 2 / mse), 2)


def judge_items(ocr, base, image, cleaned, items: list[Item]) -> list[dict]:
    """One row per item: what it is, whether it is seen in the input and still there after cleaning."""
    rows = []
    for it in items:
        row = {"kind": it.kind, "text": it.text, "style": it.style, "box": list(quad_box(it.quad)), **it.facts}
        if it.kind == "qr":
            row["seen_before"], row["present_after"] = qr_present(image, it), qr_present(cleaned, it)
        elif it.kind == "overlay":
            row["seen_before"], row["present_after"] = still_read(ocr, image, it), still_read(ocr, cleaned, it)
        elif it.kind in ("photo_text", "print"):
            if it.kind == "print":
                row["legible_before"], row["read_before"] = legible(ocr, base, it)
            row["legible_input"], _ = legible(ocr, image, it)
            row["legible_after"], row["read_after"] = legible(ocr, cleaned, it)
        if it.kind in ("overlay", "qr", "watermark"):
            row["residual"] = residual_sums(base, image, cleaned, it.scored)
        rows.append(row)
    return rows


def judge(ocr, base, image, cleaned, removed_mask, items: list[Item]) -> dict:
    """Every measure of one cleaned photo: the item rows, the squared error outside the overlays
    (grown by ``PSNR_GROW_PX``) and the largest change outside the pipeline's removed mask."""
    overlaid = dilate(changed_pixels(base, image), PSNR_GROW_PX)
    outside = ~overlaid
    err = (cleaned[outside].astype(np.float64) - base[outside]) ** 2
    diff = np.abs(cleaned.astype(np.int16) - image.astype(np.int16)).max(-1)
    return {"items": judge_items(ocr, base, image, cleaned, items),
            "outside_sse": float(err.sum()), "outside_count": int(err.size),
            "psnr_outside_db": psnr(float(err.sum()), int(err.size)),
            "max_change_outside_mask": int(diff[~removed_mask].max()) if (~removed_mask).any() else 0,
            "removed_share": round(float(removed_mask.mean()), 4)}


# ---------------------------------------------------------------- summary by category
def share(rows: list[dict], ok: str, among: str | None = None) -> dict:
    """{value, hits, count}: the share of ``rows`` (those with ``among`` true, if given) with ``ok`` true."""
    sel = [r for r in rows if among is None or r.get(among)]
    hits = sum(bool(r.get(ok)) for r in sel)
    return {"value": round(hits / len(sel), 3) if sel else None, "hits": hits, "count": len(sel)}


def pooled_residual(rows: list[dict]) -> dict:
    """{value, items}: the residual pooled over ``rows`` (sums of their ``residual`` pairs)."""
    num, den = (sum(r["residual"][k] for r in rows) for k in (0, 1))
    return {"value": round(num / den, 3) if den else None, "items": len(rows)}


def summarise_cases(cases: list[dict]) -> dict:
    """The figures of a set of cases (one category, or all)."""
    rows = [r for c in cases for r in c["items"]]
    of = lambda kind: [r for r in rows if r["kind"] == kind]  # noqa: E731
    overlays = of("overlay")
    for r in overlays:
        r["gone"] = r["seen_before"] and not r["present_after"]
    styles = sorted({r["style"] for r in overlays})
    seconds = [c["seconds"] for c in cases]
    return {
        "images": len(cases),
        "longer_side_px": round(float(np.mean([max(c["size"]) for c in cases])), 0) if cases else None,
        "overlay_gone": share(overlays, "gone", among="seen_before"),
        "overlay_gone_by_style": {s: share([r for r in overlays if r["style"] == s], "gone", among="seen_before")
                                  for s in styles},
        "overlay_residual": pooled_residual(overlays),
        "overlay_residual_by_style": {s: pooled_residual([r for r in overlays if r["style"] == s]) for s in styles},
        "photo_text_kept": share(of("photo_text"), "legible_after", among="legible_before"),
        "print_kept": share(of("print"), "legible_after", among="legible_before"),
        "qr_residual": pooled_residual(of("qr")),
        "qr_still_detected": share(of("qr"), "present_after"),
        "watermark_residual": pooled_residual(of("watermark")),
        "psnr_outside_db": psnr(sum(c["outside_sse"] for c in cases), sum(c["outside_count"] for c in cases)),
        "psnr_outside_worst_db": min((c["psnr_outside_db"] for c in cases), default=None),
        "max_change_outside_mask": max((c["max_change_outside_mask"] for c in cases), default=0),
        "seconds": round(float(np.mean(seconds)), 3) if seconds else None,
        "seconds_per_1024px": round(float(np.mean([c["seconds_1024"] for c in cases])), 3) if cases else None,
    }


def summarise(cases: list[dict]) -> dict:
    """:func:`summarise_cases` per category (in first-seen order) and for ``all``."""
    categories = list(dict.fromkeys(c["category"] for c in cases))
    out = {cat: summarise_cases([c for c in cases if c["category"] == cat]) for cat in categories}
    if len(categories) > 1:
        out["all"] = summarise_cases(cases)
    return out


def _cell(metric: dict | float | int | None, counts: bool = True) -> str:
    if isinstance(metric, dict):
        value = metric["value"]
        text = "-" if value is None else f"{value:.3f}"
        if counts and "hits" in metric:
            text += f" ({metric['hits']}/{metric['count']})"
        elif counts and "items" in metric:
            text += f" [{metric['items']}]"
        return text
    return "-" if metric is None else f"{metric}"


def _meets(key: str, metric) -> str:
    if key not in TARGETS:
        return ""
    value = metric["value"] if isinstance(metric, dict) else metric
    if value is None:
        return ""
    op, bound = TARGETS[key]
    return " ok" if (value >= bound if op == ">=" else value <= bound) else " NO"


def table_rows(summary: dict) -> list[tuple[str, str, list]]:
    """(label, target, one value per category) for :func:`print_table`."""
    cats = list(summary)
    rows = []
    for key, label in (("images", "images"), ("longer_side_px", "longer side (px, mean)"),
                       ("overlay_gone", "overlay strings gone (of read in input)"),
                       ("overlay_residual", "overlay residual"), ("photo_text_kept", "photo text still legible"),
                       ("print_kept", "drawn print still legible"), ("qr_residual", "QR residual"),
                       ("qr_still_detected", "QR still detected"), ("watermark_residual", "watermark residual"),
                       ("psnr_outside_db", "PSNR outside overlays+12px (dB)"),
                       ("psnr_outside_worst_db", "  worst image (dB)"),
                       ("max_change_outside_mask", "max change outside removed mask"),
                       ("seconds", "clean seconds / image"), ("seconds_per_1024px", "clean s / 1024-px image")):
        target = " ".join(map(str, TARGETS[key])) if key in TARGETS else ""
        rows.append((label, target, [_cell(summary[c][key]) + _meets(key, summary[c][key]) for c in cats]))
        if key in ("overlay_gone", "overlay_residual"):
            styles = sorted({s for c in cats for s in summary[c][key + "_by_style"]})
            for s in styles:
                rows.append((f"  {s}", "", [_cell(summary[c][key + "_by_style"].get(s)) for c in cats]))
    return rows


def print_table(summary: dict, header: str) -> None:
    """The figures as a table: one row per measure, one column per category."""
    cats = list(summary)
    width = max(22, max(len(c) for c in cats) + 2)
    print(header)
    print(f"{'measure':40s} {'target':8s} " + " ".join(f"{c:>{width}s}" for c in cats))
    for label, target, values in table_rows(summary):
        print(f"{label:40s} {target:8s} " + " ".join(f"{v:>{width}s}" for v in values))
