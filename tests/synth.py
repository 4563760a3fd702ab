"""Small synthetic supplier photos for tests: a tiny flat-lay shirt, with clutter drawn by catloc.synthetic,
and a model on a studio backdrop with a mask per body part."""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

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


def model_photo(h: int = 480, w: int = 360, *, garment=(30, 40, 90), backdrop=(205, 203, 198), vignette: float = 30.0,
                seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A model on a studio backdrop that darkens towards the corners (``vignette`` levels), cut by the
    bottom edge: hair, a face and neck, a garment on the torso with sleeves, and trousers running out
    of the photo. Mild sensor noise, a camera's soft edge.

    Returns (RGB uint8 image (h, w, 3), bool masks (h, w) by part: "hair", "face" (face and neck),
    "garment", "legs", and "person", their union).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / np.sqrt(2)
    image = np.asarray(backdrop, np.float32)[None, None] - vignette * r[..., None] ** 2
    parts = {name: np.zeros((h, w), np.uint8) for name in ("hair", "face", "garment", "legs")}
    cx = w // 2
    cv2.ellipse(parts["hair"], (cx, int(0.15 * h)), (int(0.085 * w), int(0.075 * h)), 0, 0, 360, 1, -1)
    cv2.ellipse(parts["face"], (cx, int(0.18 * h)), (int(0.065 * w), int(0.07 * h)), 0, 0, 360, 1, -1)
    parts["face"][int(0.22 * h):int(0.3 * h), cx - int(0.03 * w):cx + int(0.03 * w)] = 1        # the neck
    parts["hair"][parts["face"] > 0] = 0
    torso = np.array([[cx - 0.17 * w, 0.28 * h], [cx + 0.17 * w, 0.28 * h], [cx + 0.3 * w, 0.55 * h],
                      [cx + 0.22 * w, 0.58 * h], [cx + 0.15 * w, 0.42 * h], [cx + 0.15 * w, 0.66 * h],
                      [cx - 0.15 * w, 0.66 * h], [cx - 0.15 * w, 0.42 * h], [cx - 0.22 * w, 0.58 * h],
                      [cx - 0.3 * w, 0.55 * h]], np.int32)
    cv2.fillPoly(parts["garment"], [torso], 1)
    parts["legs"][int(0.66 * h):, cx - int(0.13 * w):cx - int(0.01 * w)] = 1
    parts["legs"][int(0.66 * h):, cx + int(0.01 * w):cx + int(0.13 * w)] = 1
    colours = {"hair": (60, 40, 30), "face": (214, 170, 140), "garment": garment, "legs": (70, 65, 60)}
    for name in ("legs", "garment", "face", "hair"):
        on = parts[name] > 0
        shade = 1.0 + 0.04 * np.sin(xx[on] / 9.0) * np.cos(yy[on] / 13.0)        # folds, not a flat colour
        image[on] = np.asarray(colours[name], np.float32)[None] * shade[:, None]
    image += rng.normal(0, 1.2, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    image = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(0.7)))
    masks = {name: m > 0 for name, m in parts.items()}
    masks["person"] = masks["hair"] | masks["face"] | masks["garment"] | masks["legs"]
    return image, masks
