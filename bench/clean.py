"""Benchmark of the clean stage (``tasks.clean.remove_overlay_text``) on photos with known ground truth.

Each CLEAN photo (drawn here, or a real one from ``--corpus``) gets the product located with the
configured segment engine, a "product text" print placed fully inside the product (must be kept),
and then supplier clutter drawn on top, every item with its own ground-truth stroke mask:
3-5 promo strings (Chinese and Latin, several fonts, 20-80 px at 1024, opacity 0.6-1.0; corners,
banners, some crossing the product), a real QR code on about half the images, a tiled diagonal
watermark (opacity 0.15-0.35) on about a third. The clean stage then runs with the engines and
``clean:`` options of ``configs/pipeline.yaml`` (engines loaded once; only the clean call is timed).

Metrics (table on stdout, JSON with ``--json``):
  overlay_removed     share of overlay strings OCR no longer finds in the cleaned image (a detected box
                      matches a string when IoU > 0.3 with its box, or > 50% of the detected box lies in
                      it, and the texts share a character); split into on-background / crossing-product
  qr_removed          share of QR codes cv2.QRCodeDetector no longer detects/decodes in their region
  watermark_removed   share of watermark tiles with no matching OCR text left in their region (OCR runs on
                      a crop of the tile: on the whole cleaned image it misses faint tiles that are still there)
  product_text_kept   share of product prints still found by OCR AND unchanged (cleaned == input on
                      >= 95% of their stroke pixels that no overlay covers: where a watermark crosses
                      the print, those pixels have to change)
  psnr_in_mask        mean PSNR (dB) between cleaned and the clean original inside the union of the
                      overlay masks (product print excluded); the input's own PSNR is shown for reference
  max_change_outside  max |cleaned - input| outside the pipeline's removed_mask (must be 0)
  product_px_changed  share of product pixels under no overlay that the clean stage altered (damage)
  seconds_per_image   mean / max wall time of the clean call
Columns: "seen in input" = items OCR / the QR detector found before cleaning (an item never seen cannot
be judged by OCR), "gone of seen" = of those, how many are gone after cleaning, ">=90% masked" = items
whose ground-truth pixels lie >= 90% inside the pipeline's removed_mask (an OCR-free view: a banner
whose text went but whose plate stayed is not masked).

Run from the repository root:
  .venv/bin/python bench/clean.py --n 12 --size 1024
  .venv/bin/python bench/clean.py --corpus ../shared/corpus/dev --n 12 --json bench/out/corpus.json
  .venv/bin/python bench/clean.py --n 4 --save-examples bench/out/examples
Corpus photos are only read, never copied; with --n larger than the corpus, photos repeat mirrored.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from catloc.config import load_pipeline_config  # noqa: E402
from catloc.engines import load_engine  # noqa: E402
from catloc.synthetic import (Plate, font, paint_qr, paint_text, paint_watermark_tiles, qr_image,  # noqa: E402
                              qr_modules, text_box)
from catloc.tasks.clean.options import CleanOptions  # noqa: E402
from catloc.tasks.clean.pipeline import remove_overlay_text  # noqa: E402
from tests.synth import supplier_photo  # noqa: E402

LATIN_FACES = ["sans_bold", "sans", "serif_bold", "cond_bold_oblique", "mono_bold"]  # catloc.synthetic.LATIN_FONTS
PRODUCT_FACES = ["sans_bold", "serif_bold", "cond_bold"]
CJK_TEXTS = ["厂家直销", "包邮", "新款上市", "限时特价", "一件代发", "潮流女装旗舰店", "小美服饰专营店",
             "微信: shop8888", "¥39.9", "特价 ¥59", "现货速发 包邮", "批发价 ¥25", "实拍图 品质保证"]
LATIN_TEXTS = ["HOT SALE", "NEW ARRIVAL", "FREE SHIPPING", "50% OFF", "WhatsApp +86 138 0000 8888",
               "www.shop8888.com", "S M L XL XXL", "$12.99"]
WATERMARKS = ["盗图必究", "潮流女装旗舰店", "实拍 盗图必究", "shop8888"]
PRODUCT_TEXTS = ["SUMMER 1988", "CAFÉ", "BROOKLYN", "NO.7", "LOVE", "ATHLETIC"]
COLOURS = [(220, 20, 20), (235, 100, 0), (250, 210, 0), (255, 255, 255), (20, 20, 20), (30, 70, 200),
           (230, 40, 140)]
SYNTH_LOOKS = [((236, 236, 232), (40, 90, 160)), ((250, 250, 250), (180, 30, 40)),  # (backdrop, garment)
               ((225, 220, 210), (30, 30, 30)), ((240, 240, 245), (60, 140, 80)),
               ((214, 214, 214), (235, 200, 60)), ((248, 244, 238), (120, 70, 150))]


@dataclass
class Item:
    kind: str          # overlay | qr | watermark | product_text
    text: str
    mask: np.ndarray   # bool (H, W): pixels the item changed
    quad: np.ndarray   # (4, 2) float: the text box (OCR matching) or the QR code's square
    where: str = ""    # overlay: background | crossing
    style: str = ""    # corner | banner | crossing | qr-caption


# ---------------------------------------------------------------- inputs
def load_inputs(corpus: str | None, n: int, size: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """``n`` clean RGB photos, longer side ``size``: drawn ones, or real ones read from ``corpus``."""
    rng = np.random.default_rng(seed)
    out = []
    if corpus is None:
        for i in range(n):
            bg, garment = SYNTH_LOOKS[i % len(SYNTH_LOOKS)]
            image, _, _ = supplier_photo(size, overlay=False, product_text=None, background=bg, garment=garment)
            yy, xx = np.mgrid[0:size, 0:size] / size  # soft studio light and sensor noise
            light = 1.03 - 0.06 * np.hypot(yy - 0.4, xx - 0.5)
            noisy = image * light[..., None] + rng.normal(0, 1.5, image.shape)
            image = np.clip(noisy, 0, 255).astype(np.uint8)
            out.append((f"synth{i:02d}", image[:, ::-1].copy() if i % 2 else image))
        return out
    files = sorted(p for p in Path(corpus).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    if not files:
        raise SystemExit(f"no photos under {corpus}")
    order = rng.permutation(len(files))
    for i in range(n):
        path = files[order[i % len(files)]]
        im = Image.open(path).convert("RGB")
        scale = size / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
        image = np.asarray(im)
        mirrored = (i // len(files)) % 2 == 1
        out.append((f"{path.parent.name}/{path.stem}" + ("-mirror" if mirrored else ""),
                    image[:, ::-1].copy() if mirrored else image))
    return out


# ---------------------------------------------------------------- drawing (the painters: catloc.synthetic)
def get_font(text: str, px: int, rng: np.random.Generator) -> ImageFont.FreeTypeFont:
    """A random font for ``text`` at ``px`` pixels: the CJK one (face 0 or 2 of its collection) for Chinese
    text and for 30% of the rest, else one of LATIN_FACES."""
    if any(ord(c) > 0x2E80 for c in text) or rng.random() < 0.3:
        return font("cjk", px, index=int(rng.choice([0, 2])))
    return font(str(rng.choice(LATIN_FACES)), px)


def box_quad(box) -> np.ndarray:
    """The corners of box (x0, y0, x1, y1), clockwise from the top left: float32 (4, 2), px."""
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def contrast_colour(region: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random print colour that stands out on ``region`` (RGB): dark on light fabric, light on dark."""
    lum = float(np.median(region.reshape(-1, 3) @ [0.299, 0.587, 0.114])) if region.size else 200.0
    dark, light = [(20, 20, 20), (120, 20, 30), (10, 40, 90)], [(250, 250, 250), (245, 215, 110)]
    return tuple(int(c) for c in (dark if lum > 130 else light)[rng.integers(0, 3 if lum > 130 else 2)])


def place_product_text(image, product, rng, scale) -> Item | None:
    """An opaque brand print on the flattest spot fully inside the (eroded) product mask."""
    if product.sum() < 0.04 * product.size:
        return None
    inner = cv2.erode(product.astype(np.uint8), np.ones((2 * int(12 * scale) + 1,) * 2, np.uint8)) > 0
    integral = cv2.integral(inner.astype(np.uint8))
    ys, xs = np.nonzero(product)
    top, bottom = int(np.percentile(ys, 15)), int(np.percentile(ys, 75))  # the chest/body, not hair or hem
    text = str(rng.choice(PRODUCT_TEXTS))
    face = str(rng.choice(PRODUCT_FACES))
    px = int(rng.integers(28, 56) * scale)
    while px >= 14 * scale:
        f = font(face, px)
        x0, y0, x1, y1 = text_box(text, f)
        w, h = x1 - x0 + 2, y1 - y0 + 2
        best = None
        for _ in range(300):
            x = int(rng.integers(xs.min(), max(xs.min() + 1, xs.max() - w)))
            y = int(rng.integers(top, max(top + 1, bottom - h)))
            if y + h >= inner.shape[0] or x + w >= inner.shape[1]:
                continue
            if integral[y + h, x + w] - integral[y, x + w] - integral[y + h, x] + integral[y, x] == w * h:
                std = float(image[y:y + h, x:x + w].std())
                if best is None or std < best[0]:
                    best = (std, x, y)
        if best:
            _, x, y = best
            colour = contrast_colour(image[y:y + h, x:x + w], rng)
            printed = paint_text(image, (x - x0, y - y0), text, f, colour, opacity=1.0)
            image[:] = printed.image
            return Item("product_text", text, printed.mask, box_quad(printed.box), style="inside")
        px = int(px * 0.8)
    return None


def free(box, taken, margin) -> bool:
    """``box`` keeps at least ``margin`` px from every box in ``taken`` (boxes (x0, y0, x1, y1), px)."""
    return all(box[2] + margin < t[0] or t[2] + margin < box[0] or box[3] + margin < t[1] or t[3] + margin < box[1]
               for t in taken)


def add_overlays(image, product, rng, scale, taken) -> list[Item]:
    """3-5 promo strings: corners/edges on the backdrop, a banner, and some crossing the product."""
    h, w = image.shape[:2]
    near_product = cv2.dilate(product.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    n = int(rng.integers(3, 6))
    crossing = int(rng.choice([0, 1, 1, 2])) if product.any() else 0
    banner = int(rng.random() < 0.35)
    styles = ["crossing"] * crossing + ["banner"] * banner + ["corner"] * max(0, n - crossing - banner)
    items = []
    for style in styles[:n]:
        text = str(rng.choice(CJK_TEXTS if rng.random() < 0.7 else LATIN_TEXTS))
        px = int(rng.integers(20, 81) * scale)
        for attempt in range(120):
            if attempt and attempt % 30 == 0:
                px = max(int(20 * scale), int(px * 0.8))  # crowded photo: try smaller
            f = get_font(text, px, rng)
            tb = text_box(text, f)
            tw, th = tb[2] - tb[0], tb[3] - tb[1]
            if tw > (0.9 if style == "banner" else 0.6) * w:
                px = int(px * 0.85)
                continue
            x, y = promo_position(style, tw, th, w, h, rng, scale)
            box = (x, y, x + tw, y + th)
            if not free(box, taken, 10 * scale):
                continue
            on = near_product[box[1]:box[3], box[0]:box[2]].mean()
            if (style == "corner" and on > 0) or (style == "crossing" and not 0.25 <= on <= 0.75):
                continue
            under = np.median(image[box[1]:box[3], box[0]:box[2]].reshape(-1, 3), axis=0)
            visible = [c for c in COLOURS if np.linalg.norm(np.subtract(c, under)) > 120]
            colour = visible[rng.integers(len(visible))] if visible else COLOURS[rng.integers(len(COLOURS))]
            stroke = int(rng.integers(2, 5) * scale) if rng.random() < 0.3 else 0
            plate = None
            if style == "banner":
                plate_colour = COLOURS[[0, 1, 2, 4, 5, 6][rng.integers(6)]]
                colour = (255, 255, 255) if sum(plate_colour) < 450 else (200, 0, 0)
                margin = int(rng.integers(0, int(0.15 * w)))
                plate = Plate(margin, w - 1 - margin, plate_colour)
            promo = paint_text(image, (x - tb[0], y - tb[1]), text, f, colour, stroke_px=stroke,
                               stroke_fill=(20, 20, 20) if sum(colour) > 450 else (255, 255, 255), plate=plate,
                               opacity=float(rng.uniform(0.6, 1.0)))
            image[:] = promo.image
            box = promo.box
            taken.append(box if plate is None else (0, box[1] - th // 2, w, box[3] + th // 2))
            items.append(Item("overlay", text, promo.mask, box_quad(box), style=style))
            break
    return items


def promo_position(style: str, tw: int, th: int, w: int, h: int, rng: np.random.Generator,
                   scale: float) -> tuple[int, int]:
    """Top-left corner (px) for a ``tw`` x ``th`` promo string in a ``w`` x ``h`` photo: a corner (some along
    the sides) 8-40 px in, centred at the top or bottom (banner), or anywhere (crossing)."""
    if style == "corner":
        m = int(rng.integers(8, 40) * scale)
        x = m if rng.random() < 0.5 else w - tw - m
        y = m if rng.random() < 0.5 else h - th - m
        y = int(rng.integers(m, h - th - m)) if rng.random() < 0.3 else y  # some along the sides
        return x, y
    if style == "banner":
        return (w - tw) // 2, int(0.04 * h) if rng.random() < 0.5 else int(0.93 * h - th)
    return int(rng.integers(0, w - tw)), int(rng.integers(0, h - th))


def add_qr(image, rng, scale, taken, product) -> list[Item]:
    """A real QR code (white quiet zone) on the backdrop, sometimes with a caption under it."""
    h, w = image.shape[:2]
    module_px = int(max(2, round(rng.integers(3, 8) * scale)))
    code = qr_image(qr_modules(f"https://u.wechat.com/shop{rng.integers(1000, 9999)}"), module_px)
    side = code.height
    caption = rng.random() < 0.5
    for _ in range(80):
        x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side - (50 * scale if caption else 0)))
        box = (x, y, x + side, y + side)
        if free(box, taken, 8 * scale) and not product[y:y + side, x:x + side].any():
            painted = paint_qr(image, (x, y), code)
            image[:] = painted.image
            taken.append(box)
            inner = box_quad(box) + np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * 4 * module_px  # no quiet zone
            items = [Item("qr", "", painted.mask, inner.astype(np.float32))]
            if caption:
                f = get_font("扫码加微信", int(26 * scale), rng)
                label = paint_text(image, (x + int(0.1 * side), y + side + 2), "扫码加微信", f, (20, 20, 20),
                                   opacity=1.0)
                if free(label.box, taken, 2):
                    image[:] = label.image
                    taken.append(label.box)
                    items.append(Item("overlay", "扫码加微信", label.mask, box_quad(label.box), style="qr-caption"))
            return items
    return []


def add_watermark(image, rng, scale) -> list[Item]:
    """Tiled semi-transparent diagonal text over the whole image; one item per (wholly visible) tile."""
    text = str(rng.choice(WATERMARKS))
    f = get_font(text, int(rng.integers(40, 71) * scale), rng)
    angle = float(rng.uniform(20, 40))
    colour = (120, 120, 120) if image.mean() > 110 else (255, 255, 255)
    opacity = float(rng.uniform(0.15, 0.35))
    spacing = (rng.uniform(1.4, 1.8), rng.uniform(2.6, 3.6))  # text widths along, text heights across
    out, tiles = paint_watermark_tiles(image, text, f, colour, opacity, angle=angle, spacing=spacing)
    image[:] = out
    return [Item("watermark", text, tile.mask, tile.quad, style="tile") for tile in tiles]


def make_case(clean: np.ndarray, segmenter, rng: np.random.Generator, qr: bool, watermark: bool):
    """(clean original incl. product print, overlaid input, product mask, items)."""
    scale = max(clean.shape[:2]) / 1024
    product = segmenter.segment(clean)
    base = clean.copy()
    items = [it for it in [place_product_text(base, product, rng, scale)] if it]
    image, taken = base.copy(), [tuple(map(int, it.quad.min(0).tolist() + it.quad.max(0).tolist())) for it in items]
    if qr:
        items += add_qr(image, rng, scale, taken, product)
    items += add_overlays(image, product, rng, scale, taken)
    if watermark:
        items += add_watermark(image, rng, scale)
    for it in items:
        if it.kind == "overlay":
            it.where = "crossing" if (it.mask & product).sum() > 0.05 * max(1, it.mask.sum()) else "background"
    return base, image, product, items


# ---------------------------------------------------------------- judging
def matches(det, item: Item) -> bool:
    """OCR region ``det`` shows ``item``: boxes overlap (IoU > 0.3 or > 50% of det) and share a character."""
    a = cv2.convexHull(np.asarray(det.polygon, np.float32)).reshape(-1, 2)
    b = cv2.convexHull(item.quad).reshape(-1, 2)
    inter, _ = cv2.intersectConvexConvex(a, b)
    area_a, area_b = cv2.contourArea(a), cv2.contourArea(b)
    geom = inter > 0.3 * (area_a + area_b - inter) or inter > 0.5 * max(area_a, 1e-6)
    chars = lambda s: {c for c in s.casefold() if c.isalnum()}  # noqa: E731
    return bool(geom and chars(det.text) & chars(item.text))


def seen_in_region(ocr, image: np.ndarray, item: Item) -> bool:
    """OCR run on the item's region alone (padded crop): the full-image pass misses faint watermark
    tiles once the rest of the image is smooth, a crop does not."""
    (x0, y0), (x1, y1) = item.quad.min(0), item.quad.max(0)
    pad = 0.25 * (y1 - y0)
    h, w = image.shape[:2]
    ox, oy = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    crop = np.ascontiguousarray(image[oy:min(h, int(y1 + pad)), ox:min(w, int(x1 + pad))])
    local = replace(item, quad=item.quad - np.float32([ox, oy]))
    return any(matches(d, local) for d in ocr.detect(crop))


def qr_present(image: np.ndarray, item: Item) -> bool:
    x0, y0 = item.quad.min(0)
    x1, y1 = item.quad.max(0)
    pad = 0.3 * (x1 - x0)
    h, w = image.shape[:2]
    crop = image[max(0, int(y0 - pad)):min(h, int(y1 + pad)), max(0, int(x0 - pad)):min(w, int(x1 + pad))]
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    det = cv2.QRCodeDetector()
    text, points, _ = det.detectAndDecode(gray)
    return bool(text) or points is not None or bool(det.detect(gray)[0])


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    if not mask.any():
        return None
    mse = float(((a[mask].astype(np.float64) - b[mask]) ** 2).mean())
    return 100.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def judge(base, image, product, result, items, ocr) -> dict:
    before, after = ocr.detect(image), ocr.detect(result.cleaned)
    overlaid = np.any(image != base, axis=-1)  # every pixel some overlay, QR or watermark changed
    rows = []
    for it in items:
        row = {"kind": it.kind, "text": it.text, "where": it.where, "style": it.style,
               "box": np.round(it.quad).astype(int).tolist()}
        if it.kind == "qr":
            row["seen_before"], row["present_after"] = qr_present(image, it), qr_present(result.cleaned, it)
        elif it.kind == "watermark":
            row["seen_before"] = seen_in_region(ocr, image, it)
            row["present_after"] = seen_in_region(ocr, result.cleaned, it)
        else:
            row["seen_before"] = any(matches(d, it) for d in before)
            row["present_after"] = any(matches(d, it) for d in after)
        row["in_removed_mask"] = round(float(result.removed_mask[it.mask].mean()), 4) if it.mask.any() else 0.0
        if it.kind == "product_text":  # its pixels no overlay covers (those under one must change)
            own = it.mask & ~overlaid
            row["unchanged"] = round(float((result.cleaned[own] == image[own]).all(-1).mean()), 4) \
                if own.any() else 1.0
        rows.append(row)
    product_px = np.zeros(image.shape[:2], bool)
    overlay_px = np.zeros(image.shape[:2], bool)
    for it in items:
        (product_px if it.kind == "product_text" else overlay_px)[:] |= it.mask
    overlay_px &= ~product_px
    outside = ~result.removed_mask
    diff = np.abs(result.cleaned.astype(np.int16) - image.astype(np.int16))
    untouched = product & ~overlay_px & ~product_px  # product pixels no overlay covered: should not change
    changed = np.any(result.cleaned != image, axis=-1)
    return {"items": rows, "psnr_in_mask": psnr(result.cleaned, base, overlay_px),
            "product_px_changed": round(float(changed[untouched].mean()), 5) if untouched.any() else 0.0,
            "psnr_input": psnr(image, base, overlay_px),
            "max_change_outside": int(diff[outside].max()) if outside.any() else 0,
            "removed_share": round(float(result.removed_mask.mean()), 4),
            "ocr_after": [d.text for d in after]}


# ---------------------------------------------------------------- report
def summarise(cases: list[dict], times: list[float], size: str) -> dict:
    rows = [r for c in cases for r in c["items"]]

    def share(sel, ok) -> dict:
        sel = [r for r in rows if sel(r)]
        return {"value": round(sum(map(ok, sel)) / len(sel), 3) if sel else None, "hits": sum(map(ok, sel)),
                "count": len(sel), "seen_before": sum(r["seen_before"] for r in sel),
                "gone_of_seen": sum(r["seen_before"] and not r["present_after"] for r in sel),
                "masked": sum(r["in_removed_mask"] >= 0.9 for r in sel)}

    gone = lambda r: not r["present_after"]  # noqa: E731
    psnrs = [c["psnr_in_mask"] for c in cases if c["psnr_in_mask"] is not None]
    base = [c["psnr_input"] for c in cases if c["psnr_input"] is not None]
    return {
        "images": len(cases), "image_size": size,
        "overlay_removed": share(lambda r: r["kind"] == "overlay", gone),
        "overlay_removed_background": share(lambda r: r["kind"] == "overlay" and r["where"] == "background", gone),
        "overlay_removed_crossing": share(lambda r: r["kind"] == "overlay" and r["where"] == "crossing", gone),
        "qr_removed": share(lambda r: r["kind"] == "qr", gone),
        "watermark_removed": share(lambda r: r["kind"] == "watermark", gone),
        "product_text_kept": share(lambda r: r["kind"] == "product_text",
                                   lambda r: r["present_after"] and r["unchanged"] >= 0.95),
        "product_text_found_after": share(lambda r: r["kind"] == "product_text", lambda r: r["present_after"]),
        "product_text_unchanged": share(lambda r: r["kind"] == "product_text", lambda r: r["unchanged"] >= 0.95),
        "psnr_in_mask": round(float(np.mean(psnrs)), 2) if psnrs else None,
        "psnr_in_mask_input": round(float(np.mean(base)), 2) if base else None,
        "max_change_outside": max(c["max_change_outside"] for c in cases),
        "product_px_changed": round(float(np.mean([c["product_px_changed"] for c in cases])), 5),
        "seconds_per_image": {"mean": round(float(np.mean(times)), 3), "max": round(float(np.max(times)), 3)},
        "by_watermark": {label: {"images": len(sel), "seconds_per_image": _mean([c["seconds"] for c in sel]),
                                 "product_px_changed": _mean([c["product_px_changed"] for c in sel], 5)}
                         for label, sel in (("with", [c for c in cases if _watermarked(c)]),
                                            ("without", [c for c in cases if not _watermarked(c)]))},
    }


def _watermarked(case: dict) -> bool:
    return any(r["kind"] == "watermark" for r in case["items"])


def _mean(values: list[float], digits: int = 3) -> float | None:
    return round(float(np.mean(values)), digits) if values else None


def print_table(s: dict, header: str) -> None:
    print(header)
    print(f"{'metric':30s} {'value':>8s}  {'hits/count':>10s}  {'seen in input':>13s}  {'gone of seen':>12s}  "
          f"{'>=90% masked':>12s}")
    for key in ("overlay_removed", "overlay_removed_background", "overlay_removed_crossing", "qr_removed",
                "watermark_removed", "product_text_kept", "product_text_found_after", "product_text_unchanged"):
        m = s[key]
        value = "-" if m["value"] is None else f"{m['value']:.3f}"
        label = key.replace("overlay_removed_", "  overlay ").replace("product_text_", "  product text ") \
            if key not in ("overlay_removed", "product_text_kept") else key
        print(f"{label:30s} {value:>8s}  {m['hits']:>4d}/{m['count']:<5d}  {m['seen_before']:>13d}  "
              f"{m['gone_of_seen']:>12d}  {m['masked']:>12d}")
    print(f"{'psnr_in_mask (dB)':30s} {s['psnr_in_mask']!s:>8s}  "
          f"(input vs clean original: {s['psnr_in_mask_input']} dB)")
    print(f"{'max_change_outside':30s} {s['max_change_outside']:>8d}  (must be 0)")
    print(f"{'product_px_changed':30s} {s['product_px_changed']:>8.4f}  (share of product pixels under no overlay "
          f"that the clean stage altered)")
    t = s["seconds_per_image"]
    print(f"{'seconds_per_image':30s} {t['mean']:>8.2f}  max {t['max']:.2f} s at {s['image_size']}")
    for label, b in s["by_watermark"].items():
        if b["images"]:
            print(f"  {label + ' tiled watermark':28s} {b['seconds_per_image']:>8.2f}  s/image over {b['images']} "
                  f"images; product_px_changed {b['product_px_changed']:.4f}")


def save_example(path: Path, image, result, items) -> None:
    """input | cleaned | ground truth (red) vs the pipeline's removed mask (green; yellow = both)."""
    truth = np.zeros(image.shape[:2], bool)
    for it in items:
        if it.kind != "product_text":
            truth |= it.mask
    diag = (image * 0.35).astype(np.uint8)
    diag[truth] = (220, 40, 40)
    diag[result.removed_mask] = (40, 200, 40)
    diag[truth & result.removed_mask] = (230, 220, 40)
    for it in items:
        if it.kind == "product_text":
            cv2.polylines(diag, [np.round(it.quad).astype(np.int32)], True, (80, 160, 255), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([image, result.cleaned, diag], axis=1)).save(path)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", help="folder of real clean photos (read only); default: drawn photos")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=1024, help="longer side of every photo (px)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="pipeline.yaml (default: configs/pipeline.yaml)")
    ap.add_argument("--json", help="write the metrics and per-item results here")
    ap.add_argument("--save-examples", help="folder for input | cleaned | masks PNGs")
    args = ap.parse_args(argv)

    cfg = load_pipeline_config(args.config)
    ocr, inpainter, segmenter = (load_engine(k, cfg.engine(k)) for k in ("ocr", "inpaint", "segment"))
    options = CleanOptions.from_config(cfg.clean, "keep_product_text")
    defaults = sorted(f.name for f in dataclasses.fields(CleanOptions) if f.name not in cfg.clean)
    shown = {k: (f"[{len(v)} patterns]" if isinstance(v, (list, tuple)) else v) for k, v in cfg.clean.items()}
    print(f"config {cfg.path}: ocr={cfg.engine('ocr').name} inpaint={cfg.engine('inpaint').name} "
          f"segment={cfg.engine('segment').name}\nclean options {shown}; defaults for {defaults}")
    photos = load_inputs(args.corpus, args.n, args.size, args.seed)
    cases, times, sizes = [], [], set()
    plan = np.random.default_rng([args.seed, 10**6])  # exactly half get a QR code, a third a watermark
    with_qr = set(plan.permutation(len(photos))[:round(len(photos) / 2)].tolist())
    with_wm = set(plan.permutation(len(photos))[:round(len(photos) / 3)].tolist())
    t_start = time.perf_counter()
    for i, (name, clean) in enumerate(photos):
        rng = np.random.default_rng([args.seed, i])
        cv2.setRNGSeed(args.seed * 1000 + i)
        base, image, product, items = make_case(clean, segmenter, rng, i in with_qr, i in with_wm)
        cv2.setRNGSeed(args.seed * 1000 + i)
        t0 = time.perf_counter()
        result = remove_overlay_text(image, ocr, inpainter, segmenter, options)
        times.append(time.perf_counter() - t0)
        case = {"name": name, "seconds": round(times[-1], 3), **judge(base, image, product, result, items, ocr)}
        cases.append(case)
        sizes.add(f"{image.shape[1]}x{image.shape[0]}")
        kinds = {k: sum(it.kind == k for it in items) for k in ("overlay", "qr", "watermark", "product_text")}
        left = [r["text"] or "QR" for r in case["items"] if r["kind"] != "product_text" and r["present_after"]]
        lost = [r["text"] for r in case["items"] if r["kind"] == "product_text"
                and not (r["present_after"] and r["unchanged"] >= 0.95)]
        print(f"[{i + 1:2d}/{len(photos)}] {name:22s} {kinds} clean {times[-1]:.2f}s  "
              f"psnr {case['psnr_in_mask'] or 0:.1f}  left: {left}  product text lost: {lost}", flush=True)
        if args.save_examples:
            save_example(Path(args.save_examples) / f"{i:02d}_{name.replace('/', '_')}.png", image, result, items)
    summary = summarise(cases, times, ", ".join(sorted(sizes)))
    source = args.corpus or "drawn photos"
    print_table(summary, f"\nclean benchmark: {len(cases)} images from {source}, seed {args.seed}, "
                         f"total {time.perf_counter() - t_start:.0f}s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "args": vars(args), "clean_options": dataclasses.asdict(options),
                                               "cases": cases}, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
