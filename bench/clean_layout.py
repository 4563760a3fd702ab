"""Supplier clutter for the clean benchmark, laid out the way suppliers add it, with ground truth.

:func:`make_case` takes a clean photo and draws on it, in this order, every item with the mask of
the pixels it changed (the painters are :mod:`catloc.synthetic`'s; only the layout lives here):

* a brand print on the product (``print``), fully inside the product mask, printed rather than drawn
  (:func:`catloc.synthetic.paint_print`: the ink takes the fabric's shading and grain, soft edges, turned
  up to 3 degrees): product text that must stay;
* a QR code on about half the photos, on the backdrop: bare (with its quiet zone) and a caption
  under it, or on a white rounded card with the caption on the card;
* 3-5 promo strings (Chinese and Latin: promo words, shop names, prices, WeChat ids, handles, URLs;
  20-80 px at 1024 px, several fonts and colours, opacity 0.6-1.0, a third outlined), each in one
  style: ``corner`` (on the backdrop, near the edges), ``banner`` (on a plate across the photo),
  ``crossing`` (25-75% on the product) and ``on_product`` (fully on the garment, drawn flat:
  "SALE 50% OFF", "品质保证 假一罚十" on a floral dress);
* a tiled diagonal watermark (the shop's name, opacity 0.15-0.35) over the whole photo, product
  included, on about a third of the photos.

Items never cover the boxes in ``keep_clear`` (the photo's own text, read before anything is
drawn), except the watermark, which covers everything as suppliers' watermarks do.
Lengths scale with the photo: ``scale`` = longer side / 1024.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import ImageFont

from catloc.synthetic import (Plate, QrCard, changed_pixels, font, paint_print, paint_qr, paint_text,
                              paint_watermark_tiles,
                              qr_image, qr_modules, text_box)

LATIN_FACES = ["sans_bold", "sans", "serif_bold", "cond_bold_oblique", "mono_bold"]  # catloc.synthetic.LATIN_FONTS
PRINT_FACES = ["sans_bold", "serif_bold", "cond_bold"]
PROMO_ZH = ["厂家直销", "包邮", "新款上市", "限时特价", "一件代发", "现货速发 包邮", "实拍图 品质保证",
            "品质保证 假一罚十", "热卖爆款"]
SHOPS_ZH = ["潮流女装旗舰店", "小美服饰专营店", "优品男装店"]
PRICES = ["¥39.9", "特价 ¥59", "批发价 ¥25", "$12.99", "US$ 8.50"]
HANDLES = ["微信: shop8888", "VX: xm2024", "@shop8888", "www.shop8888.com", "WhatsApp +86 138 0000 8888"]
PROMO_EN = ["HOT SALE", "NEW ARRIVAL", "FREE SHIPPING", "50% OFF", "SALE 50% OFF", "S M L XL XXL"]
ON_PRODUCT = ["SALE 50% OFF", "品质保证 假一罚十", "NEW ARRIVAL", "包邮", "¥89", "热卖爆款", "HOT SALE", "实拍",
              "韩版修身", "时尚女装", "优品男装店"]  # the last three: no promo word, Chinese only
WATERMARKS = ["盗图必究", "潮流女装旗舰店", "实拍 盗图必究", "shop8888"]
PRINTS = ["SUMMER 1988", "CAFÉ", "BROOKLYN", "NO.7", "LOVE", "ATHLETIC"]
COLOURS = [(220, 20, 20), (235, 100, 0), (250, 210, 0), (255, 255, 255), (20, 20, 20), (30, 70, 200),
           (230, 40, 140)]


@dataclass
class Item:
    """One drawn item (or one text the photo carries) and its ground truth."""

    kind: str          # overlay | qr | watermark | print | photo_text
    text: str
    mask: np.ndarray   # bool (H, W): pixels the item changed (photo_text: its box)
    quad: np.ndarray   # (4, 2) float32: the text box (OCR matching), or the QR code's square without quiet zone
    style: str = ""    # overlay: corner | banner | crossing | on_product | qr_caption; qr: bare | card
    region: np.ndarray | None = None  # bool (H, W): where the item's restoration is scored (default: mask)
    facts: dict = field(default_factory=dict)

    @property
    def scored(self) -> np.ndarray:
        return self.mask if self.region is None else self.region


def box_quad(box) -> np.ndarray:
    """The corners of box (x0, y0, x1, y1), clockwise from the top left: float32 (4, 2), px."""
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def quad_box(quad: np.ndarray) -> tuple[int, int, int, int]:
    """The integer bounding box (x0, y0, x1, y1) of a (N, 2) polygon."""
    (x0, y0), (x1, y1) = np.floor(quad.min(0)), np.ceil(quad.max(0))
    return int(x0), int(y0), int(x1), int(y1)


def box_mask(shape: tuple[int, int], box) -> np.ndarray:
    """Bool (H, W): the pixels of box (x0, y0, x1, y1), clipped to the image."""
    out = np.zeros(shape, bool)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    out[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    return out


def get_font(text: str, px: int, rng: np.random.Generator) -> ImageFont.FreeTypeFont:
    """A random font for ``text`` at ``px`` pixels: the CJK one (face 0 or 2 of its collection) for Chinese
    text and for 30% of the rest, else one of LATIN_FACES."""
    if any(ord(c) > 0x2E80 for c in text) or rng.random() < 0.3:
        return font("cjk", px, index=int(rng.choice([0, 2])))
    return font(str(rng.choice(LATIN_FACES)), px)


def contrast_colour(region: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random print colour that stands out on ``region`` (RGB): dark on light fabric, light on dark."""
    lum = float(np.median(region.reshape(-1, 3) @ [0.299, 0.587, 0.114])) if region.size else 200.0
    dark, light = [(20, 20, 20), (120, 20, 30), (10, 40, 90)], [(250, 250, 250), (245, 215, 110)]
    return tuple(int(c) for c in (dark if lum > 130 else light)[rng.integers(0, 3 if lum > 130 else 2)])


def free(box, taken, margin) -> bool:
    """``box`` keeps at least ``margin`` px from every box in ``taken`` (boxes (x0, y0, x1, y1), px)."""
    return all(box[2] + margin < t[0] or t[2] + margin < box[0] or box[3] + margin < t[1] or t[3] + margin < box[1]
               for t in taken)


def fits_inside(inner: np.ndarray, box) -> bool:
    """Whether every pixel of ``box`` lies in ``inner`` (bool (H, W))."""
    x0, y0, x1, y1 = box
    h, w = inner.shape
    return 0 <= x0 and 0 <= y0 and x1 <= w and y1 <= h and bool(inner[y0:y1, x0:x1].all())


def place_print(image, product, rng, scale, taken) -> Item | None:
    """An opaque brand print on the flattest free spot fully inside the (eroded) product mask, on its
    chest/body (between 15% and 75% of its height)."""
    if product.sum() < 0.04 * product.size:
        return None
    inner = cv2.erode(product.astype(np.uint8), np.ones((2 * int(12 * scale) + 1,) * 2, np.uint8)) > 0
    ys, xs = np.nonzero(product)
    top, bottom = int(np.percentile(ys, 15)), int(np.percentile(ys, 75))
    text, face = str(rng.choice(PRINTS)), str(rng.choice(PRINT_FACES))
    px = int(rng.integers(28, 56) * scale)
    while px >= 14 * scale:
        f = font(face, px)
        x0, y0, x1, y1 = text_box(text, f)
        w, h = x1 - x0 + 2, y1 - y0 + 2
        best = None
        for _ in range(300):
            x = int(rng.integers(xs.min(), max(xs.min() + 1, xs.max() - w)))
            y = int(rng.integers(top, max(top + 1, bottom - h)))
            if fits_inside(inner, (x, y, x + w, y + h)) and free((x, y, x + w, y + h), taken, 6 * scale):
                std = float(image[y:y + h, x:x + w].std())
                if best is None or std < best[0]:
                    best = (std, x, y)
        if best:
            _, x, y = best
            printed = paint_print(image, (x - x0, y - y0), text, f, contrast_colour(image[y:y + h, x:x + w], rng),
                                  angle=float(rng.uniform(-3, 3)), blur_px=float(rng.uniform(0.6, 1.0)))
            image[:] = printed.image
            taken.append(quad_box(box_quad(printed.box)))
            return Item("print", text, printed.mask, box_quad(printed.box), style="inside")
        px = int(px * 0.8)
    return None


def promo_text(style: str, rng: np.random.Generator) -> str:
    """What a promo string of ``style`` says: on the product, one of ON_PRODUCT; elsewhere Chinese promo
    words and shop names (60%), prices, handles and URLs, or Latin promo words."""
    if style == "on_product":
        return str(rng.choice(ON_PRODUCT))
    pool = [PROMO_ZH, SHOPS_ZH, PRICES, HANDLES, PROMO_EN][int(rng.choice(5, p=[0.4, 0.2, 0.15, 0.15, 0.1]))]
    return str(rng.choice(pool))


def promo_styles(rng: np.random.Generator, product: np.ndarray) -> list[str]:
    """The styles of a photo's 3-5 promo strings: 0-2 crossing the product, a banner on 35% of the photos,
    one on the product on 50% of the photos with a product, the rest in corners."""
    n = int(rng.integers(3, 6))
    has_product = product.sum() > 0.04 * product.size
    crossing = int(rng.choice([0, 1, 1, 2])) if has_product else 0
    banner = int(rng.random() < 0.35)
    on_product = int(has_product and rng.random() < 0.5)
    styles = ["on_product"] * on_product + ["crossing"] * crossing + ["banner"] * banner
    return (styles + ["corner"] * n)[:n]


def promo_position(style: str, tw: int, th: int, w: int, h: int, rng: np.random.Generator,
                   scale: float) -> tuple[int, int]:
    """Top-left corner (px) for a ``tw`` x ``th`` promo string in a ``w`` x ``h`` photo: a corner (some along
    the sides) 8-40 px in, centred at the top or bottom (banner), or anywhere (crossing, on the product)."""
    if style == "corner":
        m = int(rng.integers(8, 40) * scale)
        x = m if rng.random() < 0.5 else w - tw - m
        y = m if rng.random() < 0.5 else h - th - m
        y = int(rng.integers(m, max(m + 1, h - th - m))) if rng.random() < 0.3 else y  # some along the sides
        return x, y
    if style == "banner":
        return (w - tw) // 2, int(0.04 * h) if rng.random() < 0.5 else int(0.93 * h - th)
    return int(rng.integers(0, max(1, w - tw))), int(rng.integers(0, max(1, h - th)))


def where_ok(style: str, box, near_product: np.ndarray, inner: np.ndarray) -> bool:
    """Whether ``box`` suits ``style``: a corner off the product, a crossing string 25-75% on it, an
    on-product one wholly inside it."""
    x0, y0, x1, y1 = box
    if style == "on_product":
        return fits_inside(inner, box)
    on = float(near_product[max(0, y0):y1, max(0, x0):x1].mean()) if x1 > x0 and y1 > y0 else 0.0
    return not ((style == "corner" and on > 0) or (style == "crossing" and not 0.25 <= on <= 0.75))


def draw_promo(image, style, text, f, box_at, rng, scale) -> Item:
    """Paint one promo string of ``style`` whose text box starts at ``box_at`` (x, y) in font ``f``."""
    tb = text_box(text, f)
    x, y = box_at
    w = image.shape[1]
    under = np.median(image[y:y + tb[3] - tb[1], x:x + tb[2] - tb[0]].reshape(-1, 3), axis=0)
    visible = [c for c in COLOURS if np.linalg.norm(np.subtract(c, under)) > 120]
    colour = visible[rng.integers(len(visible))] if visible else COLOURS[rng.integers(len(COLOURS))]
    stroke = int(rng.integers(2, 5) * scale) if rng.random() < 0.3 else 0
    plate = None
    if style == "banner":
        plate_colour = COLOURS[[0, 1, 2, 4, 5, 6][rng.integers(6)]]
        colour = (255, 255, 255) if sum(plate_colour) < 450 else (200, 0, 0)
        margin = int(rng.integers(0, int(0.15 * w)))
        plate = Plate(margin, w - 1 - margin, plate_colour)
    opacity = float(rng.uniform(0.85, 1.0) if style == "on_product" else rng.uniform(0.6, 1.0))
    promo = paint_text(image, (x - tb[0], y - tb[1]), text, f, colour, stroke_px=stroke,
                       stroke_fill=(20, 20, 20) if sum(colour) > 450 else (255, 255, 255), plate=plate,
                       opacity=opacity)
    image[:] = promo.image
    return Item("overlay", text, promo.mask, box_quad(promo.box), style=style)


def add_overlays(image, product, rng, scale, taken) -> list[Item]:
    """The photo's 3-5 promo strings (:func:`promo_styles`), each placed where its style wants it and
    clear of ``taken`` (boxes, which grow with each string drawn)."""
    h, w = image.shape[:2]
    near_product = cv2.dilate(product.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    inner = cv2.erode(product.astype(np.uint8), np.ones((2 * int(8 * scale) + 1,) * 2, np.uint8)) > 0
    items = []
    for style in promo_styles(rng, product):
        text = promo_text(style, rng)
        px = int(rng.integers(24 if style == "on_product" else 20, 61 if style == "on_product" else 81) * scale)
        for attempt in range(150):
            if attempt and attempt % 30 == 0:
                px = max(int(18 * scale), int(px * 0.8))  # crowded photo: try smaller
            f = get_font(text, px, rng)
            tb = text_box(text, f)
            tw, th = tb[2] - tb[0], tb[3] - tb[1]
            if tw > (0.9 if style == "banner" else 0.6) * w:
                px = int(px * 0.85)
                continue
            x, y = promo_position(style, tw, th, w, h, rng, scale)
            box = (x, y, x + tw, y + th)
            if not free(box, taken, 10 * scale) or not where_ok(style, box, near_product, inner):
                continue
            item = draw_promo(image, style, text, f, (x, y), rng, scale)
            box = quad_box(item.quad)
            taken.append(box if style != "banner" else (0, box[1] - th // 2, w, box[3] + th // 2))
            items.append(item)
            break
    return items


def add_qr(image, rng, scale, taken, product) -> list[Item]:
    """A real QR code on the backdrop: bare (quiet zone) with a caption under it, or on a captioned card."""
    h, w = image.shape[:2]
    module_px = int(max(2, round(rng.integers(3, 8) * scale)))
    code = qr_image(qr_modules(f"https://u.wechat.com/shop{rng.integers(1000, 9999)}"), module_px)
    on_card = rng.random() < 0.5
    caption_f = get_font("扫码加微信", int(26 * scale), rng)
    card = QrCard(pad_px=int(10 * scale), radius_px=int(14 * scale), outline_px=max(1, int(2 * scale)),
                  caption="扫码加微信", caption_font=caption_f, caption_h_px=int(40 * scale)) if on_card else None
    pad = card.pad_px if card else 0
    below = card.caption_h_px if card else int(50 * scale)
    for _ in range(100):
        x = int(rng.integers(pad, max(pad + 1, w - code.width - pad)))
        y = int(rng.integers(pad, max(pad + 1, h - code.height - pad - below)))
        box = (x - pad, y - pad, x + code.width + pad, y + code.height + pad + below)
        if not free(box, taken, 8 * scale) or product[max(0, box[1]):box[3], max(0, box[0]):box[2]].any():
            continue
        painted = paint_qr(image, (x, y), code, card)
        image[:] = painted.image
        taken.append(box)
        inner = box_quad((x, y, x + code.width, y + code.height)) + \
            np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * 4 * module_px  # the code without its quiet zone
        square = box_mask(image.shape[:2], painted.box if card else (x, y, x + code.width, y + code.height))
        items = [Item("qr", "", painted.mask, inner.astype(np.float32), style="card" if card else "bare",
                      region=square | painted.mask)]
        if card is None:
            label = paint_text(image, (x + int(0.1 * code.width), y + code.height + 2), "扫码加微信", caption_f,
                               (20, 20, 20), opacity=1.0)
            image[:] = label.image
            items.append(Item("overlay", "扫码加微信", label.mask, box_quad(label.box), style="qr_caption"))
        return items
    return []


def add_watermark(image, rng, scale) -> list[Item]:
    """Tiled semi-transparent diagonal text over the whole photo, product included: one item whose mask
    is every pixel any tile changed (the tiles cut by the photo's edges too)."""
    text = str(rng.choice(WATERMARKS))
    f = get_font(text, int(rng.integers(40, 71) * scale), rng)
    angle = float(rng.uniform(20, 40))
    colour = (120, 120, 120) if image.mean() > 110 else (255, 255, 255)
    opacity = float(rng.uniform(0.15, 0.35))
    spacing = (rng.uniform(1.4, 1.8), rng.uniform(2.6, 3.6))  # text widths along, text heights across
    out, tiles = paint_watermark_tiles(image, text, f, colour, opacity, angle=angle, spacing=spacing)
    mask = changed_pixels(image, out)
    image[:] = out
    quad = tiles[0].quad if tiles else box_quad((0, 0, image.shape[1], image.shape[0]))
    return [Item("watermark", text, mask, quad, style="tiles", facts={"tiles": len(tiles), "opacity": opacity})]


def make_case(clean: np.ndarray, product: np.ndarray, rng: np.random.Generator, keep_clear: list,
              qr: bool, watermark: bool) -> tuple[np.ndarray, np.ndarray, list[Item]]:
    """(clean original with its drawn print, the overlaid input, the drawn items) for one photo whose
    product mask is ``product``; nothing but the watermark covers a box of ``keep_clear``."""
    scale = max(clean.shape[:2]) / 1024
    base = clean.copy()
    taken = [tuple(b) for b in keep_clear]
    items = [it for it in [place_print(base, product, rng, scale, taken)] if it]
    image = base.copy()
    if qr:
        items += add_qr(image, rng, scale, taken, product)
    items += add_overlays(image, product, rng, scale, taken)
    if watermark:
        items += add_watermark(image, rng, scale)
    for it in items:
        if it.kind == "overlay":
            it.facts["on_product"] = round(float(product[it.mask].mean()), 3) if it.mask.any() else 0.0
    return base, image, items
