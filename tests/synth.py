"""Small synthetic supplier photos for tests (drawn here; no external images)."""
from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageFont

CJK_CANDIDATES = [
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    for path in CJK_CANDIDATES:
        if Path(path).is_file():
            return path
    try:
        found = subprocess.run(["fc-match", "-f", "%{file}", ":lang=zh"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return found if found and Path(found).is_file() else None


def font(size: int) -> ImageFont.FreeTypeFont:
    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no CJK font: run `make setup` (installs fonts-wqy-zenhei)")
    return ImageFont.truetype(path, size)


def supplier_photo(size: int = 384, *, overlay: bool = True, qr: bool = False, product_text: str | None = "SUMMER",
                   background=(236, 236, 232), garment=(40, 90, 160)) -> tuple[np.ndarray, np.ndarray, dict]:
    """A flat-lay shirt on a plain backdrop, optional Chinese promo text and a QR code.

    Returns (RGB image, ground-truth product mask, info with the overlay boxes).
    """
    s = size / 384
    im = Image.new("RGB", (size, size), background)
    mask = Image.new("L", (size, size), 0)
    d, dm = ImageDraw.Draw(im), ImageDraw.Draw(mask)
    body = [(120 * s, 110 * s), (264 * s, 110 * s), (320 * s, 160 * s), (292 * s, 196 * s), (262 * s, 176 * s),
            (262 * s, 320 * s), (122 * s, 320 * s), (122 * s, 176 * s), (92 * s, 196 * s), (64 * s, 160 * s)]
    d.polygon(body, fill=garment)
    dm.polygon(body, fill=255)
    # fabric shading so it is not a flat colour
    arr = np.asarray(im).astype(np.float32)
    yy = np.linspace(0.92, 1.08, size)[:, None, None]
    inside = np.asarray(mask)[..., None] > 0
    arr = np.where(inside, np.clip(arr * yy, 0, 255), arr)
    im = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(im)
    info: dict = {"overlays": [], "product_text_box": None, "qr_box": None}
    if product_text:
        f = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", int(22 * s)) \
            if Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf").is_file() else font(int(22 * s))
        box = d.textbbox((150 * s, 190 * s), product_text, font=f)
        d.text((150 * s, 190 * s), product_text, font=f, fill=(250, 250, 250))
        info["product_text_box"] = box
    if overlay:
        for text, xy, colour in (("厂家直销", (14 * s, 14 * s), (220, 20, 20)),
                                 ("包邮 ¥39.9", (200 * s, 336 * s), (230, 90, 0))):
            f = font(int(30 * s))
            box = d.textbbox(xy, text, font=f)
            d.text(xy, text, font=f, fill=colour)
            info["overlays"].append(box)
    if qr:
        code = qrcode.make("https://weixin.qq.com/r/test-shop", box_size=max(2, int(3 * s)), border=2)
        code = code.get_image().convert("RGB") if hasattr(code, "get_image") else code.convert("RGB")
        x, y = int(size - code.size[0] - 8 * s), int(8 * s)
        im.paste(code, (x, y))
        info["qr_box"] = (x, y, x + code.size[0], y + code.size[1])
    return np.asarray(im), np.asarray(mask) > 0, info
