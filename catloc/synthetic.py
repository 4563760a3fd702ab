"""Drawn supplier clutter with ground truth: the sample catalog, the tests and the benchmark share it.

Chinese wholesale suppliers cover their product photos with clutter that the clean stage has to
remove: loud promo text (厂家直销, 包邮, prices, WeChat ids), outlined or on a coloured plate,
banners, starburst stickers, real scannable QR codes (often on a white card with a caption) and
the shop's name tiled over the whole photo as a faint watermark. This module draws that clutter
and says where it went. ``catalogs/make_sample.py`` (the sample catalog), ``tests/synth.py``
(small photos for the tests) and ``bench/clean.py`` (the clean-stage benchmark) all draw with it;
each keeps only its own layout: where the clutter goes and what it says.

Fonts
    ``cjk_font_path()`` finds a font that draws Chinese, or raises ``FontMissingError`` telling
    the user how to install one; ``font(face, px)`` opens it, or a DejaVu face, at a size.

Painters
    Every ``paint_*`` function takes an RGB photo (``np.ndarray``, uint8, shape (H, W, 3)),
    leaves it as it is and returns what it drew as :class:`Painted`: the new photo, the ground
    truth mask of the pixels the item changed, and the item's box. ``paint_text`` draws text in
    a font, colour, opacity and outline, optionally on a plate; ``paint_banner`` a rounded plate
    with centred text runs; ``paint_sticker`` a rotated starburst badge; ``paint_qr`` a QR code
    with its quiet zone (``qr_modules`` and ``qr_image`` make it), optionally on a captioned card;
    ``paint_watermark`` rows of text rotated as one layer over the whole photo, and
    ``paint_watermark_tiles`` a lattice of rotated text tiles, each with its own ground truth.

    ``opacity=None`` (the sample catalog, the tests) draws straight onto the photo, Pillow
    blending the antialiased edges; a number in 0..1 (the benchmark) draws on a transparent
    layer and blends that over the photo at this opacity. Even at 1.0 the two can differ by a few
    grey levels where an outline meets the fill, so each caller keeps to the one its pictures
    were made with.

Units: pixels of the photo, x to the right and y down, angles in degrees counter-clockwise.
A box is (x0, y0, x1, y1) in px; for text and pasted pictures x1 and y1 lie one past the last
pixel (Pillow's ``textbbox``), for drawn shapes (banner, QR card) they are the last pixel.
Colours are (r, g, b) tuples of ints 0..255.
"""
from __future__ import annotations

import math
import os
import subprocess
from functools import lru_cache
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np
import qrcode
from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]

# --------------------------------------------------------------------------- fonts

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)
DEJAVU_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
LATIN_FONTS = {  # face -> DejaVu file
    "sans": "DejaVuSans.ttf",
    "sans_bold": "DejaVuSans-Bold.ttf",
    "cond_bold": "DejaVuSansCondensed-Bold.ttf",
    "cond_bold_oblique": "DejaVuSansCondensed-BoldOblique.ttf",
    "serif_bold": "DejaVuSerif-Bold.ttf",
    "mono": "DejaVuSansMono.ttf",
    "mono_bold": "DejaVuSansMono-Bold.ttf",
}


class FontMissingError(RuntimeError):
    """No font that can draw Chinese text is installed."""


@lru_cache(maxsize=1)
def cjk_font_path() -> str:
    """The file of a font that covers Chinese: the known paths first, then what fontconfig says.

    Raises FontMissingError, whose message tells the user to install fonts-wqy-zenhei (or run
    ``make setup``), when there is none.
    """
    for path in CJK_FONT_CANDIDATES:
        if os.path.isfile(path):
            return path
    covers_zh = _fontconfig_files(["fc-list", "-f", "%{file}\n", ":lang=zh"])
    # fc-match always answers something: keep its answer only if fc-list says it covers zh
    best = [f for f in _fontconfig_files(["fc-match", "-f", "%{file}", ":lang=zh"]) if f in covers_zh]
    for path in best + covers_zh:
        if os.path.isfile(path):
            return path
    raise FontMissingError(
        "no CJK font found (needed to draw the Chinese promo text); install one with "
        "`apt-get install fonts-wqy-zenhei` (or run `make setup`)")


def _fontconfig_files(cmd: list[str]) -> list[str]:
    """The font files a fontconfig command prints, one a line, sorted; [] when it cannot run."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(f.strip() for f in out.splitlines() if f.strip())


@lru_cache(maxsize=None)
def latin_font_path(face: str) -> str:
    """The file of the DejaVu ``face`` (a key of LATIN_FONTS); the CJK font, which draws Latin too,
    when DejaVu is not installed."""
    for folder in DEJAVU_DIRS:
        path = os.path.join(folder, LATIN_FONTS[face])
        if os.path.isfile(path):
            return path
    return cjk_font_path()


@lru_cache(maxsize=None)
def font(face: str, px: int, index: int = 0) -> ImageFont.FreeTypeFont:
    """``face`` (``cjk`` or a key of LATIN_FONTS) at ``px`` pixels; ``index`` picks a face in a
    font collection (wqy-zenhei.ttc: 0 Zen Hei, 1 Mono, 2 Sharp). Cached: the same arguments
    give the same object."""
    path = cjk_font_path() if face == "cjk" else latin_font_path(face)
    return ImageFont.truetype(path, px, index=index)


def text_box(text: str, font: ImageFont.FreeTypeFont, stroke_px: int = 0) -> tuple[int, int, int, int]:
    """The box (px) that ``text`` covers when drawn at (0, 0) with the default anchor (left, ascender)."""
    return ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font, stroke_width=stroke_px)


# --------------------------------------------------------------------------- painting with ground truth

class Painted(NamedTuple):
    """One painted item."""
    image: np.ndarray  # the photo with the item: uint8 (H, W, 3), a new array
    mask: np.ndarray   # bool (H, W): the pixels the item changed (its ground truth)
    box: Box           # where the item is (px); see each painter


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Bool (H, W): where two RGB photos (H, W, 3) differ in any channel."""
    differs = before != after
    return differs[..., 0] | differs[..., 1] | differs[..., 2]  # ten times faster than np.any(axis=-1)


def _paint(image: np.ndarray, draw: Callable[[Image.Image], Box], opacity: Optional[float]) -> Painted:
    """Run ``draw`` (it draws on the PIL canvas it is given and returns the item's box) for ``image``.

    ``opacity=None``: ``draw`` draws straight onto a copy of the photo, Pillow blending the
    antialiased edges. A number in 0..1: ``draw`` draws on a transparent RGBA layer, which is
    blended over the photo at that opacity, rounding to the nearest integer (half to even).
    """
    if opacity is None:
        canvas = Image.fromarray(image)  # a copy: Pillow keeps RGB at 4 bytes a pixel
        box = draw(canvas)
        out = np.array(canvas)
    else:
        canvas = Image.new("RGBA", (image.shape[1], image.shape[0]), (0, 0, 0, 0))
        box = draw(canvas)
        layer = np.asarray(canvas).astype(np.float32)
        alpha = layer[..., 3:] / 255.0 * opacity
        out = np.round(image * (1 - alpha) + layer[..., :3] * alpha).astype(np.uint8)
    return Painted(out, changed_pixels(image, out), box)


class Plate(NamedTuple):
    """A rectangle under a text: from x = ``left`` to x = ``right`` (px, both included), and from 30%
    of the text's height above the text to 30% below it."""
    left: int
    right: int
    fill: RGB


def paint_text(image: np.ndarray, xy: tuple[float, float], text: str, font: ImageFont.FreeTypeFont, fill: RGB,
               *, anchor: str = "la", stroke_px: int = 0, stroke_fill: Optional[RGB] = None,
               plate: Optional[Plate] = None, opacity: Optional[float] = None) -> Painted:
    """``text`` in ``font`` and ``fill`` at ``xy`` (px; ``anchor`` as in Pillow, "la": left, ascender).

    ``stroke_px`` > 0 outlines every glyph that wide in ``stroke_fill`` (``fill`` when None);
    ``plate`` draws a rectangle under the text first; ``opacity``: see the module docstring.
    The box is the text's, outline included (a plate reaches beyond it); the mask covers the
    text, its outline and its plate.
    """
    def draw(canvas: Image.Image) -> Box:
        d = ImageDraw.Draw(canvas)
        box = d.textbbox(xy, text, font=font, anchor=anchor, stroke_width=stroke_px)
        if plate is not None:
            pad = int(0.3 * (box[3] - box[1]))
            d.rectangle((plate.left, box[1] - pad, plate.right, box[3] + pad), fill=plate.fill)
        d.text(xy, text, font=font, fill=fill, anchor=anchor, stroke_width=stroke_px, stroke_fill=stroke_fill)
        return box
    return _paint(image, draw, opacity)


def paint_banner(image: np.ndarray, box: Sequence[float], fill: RGB,
                 runs: Sequence[tuple[str, ImageFont.FreeTypeFont, RGB]], *, radius_px: int, gap_px: float,
                 outline: Optional[RGB] = None, outline_px: int = 0) -> Painted:
    """A rounded plate filling ``box`` (px, corners ``radius_px``, an ``outline`` ``outline_px`` wide
    when given) with ``runs`` of (text, font, colour) written on it in one line, ``gap_px`` apart,
    the line centred on the plate. The box is ``box``."""
    def draw(canvas: Image.Image) -> Box:
        d = ImageDraw.Draw(canvas)
        d.rounded_rectangle(list(box), radius=radius_px, fill=fill, outline=outline, width=outline_px)
        widths = [d.textlength(text, font=f) for text, f, _ in runs]
        x = (box[0] + box[2]) / 2 - (sum(widths) + gap_px * (len(runs) - 1)) / 2
        cy = (box[1] + box[3]) / 2
        for (text, f, colour), width in zip(runs, widths):
            d.text((x, cy), text, font=f, fill=colour, anchor="lm")
            x += width + gap_px
        return tuple(box)
    return _paint(image, draw, None)


def paint_sticker(image: np.ndarray, centre: tuple[float, float], radius: float,
                  lines: Sequence[tuple[str, ImageFont.FreeTypeFont, RGB, float]], *, fill: RGB = (226, 30, 36),
                  angle: float = -12, spikes: int = 18, unit_px: float = 1.0) -> Painted:
    """A starburst promo sticker: ``spikes`` points of radius ``radius`` (notches at 0.84 of it) in
    ``fill``, a pale ring at 0.74 of it, ``lines`` of (text, font, colour, line height) stacked
    and centred inside, the whole turned by ``angle``.

    ``centre``, ``radius`` and the line heights are in units of ``unit_px`` pixels (the sample
    catalog designs at 1024 units a side), so that a sticker scales with the photo. The box is
    the square the turned sticker was pasted in.
    """
    k = unit_px
    side = int(2.3 * radius * k) + 4
    tile = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    o = side / 2
    points = []
    for i in range(spikes * 2):
        r = (radius if i % 2 == 0 else radius * 0.84) * k
        a = math.pi * i / spikes
        points.append((o + r * math.cos(a), o + r * math.sin(a)))
    d.polygon(points, fill=fill + (255,))
    ring = 0.74 * radius * k
    d.ellipse([o - ring, o - ring, o + ring, o + ring], outline=(255, 236, 160, 255), width=max(1, int(3 * k)))
    y = o - sum(height for *_, height in lines) * k / 2
    for text, f, colour, height in lines:
        d.text((o, y + height * k / 2), text, font=f, fill=colour + (255,), anchor="mm")
        y += height * k
    tile = tile.rotate(angle, resample=Image.Resampling.BICUBIC)
    x0, y0 = int(centre[0] * k - side / 2), int(centre[1] * k - side / 2)

    def draw(canvas: Image.Image) -> Box:
        canvas.paste(tile, (x0, y0), tile)
        return x0, y0, x0 + side, y0 + side
    return _paint(image, draw, None)


def qr_modules(data: str, quiet_modules: int = 4) -> np.ndarray:
    """The QR code of ``data`` (error correction M, the smallest version that holds it): a square
    bool array, True for a dark module, with ``quiet_modules`` light modules of quiet zone around."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=quiet_modules)
    code.add_data(data)
    code.make(fit=True)
    return np.array(code.get_matrix(), bool)


def qr_image(modules: np.ndarray, module_px: int) -> Image.Image:
    """``modules`` as an RGB picture: black (0) dark modules on white (255), ``module_px`` pixels a module."""
    light = np.repeat(np.repeat(~modules, module_px, axis=0), module_px, axis=1)
    return Image.fromarray(np.repeat(light[..., None], 3, axis=2).astype(np.uint8) * np.uint8(255), "RGB")


class QrCard(NamedTuple):
    """A white rounded card under a QR code with a grey (205, 205, 205) outline, and an optional
    caption in dark grey (40, 40, 40) centred in a strip under the code. Lengths in px."""
    pad_px: int                                       # card margin around the code
    radius_px: int                                    # corner radius
    outline_px: int                                   # outline width
    caption: Optional[str] = None
    caption_font: Optional[ImageFont.FreeTypeFont] = None
    caption_h_px: int = 0                             # height of the caption strip (ignored without a caption)


def paint_qr(image: np.ndarray, xy: tuple[int, int], code: Image.Image, card: Optional[QrCard] = None) -> Painted:
    """``code`` (a QR picture, quiet zone included: see ``qr_image``) pasted with its top-left
    corner at ``xy`` (px), on ``card`` when given. The box is the code's (x, y, x + width, y + height),
    or the card's when there is one."""
    x0, y0 = xy
    width, height = code.size

    def draw(canvas: Image.Image) -> Box:
        d = ImageDraw.Draw(canvas)
        box: Box = (x0, y0, x0 + width, y0 + height)
        if card is not None:
            strip = card.caption_h_px if card.caption else 0
            box = (x0 - card.pad_px, y0 - card.pad_px, x0 + width + card.pad_px, y0 + height + card.pad_px + strip)
            d.rounded_rectangle(list(box), radius=card.radius_px, fill=(255, 255, 255), outline=(205, 205, 205),
                                width=card.outline_px)
        canvas.paste(code, (x0, y0))
        if card is not None and card.caption:
            d.text(((box[0] + box[2]) / 2, y0 + height + strip / 2), card.caption, font=card.caption_font,
                   fill=(40, 40, 40), anchor="mm")
        return box
    return _paint(image, draw, None)


# --------------------------------------------------------------------------- watermarks

def paint_watermark(image: np.ndarray, text: str, font: ImageFont.FreeTypeFont, colour: RGB, opacity: float,
                    *, angle: float, step_px: tuple[float, float], gap_px: float) -> Painted:
    """The shop's name tiled over the whole photo like a watermark stamp, drawn as one layer.

    Rows of ``text`` ``step_px[1]`` apart repeat it every ``max(step_px[0], text length + gap_px)``
    px, every other row shifted by half of that, on a layer 1.45 times the photo's longer side
    (so that, turned by ``angle`` with bilinear filtering, it still covers the corners); its
    centre is blended over the photo in ``colour`` at ``opacity`` (0..1), rounding half up.
    The box is the whole photo.
    """
    h, w = image.shape[:2]
    big = int(max(w, h) * 1.45)
    layer = Image.new("L", (big, big), 0)
    d = ImageDraw.Draw(layer)
    along = max(step_px[0], d.textlength(text, font=font) + gap_px)
    row, y = 0, 0.0
    while y < big:
        x = -along / 2 if row % 2 else 0.0
        while x < big:
            d.text((x, y), text, font=font, fill=255)
            x += along
        y += step_px[1]
        row += 1
    layer = layer.rotate(angle, resample=Image.Resampling.BILINEAR)
    left, top = (big - w) // 2, (big - h) // 2
    alpha = np.asarray(layer.crop((left, top, left + w, top + h)), np.float32)[..., None] * (opacity / 255.0)
    out = image.astype(np.float32) * (1 - alpha) + np.asarray(colour, np.float32)[None, None, :] * alpha
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return Painted(out, changed_pixels(image, out), (0, 0, w, h))


class Tile(NamedTuple):
    """One watermark tile the photo shows whole."""
    mask: np.ndarray  # bool (H, W): the pixels this tile changed
    quad: np.ndarray  # (4, 2) float32: the corners of its text box, turned with it (px)


def paint_watermark_tiles(image: np.ndarray, text: str, font: ImageFont.FreeTypeFont, colour: RGB, opacity: float,
                          *, angle: float, spacing: tuple[float, float]) -> tuple[np.ndarray, list[Tile]]:
    """A tiled watermark with ground truth per tile: ``text`` in ``colour``, turned by ``angle``
    (bicubic), blended at ``opacity`` (0..1) tile by tile on a staggered lattice around the photo's
    centre; along the text, tiles are ``spacing[0]`` text widths apart, across it rows are
    ``spacing[1]`` text heights apart, every other row shifted by half a step.

    Returns the new photo and one Tile for each tile lying wholly inside the photo; the tiles cut
    by the edges are painted but not listed. Where tiles overlap, each is blended on the last.
    """
    h, w = image.shape[:2]
    tb = text_box(text, font)
    tw, th = tb[2] - tb[0], tb[3] - tb[1]
    rad = math.radians(angle)
    u, v = np.array([math.cos(rad), -math.sin(rad)]), np.array([math.sin(rad), math.cos(rad)])  # along / across
    su, sv = tw * spacing[0], th * spacing[1]
    corners0 = np.array([[-tw / 2, -th / 2], [tw / 2, -th / 2], [tw / 2, th / 2], [-tw / 2, th / 2]])
    corners0 = corners0[:, :1] * u + corners0[:, 1:] * v
    tile = Image.new("RGBA", (tw + 8, th + 8), (0, 0, 0, 0))
    ImageDraw.Draw(tile).text((4 - tb[0], 4 - tb[1]), text, font=font, fill=(*colour, 255))
    tile = tile.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    reach = int(math.hypot(w, h) / 2 / min(su, sv)) + 2
    tiles = []
    for b in range(-reach, reach + 1):
        for a in range(-reach, reach + 1):
            cx, cy = np.array([w / 2, h / 2]) + (a + 0.5 * (b % 2)) * su * u + b * sv * v
            if not (-tile.width < cx < w + tile.width and -tile.height < cy < h + tile.height):
                continue
            painted = _paint(image, _paster(tile, (int(cx) - tile.width // 2, int(cy) - tile.height // 2)), opacity)
            image = painted.image
            corners = corners0 + [cx, cy]
            inside = corners.min() >= 0 and corners[:, 0].max() < w and corners[:, 1].max() < h
            if painted.mask.any() and inside:
                tiles.append(Tile(painted.mask, corners.astype(np.float32)))
    return image, tiles


def _paster(picture: Image.Image, xy: tuple[int, int]) -> Callable[[Image.Image], Box]:
    """A ``draw`` for ``_paint`` that pastes ``picture`` (its pixels, alpha included) at ``xy``."""
    def draw(canvas: Image.Image) -> Box:
        canvas.paste(picture, xy)
        return xy[0], xy[1], xy[0] + picture.width, xy[1] + picture.height
    return draw
