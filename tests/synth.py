"""Small synthetic supplier photos for tests: a tiny flat-lay shirt, with clutter drawn by catloc.synthetic."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from catloc import synthetic
from catloc.synthetic import paint_qr, paint_text, qr_image, qr_modules


def font(px: int) -> ImageFont.FreeTypeFont:
    """The CJK font at ``px`` pixels (catloc.synthetic.FontMissingError, a RuntimeError, when none is installed)."""
    return synthetic.font("cjk", px)


def shirt(size: int, background, garment) -> tuple[np.ndarray, np.ndarray]:
    """A flat-lay T-shirt, shaded top to bottom, on a plain ``size`` x ``size`` backdrop.

    Returns (RGB uint8 image (size, size, 3), bool product mask (size, size)).
    """
    s = size / 384
    im = Image.new("RGB", (size, size), background)
    mask = Image.new("L", (size, size), 0)
    body = [(120 * s, 110 * s), (264 * s, 110 * s), (320 * s, 160 * s), (292 * s, 196 * s), (262 * s, 176 * s),
            (262 * s, 320 * s), (122 * s, 320 * s), (122 * s, 176 * s), (92 * s, 196 * s), (64 * s, 160 * s)]
    ImageDraw.Draw(im).polygon(body, fill=garment)
    ImageDraw.Draw(mask).polygon(body, fill=255)
    # fabric shading so it is not a flat colour
    arr = np.asarray(im).astype(np.float32)
    yy = np.linspace(0.92, 1.08, size)[:, None, None]
    inside = np.asarray(mask)[..., None] > 0
    arr = np.where(inside, np.clip(arr * yy, 0, 255), arr)
    return arr.astype(np.uint8), np.asarray(mask) > 0


def supplier_photo(size: int = 384, *, overlay: bool = True, qr: bool = False, product_text: str | None = "SUMMER",
                   background=(236, 236, 232), garment=(40, 90, 160)) -> tuple[np.ndarray, np.ndarray, dict]:
    """The shirt with an optional white print on it, Chinese promo text and a QR code on the backdrop.

    Returns (RGB image, ground-truth product mask, info): info["overlays"] holds the promo texts'
    boxes, info["product_text_box"] the print's and info["qr_box"] the QR code's (quiet zone
    included), each (x0, y0, x1, y1) in px, or None when not drawn.
    """
    s = size / 384
    image, mask = shirt(size, background, garment)
    info: dict = {"overlays": [], "product_text_box": None, "qr_box": None}
    if product_text:
        print_ = paint_text(image, (150 * s, 190 * s), product_text, synthetic.font("sans_bold", int(22 * s)),
                            (250, 250, 250))
        image, info["product_text_box"] = print_.image, print_.box
    if overlay:
        for text, xy, colour in (("厂家直销", (14 * s, 14 * s), (220, 20, 20)),
                                 ("包邮 ¥39.9", (200 * s, 336 * s), (230, 90, 0))):
            promo = paint_text(image, xy, text, font(int(30 * s)), colour)
            image = promo.image
            info["overlays"].append(promo.box)
    if qr:
        code = qr_image(qr_modules("https://weixin.qq.com/r/test-shop", quiet_modules=2), max(2, int(3 * s)))
        painted = paint_qr(image, (int(size - code.width - 8 * s), int(8 * s)), code)
        image, info["qr_box"] = painted.image, painted.box
    return image, mask, info
