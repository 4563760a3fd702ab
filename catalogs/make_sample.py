#!/usr/bin/env python3
"""Make the sample wholesale-supplier catalog that ``make demo`` localizes.

Writes ``<out>/catalog.csv`` (columns ``sku,title,category,image,priority``) and
``<out>/images/*.jpg``: procedurally drawn supplier photos of garments laid flat, garments
on a dress form or a stylised model, and still-life goods (mug, handbag, sneaker, backpack,
cap), each on a plain, near-uniform studio background. Most photos then get the clutter that
Chinese wholesale suppliers put on their pictures and that the pipeline must remove: big
coloured promo text (厂家直销, 包邮, 新款上市...), prices, shop names, WeChat ids, real
scannable QR codes, tiled semi-transparent watermarks and promo stickers. Product text
(the "SUMMER 1988" print on the T-shirt, the "CAFÉ ROMA" label on the mug, the "AURORA"
embroidery on the cap) is part of the product and must survive cleaning. Two SKUs are
clean controls.

The catalog also holds two bad entries so a demo run shows failures being reported: one row
with an empty ``sku`` and the SKU ``BROKEN-099`` whose JPEG is truncated.

Everything is drawn here with Pillow and numpy (fonts come from the system: DejaVu and a
CJK font such as fonts-wqy-zenhei); no external image is used, so the output is licence-clean.
Output is deterministic: fixed seeds, the same bytes on every run with the same Pillow,
numpy and fonts. Files are written atomically and re-running overwrites them identically.

Usage::

    python catalogs/make_sample.py [--out catalogs/sample] [--size 1024]
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import pathlib
import sys
import time
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))  # this checkout's catloc (as bench/)
from catloc import storage  # noqa: E402  (atomic writes: temporary name, then rename)
from catloc.synthetic import (FontMissingError, Painted, QrCard, cjk_font_path, font,  # noqa: E402
                              paint_banner, paint_qr, paint_sticker, paint_text, paint_watermark, qr_image,
                              qr_modules)

DESIGN = 1024  # every coordinate below is in a 1024 x 1024 design space, scaled to --size
JPEG_QUALITY = 90
BROKEN_BYTES = 600  # BROKEN-099.jpg keeps only this many bytes of a real JPEG
CSV_COLUMNS = ("sku", "title", "category", "image", "priority")


def sized_font(key: str, px: float) -> ImageFont.FreeTypeFont:
    """``key`` is ``cjk`` or a key of catloc.synthetic.LATIN_FONTS; ``px`` the size in output pixels,
    truncated, and at least 6 so that text stays legible at the smallest --size."""
    return font(key, max(6, int(px)))


# --------------------------------------------------------------------------- geometry helpers

Point = tuple[float, float]


def qbez(p0: Point, p1: Point, p2: Point, n: int = 14) -> list[Point]:
    """Quadratic Bezier from p0 to p2 (control p1), n points including both ends."""
    out = []
    for i in range(n):
        t = i / (n - 1)
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        out.append((a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]))
    return out


def cbez(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 18) -> list[Point]:
    out = []
    for i in range(n):
        t = i / (n - 1)
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        out.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return out


def path(*parts: Sequence[Point]) -> list[Point]:
    """Join point runs, dropping a point that repeats the previous one."""
    out: list[Point] = []
    for part in parts:
        for p in part:
            if not out or abs(out[-1][0] - p[0]) > 1e-6 or abs(out[-1][1] - p[1]) > 1e-6:
                out.append((float(p[0]), float(p[1])))
    return out


def mirror(pts: Sequence[Point], cx: float = 512) -> list[Point]:
    """The mirror image of a run of points about x = cx, in reverse order (to close a half outline)."""
    return [(2 * cx - x, y) for x, y in reversed(pts)]


def rotate(pts: Sequence[Point], deg: float, c: Point = (512, 512)) -> list[Point]:
    a = math.radians(deg)
    ca, sa = math.cos(a), math.sin(a)
    return [(c[0] + (x - c[0]) * ca - (y - c[1]) * sa, c[1] + (x - c[0]) * sa + (y - c[1]) * ca) for x, y in pts]


def rbox(box: Sequence[float], deg: float, c: Point = (512, 512)) -> tuple[float, float, float, float]:
    """A small box moved with a rotation of the whole product (its centre turns, it stays upright)."""
    (mx, my), = rotate([((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)], deg, c)
    hw, hh = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    return mx - hw, my - hh, mx + hw, my + hh


def offset_line(p: Point, q: Point, d: float) -> tuple[Point, Point]:
    """Segment p-q moved by d along its left normal."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / n * d, dx / n * d
    return (p[0] + nx, p[1] + ny), (q[0] + nx, q[1] + ny)


# --------------------------------------------------------------------------- the scene

class Scene:
    """One photo being drawn: a float RGB canvas plus the union mask of the product.

    Drawing methods take design coordinates (0..1024); masks and shading maps are float32
    arrays at output resolution in 0..1 (masks) or around 1.0 (shading multipliers).
    """

    def __init__(self, size: int, seed: int, bg: tuple[int, int, int]):
        self.size = size
        self.k = size / DESIGN
        self.rng = np.random.default_rng(seed)
        ax = ((np.arange(size, dtype=np.float32) + 0.5) / self.k).astype(np.float32)
        self.X = ax[None, :]
        self.Y = ax[:, None]
        self.lr = max(32, size // 4)  # low-resolution grid for smooth fields (folds, large noise)
        axl = ((np.arange(self.lr, dtype=np.float32) + 0.5) * (DESIGN / self.lr)).astype(np.float32)
        self.Xl = axl[None, :]
        self.Yl = axl[:, None]
        self.product = np.zeros((size, size), np.float32)
        self._noise: Optional[np.ndarray] = None
        self.bg = bg
        self.img = self._background(bg)
        self.pil: Optional[Image.Image] = None
        self.overlays: list[dict] = []

    # ---- background
    def _background(self, bg: tuple[int, int, int]) -> np.ndarray:
        c = np.array(bg, np.float32)
        r2 = ((self.X - 512) ** 2 + (self.Y - 480) ** 2) / (724.0 ** 2)
        light = 1.018 - 0.04 * r2 - 0.012 * (self.Y - 512) / 512  # faint vignette, top a touch lighter
        img = c[None, None, :] * light[..., None]
        grain = self.rng.normal(0.0, 1.3, (self.size, self.size)).astype(np.float32)
        img += grain[..., None]
        return img.astype(np.float32)

    # ---- masks
    def S(self, pts: Sequence[Point]) -> list[Point]:
        k = self.k
        return [(x * k, y * k) for x, y in pts]

    def _new(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        im = Image.new("L", (self.size, self.size), 0)
        return im, ImageDraw.Draw(im)

    @staticmethod
    def _arr(im: Image.Image, aa: float = 0.65) -> np.ndarray:
        """L image -> float mask; ``aa`` px of Gaussian blur (antialiasing), done on the drawn area only."""
        if aa:
            bb = im.getbbox()
            if bb is not None:
                pad = int(3 * aa) + 2
                box = (max(0, bb[0] - pad), max(0, bb[1] - pad),
                       min(im.width, bb[2] + pad), min(im.height, bb[3] + pad))
                im.paste(im.crop(box).filter(ImageFilter.GaussianBlur(aa)), box[:2])
        return np.asarray(im, dtype=np.float32) * np.float32(1 / 255.0)

    def poly(self, pts: Sequence[Point], aa: float = 0.65) -> np.ndarray:
        im, d = self._new()
        d.polygon(self.S(pts), fill=255)
        return self._arr(im, aa)

    def ellipse(self, box: Sequence[float], aa: float = 0.65) -> np.ndarray:
        im, d = self._new()
        d.ellipse(self.S([(box[0], box[1]), (box[2], box[3])]), fill=255)
        return self._arr(im, aa)

    def ellipses(self, centers: Sequence[Point], r: float, aa: float = 0.65) -> np.ndarray:
        im, d = self._new()
        k = self.k
        for x, y in centers:
            d.ellipse([(x - r) * k, (y - r) * k, (x + r) * k, (y + r) * k], fill=255)
        return self._arr(im, aa)

    def rrect(self, box: Sequence[float], r: float, aa: float = 0.65) -> np.ndarray:
        im, d = self._new()
        k = self.k
        d.rounded_rectangle([box[0] * k, box[1] * k, box[2] * k, box[3] * k], radius=max(1, int(r * k)), fill=255)
        return self._arr(im, aa)

    def stroke(self, pts: Sequence[Point], width: float, aa: float = 0.65, caps: bool = True) -> np.ndarray:
        im, d = self._new()
        w = max(1, int(round(width * self.k)))
        sp = self.S(pts)
        d.line(sp, fill=255, width=w, joint="curve")
        if caps and w > 2:
            for x, y in (sp[0], sp[-1]):
                d.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=255)
        return self._arr(im, aa)

    def dashed(self, pts: Sequence[Point], width: float, dash: float = 9, gap: float = 6,
               aa: float = 0.5) -> np.ndarray:
        """A stitched (dashed) line along a polyline."""
        im, d = self._new()
        w = max(1, int(round(width * self.k)))
        k = self.k
        on, left = True, dash
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
            seg = math.hypot(x1 - x0, y1 - y0)
            pos = 0.0
            while pos < seg - 1e-9:
                step = min(left, seg - pos)
                if on:
                    a, b = pos / seg, (pos + step) / seg
                    d.line([((x0 + (x1 - x0) * a) * k, (y0 + (y1 - y0) * a) * k),
                            ((x0 + (x1 - x0) * b) * k, (y0 + (y1 - y0) * b) * k)], fill=255, width=w)
                pos += step
                left -= step
                if left <= 1e-9:
                    on = not on
                    left = dash if on else gap
        return self._arr(im, aa)

    def text_mask(self, xy: Point, text: str, key: str, px: float, anchor: str = "mm",
                  stroke: float = 0, aa: float = 0.0) -> np.ndarray:
        im, d = self._new()
        sw = int(round(stroke * self.k)) if stroke else 0
        d.text((xy[0] * self.k, xy[1] * self.k), text, font=sized_font(key, px * self.k), fill=255, anchor=anchor,
               stroke_width=sw, stroke_fill=255)
        return self._arr(im, aa)

    def blur(self, m: np.ndarray, radius: float) -> np.ndarray:
        im = Image.fromarray(np.clip(m * 255.0 + 0.5, 0, 255).astype(np.uint8))
        return self._arr(im, max(0.3, radius * self.k))

    @staticmethod
    def _bbox(m: np.ndarray) -> Optional[tuple[int, int, int, int]]:
        """Rows and columns (y0, y1, x0, x1) holding the non-zero part of a mask, or None."""
        rows = np.flatnonzero(m.max(axis=1) > 0)
        if rows.size == 0:
            return None
        cols = np.flatnonzero(m[rows[0]:rows[-1] + 1].max(axis=0) > 0)
        return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1

    def _crop(self, a, bb: tuple[int, int, int, int], channels: int = 0):
        """The bb part of a full-frame (or broadcastable) array; scalars pass through."""
        if np.ndim(a) == 0:
            return a
        shape = (self.size, self.size, channels) if channels else (self.size, self.size)
        return np.broadcast_to(a, shape)[bb[0]:bb[1], bb[2]:bb[3]]

    def shift(self, m: np.ndarray, dx: float, dy: float) -> np.ndarray:
        sx, sy = int(round(dx * self.k)), int(round(dy * self.k))
        out = np.zeros_like(m)
        h, w = m.shape
        out[max(0, sy):h + min(0, sy), max(0, sx):w + min(0, sx)] = m[max(0, -sy):h - max(0, sy),
                                                                        max(0, -sx):w - max(0, sx)]
        return out

    # ---- shading fields (multipliers around 1.0)
    def _up(self, small: np.ndarray) -> np.ndarray:
        im = Image.fromarray(small.astype(np.float32))
        return np.asarray(im.resize((self.size, self.size), Image.Resampling.BILINEAR), dtype=np.float32)

    def lin(self, p0: Point, p1: Point, a: float, b: float) -> np.ndarray:
        dx, dy = p1[0] - p0[0], p1[1] - p0[1]
        t = ((self.X - p0[0]) * dx + (self.Y - p0[1]) * dy) / (dx * dx + dy * dy)
        return (a + (b - a) * np.clip(t, 0.0, 1.0)).astype(np.float32)

    def radial(self, c: Point, r: float, a: float, b: float, ry: Optional[float] = None) -> np.ndarray:
        ry = ry or r
        t = np.sqrt(((self.X - c[0]) / r) ** 2 + ((self.Y - c[1]) / ry) ** 2)
        return (a + (b - a) * np.clip(t, 0.0, 1.0)).astype(np.float32)

    def puff(self, m: np.ndarray, radius: float, depth: float) -> np.ndarray:
        """Darker towards the inside of the mask's edge: gives soft volume to fabric and leather."""
        inner = self.blur(m, radius)
        return (1.0 - depth * np.clip(1.0 - inner, 0.0, 1.0) * 2.0 * np.clip(inner, 0, 1) ** 0.2).astype(np.float32)

    def folds(self, n: int, box: Sequence[float], angle: float, spread: float, amp: float, width: float,
              length: float, focus: Optional[Point] = None) -> np.ndarray:
        """Soft fabric folds: creases (light on one side, dark on the other) and ridges.

        Each fold is a line through a random point of ``box``; its direction is ``angle``
        (degrees, +-spread) or, with ``focus``, the direction towards that point (radiating folds).
        """
        rng = self.rng
        out = np.zeros((self.lr, self.lr), np.float32)
        for _ in range(n):
            cx, cy = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
            if focus is not None:
                th = math.atan2(cy - focus[1], cx - focus[0]) + math.radians(rng.uniform(-spread, spread))
            else:
                th = math.radians(angle + rng.uniform(-spread, spread))
            dx, dy = math.cos(th), math.sin(th)
            d = (self.Xl - cx) * (-dy) + (self.Yl - cy) * dx
            t = (self.Xl - cx) * dx + (self.Yl - cy) * dy
            w = width * rng.uniform(0.6, 1.5)
            a = amp * rng.uniform(0.45, 1.0)
            L = length * rng.uniform(0.6, 1.4)
            u = d / w
            if rng.random() < 0.6:
                prof = -a * 1.7 * u * np.exp(-u * u)          # crease
            else:
                prof = a * (np.exp(-u * u) - 0.6 * np.exp(-(u * 0.45) ** 2))  # ridge with shadowed flanks
            out += prof * np.exp(-(t / L) ** 2)
        return 1.0 + self._up(out)

    def grain(self, sigma: float) -> np.ndarray:
        """Per-pixel fabric noise (one noise field per photo, drawn on first use)."""
        if self._noise is None:
            self._noise = self.rng.standard_normal((self.size, self.size), dtype=np.float32)
        return 1.0 + np.float32(sigma) * self._noise

    def mottle(self, cell: float, sigma: float) -> np.ndarray:
        """Smooth noise with blobs about ``cell`` design units across (leather grain, denim fades)."""
        n = max(4, int(DESIGN / cell))
        small = self.rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
        im = Image.fromarray(small).resize((self.size, self.size), Image.Resampling.BICUBIC)
        return (1.0 + sigma * np.asarray(im, np.float32)).astype(np.float32)

    def weave(self, period_px: float, amp: float) -> np.ndarray:
        xs = (np.arange(self.size, dtype=np.float32) * (2 * math.pi / period_px))
        return (1.0 + amp * np.sin(xs)[None, :] * np.sin(xs)[:, None]).astype(np.float32)

    def twill(self, period_px: float, amp: float) -> np.ndarray:
        i = np.arange(self.size, dtype=np.float32)
        return (1.0 + amp * np.sin((i[None, :] + i[:, None]) * (2 * math.pi / period_px))).astype(np.float32)

    def ribs(self, period: float, amp: float, vertical: bool = True) -> np.ndarray:
        c = self.X if vertical else self.Y
        return (1.0 + amp * np.sin(c * (2 * math.pi / period))).astype(np.float32)

    # ---- painting
    def paint(self, m: np.ndarray, color, shade=None, product: bool = True) -> None:
        """Cover the mask with ``color`` (RGB or an HxWx3 map) times ``shade`` (scalar or HxW map)."""
        bb = self._bbox(m)
        if bb is None:
            return
        mc = m[bb[0]:bb[1], bb[2]:bb[3]]
        col = np.asarray(color, np.float32)
        col = col[None, None, :] if col.ndim == 1 else self._crop(col, bb, 3)
        if shade is not None:
            sh = self._crop(shade, bb)
            col = col * (sh[..., None] if np.ndim(sh) == 2 else sh)
        m3 = mc[..., None]
        region = self.img[bb[0]:bb[1], bb[2]:bb[3]]
        region *= 1.0 - m3
        region += np.clip(col, 0, 255) * m3
        if product:
            pr = self.product[bb[0]:bb[1], bb[2]:bb[3]]
            np.maximum(pr, mc, out=pr)

    def darken(self, m: np.ndarray, amount: float) -> None:
        bb = self._bbox(m)
        if bb is not None:
            self.img[bb[0]:bb[1], bb[2]:bb[3]] *= (1.0 - amount * m[bb[0]:bb[1], bb[2]:bb[3]])[..., None]

    def lighten(self, m: np.ndarray, amount: float, color=(255, 255, 255)) -> None:
        bb = self._bbox(m)
        if bb is None:
            return
        c = np.asarray(color, np.float32)[None, None, :]
        region = self.img[bb[0]:bb[1], bb[2]:bb[3]]
        region += (c - region) * (amount * m[bb[0]:bb[1], bb[2]:bb[3]])[..., None]

    def shadow(self, m: np.ndarray, dx: float, dy: float, blur: float, strength: float) -> None:
        """A soft cast shadow on the background (paint the product after it)."""
        self.darken(self.blur(self.shift(m, dx, dy), blur), strength)

    # ---- finishing and clutter (on the PIL image)
    def finish(self) -> Image.Image:
        if self.pil is None:
            self.pil = Image.fromarray(np.clip(self.img + 0.5, 0, 255).astype(np.uint8), "RGB")
        return self.pil

    def photo(self) -> np.ndarray:
        """The finished photo as an RGB uint8 array (what the clutter is painted on)."""
        return np.asarray(self.finish())

    def _add(self, kind: str, text: str, painted: Painted) -> None:
        """Keep a painted clutter item: its photo becomes the scene's, its box is recorded (rounded px)."""
        self.pil = Image.fromarray(painted.image)
        self.overlays.append({"kind": kind, "text": text, "box": tuple(int(round(v)) for v in painted.box)})

    def ov_text(self, xy: Point, text: str, px: float, fill, key: str = "cjk", stroke: float = 0,
                stroke_fill=None, anchor: str = "la") -> None:
        k = self.k
        stroke_px = max(1, int(round(stroke * k))) if stroke else 0
        painted = paint_text(self.photo(), (xy[0] * k, xy[1] * k), text, sized_font(key, px * k), fill,
                             anchor=anchor, stroke_px=stroke_px, stroke_fill=stroke_fill)
        self._add("text", text, painted)

    def ov_banner(self, box: Sequence[float], fill, segments: Sequence[tuple], radius: float = 14,
                  outline=None) -> None:
        """A coloured rounded banner with centred text runs: segments = [(text, key, px, colour), ...]."""
        k = self.k
        runs = [(text, sized_font(key, px * k), colour) for text, key, px, colour in segments]
        painted = paint_banner(self.photo(), [box[0] * k, box[1] * k, box[2] * k, box[3] * k], fill, runs,
                               radius_px=max(1, int(radius * k)), gap_px=10 * k, outline=outline,
                               outline_px=max(1, int(3 * k)) if outline else 0)
        self._add("banner", " ".join(text for text, *_ in segments), painted)

    def ov_sticker(self, c: Point, r: float, lines: Sequence[tuple], fill=(226, 30, 36),
                   angle: float = -12, spikes: int = 18) -> None:
        """A starburst promo sticker; lines = [(text, key, px, colour), ...] stacked vertically."""
        k = self.k
        runs = [(text, sized_font(key, px * k), colour, px) for text, key, px, colour in lines]
        painted = paint_sticker(self.photo(), c, r, runs, fill=fill, angle=angle, spikes=spikes, unit_px=k)
        self._add("sticker", " ".join(text for text, *_ in lines), painted)

    def ov_watermark(self, text: str, px: float, color=(110, 110, 110), alpha: float = 0.28,
                     angle: float = 30, step: Point = (330, 190)) -> None:
        """A tiled, rotated, semi-transparent shop watermark over the whole photo."""
        k = self.k
        painted = paint_watermark(self.photo(), text, sized_font("cjk", px * k), color, alpha, angle=angle,
                                  step_px=(step[0] * k, step[1] * k), gap_px=70 * k)
        self._add("watermark", text, painted)

    def ov_qr(self, xy: Point, data: str, target: float = 170, caption: Optional[str] = "扫码加微信") -> None:
        """A real, scannable QR code (white quiet zone) about ``target`` wide on a white card, top-left corner at xy."""
        k = self.k
        modules = qr_modules(data)
        code = qr_image(modules, max(1, int(round(target * k / len(modules)))))
        card = QrCard(pad_px=max(1, int(6 * k)), radius_px=max(1, int(8 * k)), outline_px=max(1, int(2 * k)),
                      caption=caption, caption_font=sized_font("cjk", 22 * k), caption_h_px=int(34 * k))
        self._add("qr", data, paint_qr(self.photo(), (int(xy[0] * k), int(xy[1] * k)), code, card))


# --------------------------------------------------------------------------- shared garment finish

def fabric_shade(sc: Scene, m: np.ndarray, *, puff: float = 0.22, light: float = 0.10, grain: float = 0.025,
                 weave: float = 0.02, folds: Optional[np.ndarray] = None) -> np.ndarray:
    shade = sc.puff(m, 22, puff) * sc.lin((250, 150), (800, 900), 1 + light / 2, 1 - light / 2)
    shade = shade * sc.grain(grain) * sc.weave(3.0, weave)
    if folds is not None:
        shade = shade * folds
    return shade


# --------------------------------------------------------------------------- products: flat-lay garments

def draw_tshirt(sc: Scene, variant: str = "") -> None:
    colour = (40, 58, 96) if variant != "broken" else (176, 40, 48)
    half = path(
        [(512, 246)], qbez((512, 246), (556, 244), (586, 234), 6),
        [(702, 262), (816, 352), (754, 434), (678, 394)],
        qbez((678, 394), (672, 600), (682, 792), 10),
        qbez((682, 792), (600, 800), (512, 800), 8),
    )
    outline = rotate(path(half, mirror(half)[1:-1]), -2)
    body = sc.poly(outline)
    sc.shadow(body, 5, 9, 12, 0.16)
    folds = sc.folds(9, (360, 300, 670, 780), 95, 30, 0.13, 16, 200)
    folds = folds * sc.folds(4, (220, 330, 800, 420), 35, 15, 0.10, 12, 60)
    shade = fabric_shade(sc, body, folds=folds)
    sc.paint(body, colour, shade)
    # neck opening: inside of the back, back neck rib, front collar rib
    front_neck = rotate(qbez((438, 234), (512, 334), (586, 234), 18), -2)
    back_neck = rotate(qbez((438, 234), (512, 256), (586, 234), 12), -2)
    hole = sc.poly(path(front_neck, list(reversed(back_neck))))
    sc.paint(hole, colour, 0.55 * sc.lin((512, 240), (512, 300), 0.8, 1.05))
    sc.paint(sc.stroke(back_neck, 9, caps=False) * body, colour, 0.78 * sc.ribs(5, 0.06))
    sc.paint(sc.stroke(front_neck, 20, caps=False) * body, colour, 0.93 * sc.ribs(5, 0.08) * sc.grain(0.02))
    sc.darken(sc.stroke(rotate(qbez((428, 238), (512, 352), (596, 238), 18), -2), 2.2), 0.35)
    tag = sc.rrect(rbox((500, 246, 524, 262), -2), 2)
    sc.paint(tag, (235, 232, 224))
    # seams and hems
    seam = np.zeros_like(body)
    for a, b in ((586, 234), (702, 262)), ((438, 234), (322, 262)):
        seam = np.maximum(seam, sc.stroke(rotate([a, b], -2), 2.5))
    arm_r = qbez((702, 262), (668, 320), (678, 394), 10)
    for run in (arm_r, mirror(arm_r)):
        seam = np.maximum(seam, sc.stroke(rotate(run, -2), 2.5))
    sleeve_hem = offset_line((816, 352), (754, 434), -26)
    for run in (list(sleeve_hem), mirror(list(sleeve_hem))):
        seam = np.maximum(seam, sc.dashed(rotate(run, -2), 2.2, 7, 4))
    hem = qbez((342, 770), (512, 780), (682, 770), 12)
    seam = np.maximum(seam, sc.dashed(rotate(hem, -2), 2.2, 7, 4))
    sc.darken(seam * body, 0.35)
    if variant == "broken":
        return
    # the chest print: a sunset badge and SUMMER 1988 (product text, must survive cleaning)
    cx, cy = 512, 440
    ink_shade = shade * sc.mottle(6, 0.05)
    sun = sc.ellipse((cx - 88, cy - 80, cx + 88, cy + 96)) * (sc.Y < cy + 8).astype(np.float32)
    depth = np.clip((sc.Y - (cy - 56)) / 64, 0, 1)           # sunset stripes widen towards the horizon
    stripes = (np.sin((sc.Y - cy) * (2 * math.pi / 18)) > 0.9 - 1.1 * depth).astype(np.float32)
    sun_cut = sun * (1 - stripes * (sc.Y > cy - 56))
    sc.paint(sun_cut * body, sc.lin((cx, cy - 80), (cx, cy + 8), 0, 1)[..., None]
             * np.array([-10, 70, 40], np.float32)[None, None, :] + np.array([246, 180, 70], np.float32),
             ink_shade)
    t1 = sc.text_mask((cx, cy + 52), "SUMMER", "sans_bold", 62)
    t2 = sc.text_mask((cx, cy + 122), "1988", "serif_bold", 70)
    sc.paint(t1 * body, (244, 233, 208), ink_shade)
    sc.paint(t2 * body, (238, 120, 70), ink_shade)


def clutter_tshirt(sc: Scene) -> None:
    sc.ov_text((40, 34), "厂家直销", 86, (225, 28, 28), stroke=5, stroke_fill=(255, 255, 255))
    sc.ov_qr((812, 36), "https://weixin.qq.com/r/sample-shop-1", 170)
    sc.ov_banner((300, 880, 724, 960), (255, 120, 0),
                 [("¥39.9", "sans_bold", 54, (255, 255, 255)), ("包邮", "cjk", 50, (255, 244, 120))], radius=36)


def _dress_neckline(back: bool) -> list[Point]:
    """The right half of the neckline, from the centre out to the strap."""
    return qbez((512, 262), (540, 262), (564, 252), 8) if back else qbez((512, 318), (544, 300), (564, 252), 8)


def _dress_outline(back: bool) -> list[Point]:
    half = path(
        _dress_neckline(back),
        [(608, 250)],
        qbez((608, 250), (610, 312), (636, 334), 8),
        qbez((636, 334), (628, 400), (602, 452), 8),
        qbez((602, 452), (700, 640), (802, 852), 12),
    )
    hem = [(802 - i * (290 / 10), 866 + 8 * math.sin(i * 1.9) + 10 * math.sin(i / 10 * math.pi))
           for i in range(11)]
    half = path(half, hem)
    return path(half, mirror(half)[1:-1])


def draw_dress(sc: Scene, variant: str = "") -> None:
    back = variant == "back"
    outline = rotate(_dress_outline(back), 1.5)
    body = sc.poly(outline)
    sc.shadow(body, 5, 9, 12, 0.15)
    # the fabric's print, drawn flat then shaded with the garment
    base = (44, 56, 98) if back else (206, 122, 132)
    pat = Image.new("RGB", (sc.size, sc.size), base)
    d = ImageDraw.Draw(pat)
    k = sc.k
    rng = np.random.default_rng(202 if back else 201)
    if back:
        for gy in range(130, 900, 46):
            for gx in range(230, 800, 46):
                x = gx + (23 if (gy // 46) % 2 else 0)
                d.ellipse([(x - 7) * k, (gy - 7) * k, (x + 7) * k, (gy + 7) * k], fill=(240, 238, 230))
    else:
        for gy in range(120, 900, 58):
            for gx in range(220, 820, 58):
                x, y = gx + rng.uniform(-16, 16), gy + rng.uniform(-16, 16)
                r = rng.uniform(9, 14)
                a0 = rng.uniform(0, math.pi)
                leaf = (96, 130, 88)
                la = a0 + 2.4
                d.ellipse([(x + math.cos(la) * r * 1.5 - 5) * k, (y + math.sin(la) * r * 1.5 - 5) * k,
                           (x + math.cos(la) * r * 1.5 + 5) * k, (y + math.sin(la) * r * 1.5 + 5) * k], fill=leaf)
                for p in range(5):
                    a = a0 + p * 2 * math.pi / 5
                    px_, py_ = x + math.cos(a) * r * 0.6, y + math.sin(a) * r * 0.6
                    d.ellipse([(px_ - r * 0.5) * k, (py_ - r * 0.5) * k, (px_ + r * 0.5) * k, (py_ + r * 0.5) * k],
                              fill=(246, 232, 222))
                d.ellipse([(x - r * 0.28) * k, (y - r * 0.28) * k, (x + r * 0.28) * k, (y + r * 0.28) * k],
                          fill=(236, 180, 60))
    colour = np.asarray(pat, np.float32)
    folds = sc.folds(11, (300, 480, 724, 860), 90, 14, 0.16, 14, 260, focus=(512, 380))
    folds = folds * sc.folds(4, (430, 300, 600, 440), 90, 20, 0.08, 10, 70)
    shade = fabric_shade(sc, body, folds=folds, weave=0.015)
    sc.paint(body, colour, shade)
    # straps, neckline facing, waist seam, bow or zip
    for side in (1, -1):
        ends = rotate([(512 + side * 80, 262), (512 + side * 70, 146)], 1.5)
        s = np.maximum(sc.stroke(ends, 24, caps=False), sc.ellipses([ends[1]], 12))
        sc.shadow(s, 2, 3, 3, 0.3)
        sc.paint(s, base, 0.95 * sc.grain(0.02) * sc.lin((0, 146), (0, 262), 1.05, 0.9))
        sc.darken(sc.stroke(rotate([(512 + side * 68, 258), (512 + side * 92, 258)], 1.5), 2, caps=False), 0.3)
    neck_half = _dress_neckline(back)
    neck = rotate([(x, y + 5) for x, y in mirror(neck_half)[:-1] + neck_half], 1.5)
    sc.darken(sc.stroke(neck, 2.5, caps=False) * body, 0.3)
    waist = rotate(qbez((422, 452), (512, 462), (602, 452), 12), 1.5)
    sc.darken(sc.stroke(waist, 3), 0.4)
    sc.lighten(sc.stroke([(x, y + 4) for x, y in waist], 2), 0.12)
    hem_seam = [(x, y - 22) for x, y in outline[len(outline) // 2 - 10:len(outline) // 2 + 10]]
    sc.darken(sc.dashed(hem_seam, 2, 8, 5) * body, 0.25)
    if back:
        zip_line = rotate([(512, 264), (512, 520)], 1.5)
        sc.paint(sc.stroke(zip_line, 7), (30, 34, 52), sc.ribs(4, 0.2, vertical=False))
        sc.paint(sc.rrect(rbox((505, 268, 519, 300), 1.5), 4), (200, 200, 205), sc.lin((505, 0), (519, 0), 1.1, 0.8))
    else:
        bow_c = rotate([(512, 458)], 1.5)[0]
        bx, by = bow_c
        for side in (-1, 1):
            lx0, lx1 = (bx + 6, bx + 58) if side > 0 else (bx - 58, bx - 6)
            loop = sc.poly(path(qbez((bx, by - 4), (bx + side * 30, by - 40), (bx + side * 56, by - 18), 8),
                                qbez((bx + side * 60, by + 4), (bx + side * 40, by + 26), (bx, by + 6), 8)))
            sc.shadow(loop, 2, 4, 4, 0.25)
            sc.paint(loop, base, 0.92 * sc.radial((bx + side * 40, by - 6), 34, 1.1, 0.8) * sc.grain(0.02))
            inner = sc.ellipse((lx0 + 14, by - 14, lx1 - 12, by + 4), aa=2.5)
            sc.darken(inner * loop, 0.28)
            tail = sc.poly([(bx + side * 4, by), (bx + side * 30, by + 80), (bx + side * 10, by + 86),
                            (bx - side * 4, by + 6)])
            sc.paint(tail, base, 0.85 * sc.grain(0.02))
        sc.paint(sc.ellipse((bx - 12, by - 14, bx + 12, by + 14)), base, 0.72)


def clutter_dress(sc: Scene) -> None:
    sc.ov_banner((230, 28, 794, 112), (214, 22, 30),
                 [("新款上市", "cjk", 66, (255, 255, 255)), ("2024夏", "cjk", 40, (255, 232, 120))], radius=18)
    sc.ov_watermark("十三行优选 店铺水印", 40, (90, 90, 90), 0.26, 30)


def clutter_dress_back(sc: Scene) -> None:
    sc.ov_text((968, 48), "￥128", 84, (230, 30, 30), key="cjk", stroke=4, stroke_fill=(255, 255, 255), anchor="ra")
    sc.ov_text((44, 950), "微信: shop8888", 40, (60, 60, 60), anchor="ls")


def draw_jeans(sc: Scene, variant: str = "") -> None:
    half = path([(512, 172), (650, 166)],
                qbez((650, 166), (676, 300), (664, 460), 10),
                qbez((664, 460), (652, 680), (650, 874), 10),
                [(548, 878)],
                qbez((548, 878), (534, 600), (512, 402), 10))
    outline = rotate(path(half, mirror(half)[1:-1]), -1)
    body = sc.poly(outline)
    sc.shadow(body, 5, 9, 12, 0.16)
    denim = (52, 84, 138)
    fades = sc.radial((440, 480), 130, 1.22, 1.0, 260) * sc.radial((584, 480), 130, 1.22, 1.0, 260)
    fades = fades * sc.radial((430, 800), 60, 1.1, 1.0, 60) * sc.radial((594, 800), 60, 1.1, 1.0, 60)
    slub = np.asarray(Image.fromarray(sc.rng.normal(0, 1, (8, sc.size)).astype(np.float32)).resize(
        (sc.size, sc.size), Image.Resampling.BILINEAR), np.float32)
    folds = sc.folds(10, (360, 420, 660, 860), 0, 25, 0.14, 10, 70)       # knee and thigh creases
    whisk = np.zeros_like(body)
    for side in (-1, 1):
        for i in range(5):
            y = 400 + i * 18
            whisk = np.maximum(whisk, sc.stroke([(512 + side * 18, y - 6), (512 + side * (60 + 14 * i), y + 8 - 3 * i)],
                                                3.5, aa=2.5))
    shade = fabric_shade(sc, body, puff=0.25, weave=0.0, grain=0.04, folds=folds) * fades * sc.twill(4.0, 0.08)
    shade = shade * (1 + 0.04 * slub)
    sc.paint(body, denim, shade)
    sc.lighten(whisk * body, 0.16)
    # waistband, loops, button, fly, pockets, hems
    band = sc.poly(rotate(path([(366, 166), (512, 172), (650, 166), (652, 212), (512, 218), (370, 212)]), -1))
    sc.paint(band, denim, shade * 0.92)
    stitch = (214, 150, 72)
    st = np.zeros_like(body)
    st = np.maximum(st, sc.dashed(rotate([(372, 178), (512, 184), (648, 178)], -1), 2.2, 8, 5))
    st = np.maximum(st, sc.dashed(rotate([(374, 204), (512, 210), (648, 204)], -1), 2.2, 8, 5))
    fly = path([(496, 218)], qbez((496, 330), (498, 372), (522, 384), 10))
    st = np.maximum(st, sc.dashed(rotate(fly, -1), 2.2, 8, 5))
    st = np.maximum(st, sc.dashed(rotate([(x - 10, y) for x, y in fly], -1), 2.2, 8, 5))
    for side in (-1, 1):
        pocket = qbez((512 + side * 74, 214), (512 + side * 84, 290), (512 + side * 154, 300), 14)
        st = np.maximum(st, sc.dashed(rotate(pocket, -1), 2.2, 8, 5))
        st = np.maximum(st, sc.dashed(rotate([(x + side * 8, y - 4) for x, y in pocket], -1), 2.2, 8, 5))
        sc.darken(sc.stroke(rotate(pocket, -1), 3) * body, 0.35)
        hem = [(512 + side * 40, 848), (512 + side * 136, 846)]
        st = np.maximum(st, sc.dashed(rotate(hem, -1), 2.2, 8, 5))
        sc.darken(sc.stroke(rotate([(512 + side * 36, 856), (512 + side * 138, 854)], -1), 2.5) * body, 0.3)
        sc.darken(sc.stroke(rotate(qbez((512 + side * 158, 300), (512 + side * 150, 600), (512 + side * 138, 870), 14),
                                   -1), 2.5) * body, 0.22)
        for lx in (0.22, 0.62):
            x = 512 + side * (20 + lx * 120)
            loop = sc.rrect(rbox((x - 8, 158, x + 8, 226), -1), 3)
            sc.shadow(loop, 2, 3, 2, 0.3)
            sc.paint(loop, denim, 0.95 * sc.twill(4.0, 0.08) * sc.grain(0.04))
        rivet = rotate([(512 + side * 150, 298)], -1)[0]
        sc.paint(sc.ellipses([rivet], 5.5), (190, 130, 70), sc.radial((rivet[0] - 2, rivet[1] - 2), 6, 1.3, 0.7))
    sc.darken(sc.stroke(rotate([(512, 218), (512, 386)], -1), 2.5), 0.4)
    sc.paint(st * body, stitch, sc.grain(0.05))
    btn = rotate([(512, 190)], -1)[0]
    sc.paint(sc.ellipses([btn], 14), (170, 150, 120), sc.radial((btn[0] - 5, btn[1] - 5), 16, 1.3, 0.65))
    sc.darken(sc.ellipses([btn], 5), 0.3)


def clutter_jeans(sc: Scene) -> None:
    sc.ov_text((38, 40), "限时特价", 80, (255, 140, 0), stroke=5, stroke_fill=(60, 20, 10))
    sc.ov_text((980, 560), "¥89.0", 72, (226, 20, 40), key="sans_bold", stroke=3, stroke_fill=(255, 255, 255),
               anchor="rm")
    sc.ov_watermark("广州十三行牛仔 批发", 38, (70, 70, 90), 0.24, 32)


def draw_skirt(sc: Scene, variant: str = "") -> None:
    n_pleats = 16
    focus = (512, -260)
    top_l, top_r = (408, 292), (616, 292)
    a_l = math.atan2(268 - focus[0], 800 - focus[1])
    a_r = math.atan2(756 - focus[0], 800 - focus[1])
    hem = []
    for i in range(n_pleats * 2 + 1):
        a = a_r + (a_l - a_r) * i / (n_pleats * 2)
        r = 1090 + (12 if i % 2 else 0) + 10 * math.cos(a * 4)
        hem.append((focus[0] + r * math.sin(a), focus[1] + r * math.cos(a)))
    outline = path([top_l, top_r], [hem[0]], hem, [hem[-1]])
    body = sc.poly(outline)
    sc.shadow(body, 5, 9, 12, 0.15)
    ang = np.arctan2(sc.X - focus[0], sc.Y - focus[1])
    phase = (ang - a_r) / (a_l - a_r) * n_pleats
    tri = np.abs((phase % 1.0) * 2 - 1)                      # 0..1 saw across each pleat
    pleat = 0.80 + 0.30 * tri ** 1.5
    pleat = pleat * (1 - 0.25 * np.exp(-((phase % 1.0) / 0.05) ** 2))
    folds = sc.folds(5, (300, 400, 720, 780), 90, 20, 0.08, 20, 200)
    shade = fabric_shade(sc, body, puff=0.18, folds=folds) * pleat
    colour = (128, 152, 112)
    sc.paint(body, colour, shade)
    band = sc.poly([(404, 250), (620, 250), (622, 298), (402, 298)])
    sc.paint(band, colour, 0.85 * sc.grain(0.03) * sc.puff(band, 6, 0.3))
    sc.darken(sc.stroke([(402, 298), (622, 298)], 3), 0.4)
    sc.paint(sc.ellipses([(594, 274)], 10), (230, 226, 210), sc.radial((590, 270), 12, 1.1, 0.75))
    sc.darken(sc.dashed([(x, y - 16) for x, y in hem], 2, 8, 5) * body, 0.25)


def clutter_skirt(sc: Scene) -> None:
    sc.ov_text((512, 48), "广州十三行女装店", 58, (70, 70, 70), anchor="ma")
    sc.ov_sticker((770, 790), 96, [("爆款", "cjk", 60, (255, 240, 80)), ("热卖", "cjk", 34, (255, 255, 255))])
    sc.ov_text((40, 970), "一件代发", 64, (255, 255, 255), stroke=6, stroke_fill=(200, 30, 30), anchor="ls")


def draw_scarf(sc: Scene, variant: str = "") -> None:
    A, B, C, D = (212, 222), (812, 222), (812, 782), (212, 782)
    P1, P2 = (812, 602), (632, 782)
    Cf = (632, 602)

    def wavy(p: Point, q: Point, n: int = 14, amp: float = 5.0) -> list[Point]:
        """An edge from p to q that ripples a little, as a hem of thin fabric does."""
        dx, dy = q[0] - p[0], q[1] - p[1]
        norm = math.hypot(dx, dy) or 1.0
        nx, ny = dy / norm, -dx / norm
        out = []
        for i in range(n):
            t = i / (n - 1)
            w = amp * math.sin(t * 9 + p[0])
            out.append((p[0] + dx * t + w * nx, p[1] + dy * t + w * ny))
        return out

    rot = -7
    main = rotate(path(wavy(A, B), wavy(B, P1, 8), [P2], wavy(P2, D, 10), wavy(D, A)), rot)
    flap = rotate([P1, P2, Cf], rot)
    m_main = sc.poly(main)
    m_flap = sc.poly(flap)
    sc.shadow(np.maximum(m_main, m_flap), 4, 8, 10, 0.14)
    colour = (164, 112, 136)
    jac = 1 + 0.035 * (np.sin((sc.X + sc.Y) * 0.12) * np.sin((sc.X - sc.Y) * 0.12) > 0.2)
    folds = sc.folds(8, (240, 260, 780, 760), 120, 30, 0.16, 18, 260)
    shade = fabric_shade(sc, m_main, puff=0.15, weave=0.025, folds=folds) * jac
    sc.paint(m_main, colour, shade)
    # a woven border band and the rolled hem
    inner = rotate([(252, 262), (772, 262), (772, 742), (252, 742), (252, 262)], rot)
    sc.lighten(sc.stroke(inner, 14) * m_main * (1 - m_flap), 0.35, (236, 214, 196))
    inner2 = rotate([(268, 278), (756, 278), (756, 726), (268, 726), (268, 278)], rot)
    sc.lighten(sc.stroke(inner2, 3) * m_main, 0.25, (236, 214, 196))
    sc.darken(sc.stroke(main + [main[0]], 5) * m_main, 0.22)
    # the folded-over corner shows the paler reverse
    sc.darken(sc.blur(sc.shift(m_flap, -4, -6), 6) * m_main * (1 - m_flap), 0.25)
    flap_shade = sc.lin(rotate([Cf], rot)[0], rotate([(722, 692)], rot)[0], 1.08, 0.92) * sc.grain(0.025) \
        * sc.weave(3.0, 0.025) * sc.puff(m_flap, 10, 0.15)
    sc.paint(m_flap, (186, 140, 160), flap_shade)
    sc.lighten(sc.stroke(rotate([P1, P2], rot), 3), 0.25)
    sc.lighten(sc.stroke(rotate([(812 - 24, 602 + 10), (632 + 10, 782 - 24)], rot), 10) * m_flap, 0.18, (236, 214, 196))


def draw_hoodie(sc: Scene, variant: str = "") -> None:
    colour = (62, 104, 78)
    rot = 1.0
    hood = sc.poly(rotate(path(qbez((400, 300), (360, 160), (512, 152), 12),
                               qbez((512, 152), (664, 160), (624, 300), 12)), rot))
    half = path([(512, 300)], [(560, 296)],
                qbez((560, 296), (640, 300), (690, 318), 6),
                qbez((690, 318), (760, 480), (800, 688), 10),
                [(738, 716)],
                qbez((738, 716), (710, 560), (676, 420), 8),
                qbez((676, 420), (670, 600), (676, 800), 8),
                [(512, 806)])
    outline = rotate(path(half, mirror(half)[1:-1]), rot)
    body = sc.poly(outline)
    allm = np.maximum(hood, body)
    sc.shadow(allm, 5, 9, 12, 0.16)
    folds = sc.folds(10, (360, 320, 680, 780), 90, 35, 0.14, 18, 180)
    folds = folds * sc.folds(6, (240, 380, 790, 700), 70, 20, 0.12, 12, 90)
    shade = fabric_shade(sc, allm, puff=0.24, grain=0.03, weave=0.03, folds=folds)
    sc.paint(hood, colour, shade * sc.radial((512, 240), 160, 1.05, 0.85))
    lining = sc.poly(rotate(path(qbez((430, 300), (420, 196), (512, 196), 10),
                                 qbez((512, 196), (604, 196), (594, 300), 10)), rot))
    sc.paint(lining, colour, 0.55 * sc.lin((512, 200), (512, 300), 0.8, 1.0) * sc.grain(0.03))
    sc.paint(body, colour, shade)
    neckline = rotate(qbez((430, 300), (512, 336), (594, 300), 14), rot)
    sc.darken(sc.stroke(neckline, 4), 0.4)
    sc.darken(sc.stroke(rotate(qbez((430, 298), (420, 196), (512, 194), 10), rot), 3) * hood, 0.3)
    sc.darken(sc.stroke(rotate(qbez((594, 298), (604, 196), (512, 194), 10), rot), 3) * hood, 0.3)
    # rib cuffs and waistband
    rib = sc.ribs(7, 0.1)
    band = sc.poly(rotate([(348, 758), (676, 758), (676, 800), (512, 806), (348, 800)], rot))
    sc.paint(band * body, colour, shade * rib * 0.9)
    for side in (1, -1):
        cuff = sc.poly(rotate(mirror([(792, 652), (800, 688), (738, 716), (731, 680)], 512) if side < 0 else
                              [(792, 652), (800, 688), (738, 716), (731, 680)], rot))
        sc.paint(cuff * body, colour, shade * 0.9 * sc.ribs(6, 0.1, vertical=False))
        sc.darken(sc.stroke(rotate(qbez((512 + side * 178, 318), (512 + side * 160, 370), (512 + side * 164, 420), 8),
                                   rot), 3) * body, 0.35)
    # kangaroo pocket
    pocket_half = path([(512, 560), (590, 560)], qbez((590, 560), (618, 600), (636, 700), 8), [(512, 706)])
    pocket = rotate(path(pocket_half, mirror(pocket_half)[1:-1]), rot)
    pm = sc.poly(pocket)
    sc.darken(sc.blur(sc.shift(pm, 0, 4), 4) * (1 - pm) * body, 0.25)
    sc.paint(pm, colour, shade * 1.04)
    sc.darken(sc.stroke(pocket + [pocket[0]], 3), 0.35)
    for side in (1, -1):
        sc.darken(sc.stroke(rotate([(512 + side * 78, 564), (512 + side * 122, 700)], rot), 4), 0.5)
    # drawstrings with metal aglets
    for side in (-1, 1):
        x0 = 512 + side * 26
        cord = rotate(qbez((x0, 316), (x0 + side * 8, 400), (x0 - side * 4, 470), 10), rot)
        sc.shadow(sc.stroke(cord, 9), 3, 4, 3, 0.35)
        sc.paint(sc.stroke(cord, 9), (236, 234, 226), sc.grain(0.04) * sc.ribs(5, 0.06, vertical=False))
        tip = cord[-1]
        sc.paint(sc.rrect((tip[0] - 6, tip[1] - 4, tip[0] + 6, tip[1] + 24), 4), (180, 180, 185),
                 sc.lin((tip[0] - 6, 0), (tip[0] + 6, 0), 1.2, 0.7))
        sc.paint(sc.ellipses([rotate([(x0, 316)], rot)[0]], 7), (200, 200, 205), 0.9)


def clutter_hoodie(sc: Scene) -> None:
    sc.ov_banner((32, 32, 318, 108), (255, 110, 20), [("一件代发", "cjk", 56, (255, 255, 255))], radius=10)
    sc.ov_qr((48, 780), "https://weixin.qq.com/r/sample-shop-6", 150, caption="加微信拿货")
    sc.ov_text((990, 980), "VX: abc_123", 44, (30, 140, 60), key="sans_bold", stroke=2,
               stroke_fill=(255, 255, 255), anchor="rs")


# --------------------------------------------------------------------------- products: on a form / a model

def draw_blouse_on_form(sc: Scene, variant: str = "") -> None:
    linen = (222, 204, 176)
    # stand: pole and tripod, then the form
    pole = sc.rrect((502, 700, 522, 890), 6)
    legs = np.maximum.reduce([sc.stroke([(512, 884), (x, y)], 14) for x, y in ((404, 936), (620, 936), (512, 920))])
    stand = np.maximum(pole, legs)
    sc.darken(sc.blur(sc.ellipse((380, 920, 644, 952)), 8), 0.2)
    sc.paint(stand, (72, 52, 40), sc.lin((500, 0), (524, 0), 1.35, 0.7))
    sc.paint(sc.ellipses([(404, 936), (620, 936), (512, 920)], 11), (40, 32, 28), 1.0)
    sc.paint(sc.ellipse((492, 876, 532, 896)), (100, 80, 60), 1.0)
    half = path([(512, 244), (542, 244)],
                qbez((542, 244), (556, 282), (644, 300), 8),
                qbez((644, 300), (684, 316), (674, 370), 8),
                qbez((674, 370), (640, 460), (610, 548), 10),
                qbez((610, 548), (660, 640), (642, 712), 10),
                qbez((642, 712), (580, 736), (512, 740), 8))
    torso = sc.poly(path(half, mirror(half)[1:-1]))
    neck = sc.rrect((482, 170, 542, 262), 10)
    form = np.maximum(torso, neck)
    sc.shadow(form, 10, 8, 16, 0.12)
    cyl = 0.72 + 0.4 * np.clip(np.cos((sc.X - 470) / 230), 0, 1)
    fshade = cyl * sc.puff(form, 18, 0.2) * sc.weave(3.0, 0.04) * sc.grain(0.03)
    sc.paint(form, linen, fshade)
    sc.darken(sc.stroke([(512, 250), (512, 736)], 2) * torso, 0.18)
    sc.paint(sc.ellipse((468, 148, 556, 184)), (96, 66, 44), sc.radial((500, 156), 40, 1.3, 0.7))
    sc.paint(sc.ellipse((478, 164, 546, 182)), (70, 48, 32), 1.0)
    sc.darken(sc.stroke([(484, 256), (540, 256)], 2), 0.25)
    # the blouse: coral chiffon, peter-pan collar, button placket, puff sleeves
    coral = (226, 126, 110)
    bh = path([(512, 268), (540, 262)],
              qbez((540, 262), (560, 292), (646, 306), 8),
              qbez((646, 306), (676, 318), (670, 360), 6),
              qbez((670, 360), (636, 460), (618, 560), 10),
              qbez((618, 560), (640, 620), (644, 664), 8),
              qbez((644, 664), (580, 684), (512, 690), 8))
    blouse = sc.poly(path(bh, mirror(bh)[1:-1]))
    sleeves = np.maximum(sc.ellipse((624, 290, 724, 400)), sc.ellipse((300, 290, 400, 400)))
    folds = sc.folds(10, (400, 330, 624, 680), 92, 14, 0.15, 10, 180)
    sh = fabric_shade(sc, np.maximum(blouse, sleeves), puff=0.2, weave=0.02, folds=folds) * cyl ** 0.5
    sc.shadow(sleeves, 4, 6, 6, 0.2)
    sc.paint(blouse, coral, sh)
    for cxs in (674, 350):
        sl = sc.ellipse((cxs - 50, 290, cxs + 50, 400))
        gathers = 1 + 0.08 * np.sin(np.arctan2(sc.Y - 300, sc.X - cxs) * 14)
        sc.paint(sl, coral, sh * sc.radial((cxs - 10, 330), 60, 1.08, 0.82) * gathers)
        sc.darken(sc.stroke(qbez((cxs - 44, 384), (cxs, 402), (cxs + 44, 384), 8), 3) * sl, 0.3)
    for side in (-1, 1):
        col = sc.poly([(512, 280), (512 + side * 24, 262), (512 + side * 70, 276), (512 + side * 76, 306),
                       (512 + side * 50, 326), (512 + side * 12, 320)])
        sc.darken(sc.blur(sc.shift(col, 0, 4), 3), 0.2)
        sc.paint(col, (248, 246, 240), sc.puff(col, 6, 0.2) * sc.grain(0.02))
        sc.darken(sc.dashed([(512 + side * 16, 314), (512 + side * 46, 318), (512 + side * 66, 300)], 1.6, 5, 4), 0.2)
    sc.darken(sc.stroke([(512, 318), (512, 684)], 2.5), 0.3)
    sc.darken(sc.stroke([(526, 322), (526, 684)], 2), 0.18)
    btns = [(519, y) for y in range(356, 680, 62)]
    sc.shadow(sc.ellipses(btns, 7), 1, 2, 1.5, 0.3)
    sc.paint(sc.ellipses(btns, 7), (250, 248, 240), 1.0)
    sc.darken(sc.stroke([(x, y) for x, y in bh[-8:]] + mirror(bh[-8:])[1:], 2.5) * blouse, 0.25)


def clutter_blouse(sc: Scene) -> None:
    sc.ov_text((984, 44), "包邮", 90, (230, 24, 24), stroke=6, stroke_fill=(255, 255, 255), anchor="ra")
    sc.ov_banner((36, 40, 330, 110), (30, 30, 30), [("新款上市", "cjk", 52, (255, 214, 90))], radius=8)
    sc.ov_text((40, 994), "十三行精品女装 批发零售", 34, (90, 90, 90), anchor="ls")
    sc.ov_watermark("店铺水印", 56, (255, 255, 255), 0.32, 30, step=(300, 220))


def draw_model_jacket(sc: Scene, variant: str = "") -> None:
    skin = (240, 210, 186)
    hair = (34, 28, 30)
    camel = (192, 148, 98)
    # soft floor shadow
    sc.darken(sc.blur(sc.ellipse((410, 912, 620, 944)), 10), 0.25)
    # legs in dark trousers, shoes
    for side in (-1, 1):
        leg = sc.poly([(512 + side * 4, 700), (512 + side * 50, 700), (512 + side * 40, 900), (512 + side * 12, 900)])
        sc.paint(leg, (44, 44, 52), sc.lin((512 + side * 4, 0), (512 + side * 50, 0), 1.0, 0.75) * sc.grain(0.02))
        shoe = sc.poly(path(qbez((512 + side * 10, 898), (512 + side * 12, 936), (512 + side * 58, 934), 6),
                            [(512 + side * 58, 922), (512 + side * 40, 896)]))
        sc.paint(shoe, (92, 56, 40), sc.lin((0, 896), (0, 936), 1.2, 0.7))
    # hair behind, neck, head, bangs
    back_hair = np.maximum(sc.ellipse((438, 98, 586, 250)), sc.rrect((440, 160, 584, 282), 30))
    strands = 1 + 0.12 * np.sin(sc.X * 0.35 + 0.02 * sc.Y)
    hshade = sc.lin((440, 100), (584, 280), 1.25, 0.75) * strands * sc.grain(0.03)
    sc.paint(back_hair, hair, hshade)
    neck = sc.rrect((492, 226, 532, 310), 8)
    sc.paint(neck, skin, sc.lin((0, 226), (0, 270), 0.72, 1.0))
    head = sc.ellipse((458, 110, 566, 248))
    sc.paint(head, skin, sc.radial((500, 160), 80, 1.05, 0.86))
    sc.lighten(sc.ellipses([(484, 206), (540, 206)], 11, aa=5) * head, 0.10, (240, 150, 140))
    fringe = 146 + 10 * ((sc.X - 512) / 60) ** 2 + 2.5 * np.sin(sc.X * 0.21)   # soft, slightly uneven bangs
    cap = sc.ellipse((452, 102, 572, 232)) * np.clip(fringe - sc.Y + 0.5, 0, 1)
    sides = np.maximum(sc.poly(path(qbez((456, 150), (462, 220), (478, 276), 8), [(446, 280)])),
                       sc.poly(path(qbez((568, 150), (562, 220), (546, 276), 8), [(578, 280)])))
    sc.darken(sc.blur(sc.shift(cap, 0, 5), 4) * head * (1 - cap), 0.18)
    sc.paint(np.maximum(cap, sides), hair, hshade)
    # the jacket: a belted camel trench
    sc.paint(sc.poly([(490, 296), (534, 296), (512, 450)]), (246, 244, 238), sc.lin((0, 296), (0, 450), 0.9, 1.0))
    jh = path([(512, 450), (534, 294)],
              qbez((534, 294), (600, 304), (630, 318), 6),
              qbez((630, 318), (628, 400), (604, 466), 8),
              qbez((604, 466), (630, 560), (650, 712), 10),
              qbez((650, 712), (580, 722), (512, 720), 8))
    jacket = sc.poly(path(jh, mirror(jh)[1:-1]))
    sleeves = []
    for side in (-1, 1):
        sleeves.append(sc.poly([(512 + side * 104, 316), (512 + side * 128, 322), (512 + side * 150, 420),
                                (512 + side * 160, 640), (512 + side * 112, 646), (512 + side * 102, 450),
                                (512 + side * 92, 360)]))
    allj = np.maximum.reduce([jacket] + sleeves)
    sc.shadow(allj, 10, 6, 16, 0.12)
    folds = sc.folds(9, (400, 480, 624, 710), 90, 18, 0.14, 12, 150)
    folds = folds * sc.folds(6, (380, 330, 660, 640), 80, 15, 0.1, 8, 80)
    shade = fabric_shade(sc, allj, puff=0.22, weave=0.03, grain=0.025, folds=folds)
    sc.paint(jacket, camel, shade)
    for side, sl in zip((-1, 1), sleeves):
        hand = sc.ellipse((512 + side * 136 - 22, 630, 512 + side * 136 + 22, 700))
        sc.paint(hand, skin, sc.radial((512 + side * 130, 650), 30, 1.0, 0.85))
        sc.darken(sc.blur(sc.shift(sl, -side * 4, 0), 5) * jacket * (1 - sl), 0.3)
        sc.paint(sl, camel, shade * sc.lin((512 + side * 100, 0), (512 + side * 160, 0), 1.04, 0.9))
        cuff = sl * ((sc.Y > 596) & (sc.Y < 622)).astype(np.float32)
        sc.paint(cuff, camel, shade * 0.86)
        sc.paint(sc.ellipses([(512 + side * 148, 609)], 6), (60, 40, 30), 1.0)
    for side in (-1, 1):
        lapel = sc.poly([(512 + side * 22, 294), (512 + side * 64, 318), (512 + side * 58, 340),
                         (512 + side * 72, 354), (512 + side * 4, 452), (512 + side * 2, 440)])
        sc.darken(sc.blur(sc.shift(lapel, side * 4, 4), 4) * (1 - lapel), 0.3)
        sc.paint(lapel, camel, shade * sc.lin((512, 300), (512 + side * 70, 340), 1.05, 0.92))
        sc.darken(sc.stroke([(512 + side * 58, 340), (512 + side * 66, 346)], 2), 0.4)
    btns = [(486, 520), (538, 520), (486, 600), (538, 600)]
    sc.shadow(sc.ellipses(btns, 9), 2, 3, 2, 0.3)
    sc.paint(sc.ellipses(btns, 9), (70, 46, 32))
    sc.darken(sc.stroke([(512, 452), (512, 716)], 2.5), 0.3)
    belt = jacket * ((sc.Y > 466) & (sc.Y < 494)).astype(np.float32)
    sc.darken(sc.blur(sc.shift(belt, 0, 4), 3) * (1 - belt) * jacket, 0.25)
    sc.paint(belt, camel, shade * 0.92)
    buckle = np.clip(sc.rrect((478, 462, 514, 498), 4) - sc.rrect((484, 468, 508, 492), 3), 0, 1)
    sc.paint(buckle, (70, 46, 32), 1.0)
    sc.darken(sc.dashed(qbez((376, 690), (512, 704), (648, 690), 14), 2, 7, 5) * jacket, 0.25)


def clutter_model(sc: Scene) -> None:
    sc.ov_text((36, 36), "广州十三行女装店", 50, (255, 255, 255), stroke=5, stroke_fill=(150, 30, 60))
    sc.ov_text((40, 470), "￥128", 76, (230, 20, 30), stroke=4, stroke_fill=(255, 255, 255))
    sc.ov_text((48, 556), "包邮", 62, (255, 120, 0), stroke=4, stroke_fill=(255, 255, 255))
    sc.ov_qr((800, 780), "https://weixin.qq.com/r/sample-shop-8", 160)


# --------------------------------------------------------------------------- products: still life

def draw_handbag(sc: Scene, variant: str = "") -> None:
    tan = (150, 90, 56)
    body_pts = path(qbez((344, 432), (330, 432), (328, 448), 4),
                    [(300, 740)], qbez((300, 740), (298, 772), (330, 772), 5),
                    [(694, 772)], qbez((694, 772), (726, 772), (724, 740), 5),
                    [(696, 448)], qbez((696, 448), (694, 432), (680, 432), 4))
    body = sc.poly(body_pts)
    back_handle = sc.stroke(cbez((432, 438), (436, 250), (588, 250), (592, 438), 24), 20)
    front_handle = sc.stroke(cbez((404, 440), (404, 228), (620, 228), (620, 440), 24), 24)
    allm = np.maximum.reduce([body, back_handle, front_handle])
    sc.darken(sc.blur(sc.ellipse((290, 748, 740, 800)), 12), 0.35)
    sc.shadow(allm, 10, 6, 14, 0.12)
    leather = sc.mottle(4, 0.022) * sc.mottle(14, 0.03) * sc.grain(0.015)
    sc.paint(back_handle, tan, 0.62 * leather * sc.lin((0, 250), (0, 440), 1.0, 0.8))
    lit = sc.lin((320, 440), (720, 780), 1.12, 0.86)
    sc.paint(body, tan, lit * sc.puff(body, 34, 0.35) * leather)
    # front flap with a turn-lock clasp
    flap_pts = path([(338, 436), (686, 436)], [(676, 560)], qbez((676, 560), (512, 660), (348, 560), 16))
    flap = sc.poly(flap_pts)
    sc.darken(sc.blur(sc.shift(flap, 0, 8), 6) * body * (1 - flap), 0.35)
    sc.paint(flap, tan, 1.04 * lit * sc.puff(flap, 18, 0.28) * leather)
    edge = (96, 50, 30)
    sc.paint(sc.stroke(flap_pts[2:], 4), edge, 1.0)
    stitch = (232, 214, 180)
    sc.paint(sc.dashed(path([(688 - 10, 548)], qbez((664, 556), (512, 642), (360, 556), 16)), 2.2, 8, 5), stitch,
             0.9)
    sc.paint(sc.dashed([(318, 738), (330, 752), (694, 752), (706, 738)], 2.2, 8, 5), stitch, 0.9)
    clasp = sc.rrect((490, 590, 534, 626), 8)
    sc.shadow(clasp, 2, 3, 2, 0.35)
    sc.paint(clasp, (214, 172, 82), sc.lin((490, 590), (534, 626), 1.3, 0.7))
    sc.paint(sc.ellipse((502, 598, 522, 618)), (180, 136, 56), sc.lin((502, 598), (522, 618), 0.8, 1.3))
    # front handle on top, with metal rings where it meets the bag
    sc.shadow(front_handle, 3, 6, 5, 0.25)
    sc.paint(front_handle, tan, 1.08 * leather * sc.puff(front_handle, 6, 0.35))
    sc.paint(sc.dashed(cbez((404, 440), (404, 228), (620, 228), (620, 440), 24), 1.8, 6, 5) * front_handle,
             stitch, 0.85)
    for x in (404, 620):
        ring = np.clip(sc.ellipse((x - 16, 426, x + 16, 458)) - sc.ellipse((x - 9, 433, x + 9, 451)), 0, 1)
        sc.paint(ring, (214, 172, 82), sc.lin((x - 16, 426), (x + 16, 458), 1.25, 0.7))


def clutter_handbag(sc: Scene) -> None:
    sc.ov_sticker((700, 420), 88, [("爆款", "cjk", 56, (255, 240, 90)), ("¥99", "sans_bold", 34, (255, 255, 255))],
                  fill=(236, 46, 30), angle=14)
    sc.ov_banner((212, 876, 812, 956), (20, 20, 20), [("新款上市", "cjk", 54, (255, 210, 80)),
                                                      ("厂家直销", "cjk", 44, (255, 255, 255))], radius=12)
    sc.ov_watermark("皮具城 店铺水印", 44, (120, 120, 120), 0.22, 28)


def _label_strip(sc: Scene, w_px: int, h_px: int) -> np.ndarray:
    """The flat mug label (RGBA float 0..1) before it is wrapped around the cylinder."""
    k = sc.k
    im = Image.new("RGBA", (w_px, h_px), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, w_px, h_px], fill=(243, 232, 206, 255))
    brown = (84, 46, 26, 255)
    lw = max(1, int(3 * k))
    d.rectangle([0, int(8 * k), w_px, int(8 * k) + lw], fill=brown)
    d.rectangle([0, h_px - int(8 * k) - lw, w_px, h_px - int(8 * k)], fill=brown)
    d.text((w_px / 2, h_px * 0.46), "CAFÉ ROMA", font=sized_font("serif_bold", 42 * k), fill=brown, anchor="mm")
    d.text((w_px / 2, h_px * 0.80), "— EST. 1962 —", font=sized_font("sans", 18 * k), fill=(150, 60, 36, 255),
           anchor="mm")
    return np.asarray(im, np.float32) / 255.0


def draw_mug(sc: Scene, variant: str = "") -> None:
    cx, R, top, bot = 492, 150, 372, 700
    b = 0.2 * R
    glaze = (36, 112, 124)
    # saucer
    saucer = sc.ellipse((cx - 250, bot - 40, cx + 270, bot + 88))
    sc.darken(sc.blur(sc.shift(saucer, 8, 14), 14), 0.25)
    sc.paint(saucer, (244, 244, 240),
             sc.lin((cx - 250, 0), (cx + 270, 0), 1.0, 0.86) * sc.radial((cx, bot + 24), 200, 0.92, 1.02, 60))
    ring = sc.ellipse((cx - 170, bot - 16, cx + 190, bot + 60)) - sc.ellipse((cx - 160, bot - 12, cx + 180, bot + 54))
    sc.darken(np.clip(ring, 0, 1), 0.12)
    # handle (behind the body's edge)
    handle = np.clip(sc.ellipse((cx + R - 40, top + 60, cx + R + 104, top + 280))
                     - sc.ellipse((cx + R - 6, top + 98, cx + R + 64, top + 242)), 0, 1)
    body = np.maximum.reduce([sc.rrect((cx - R, top, cx + R, bot), 4), sc.ellipse((cx - R, bot - b, cx + R, bot + b)),
                              sc.ellipse((cx - R, top - b, cx + R, top + b))])
    sc.darken(sc.blur(sc.shift(body, 24, 4), 10) * saucer, 0.3)
    sc.paint(handle, glaze, sc.puff(handle, 8, 0.4) * sc.lin((cx + R, 0), (cx + R + 104, 0), 1.0, 0.75))
    u = np.clip((sc.X - cx) / R, -1, 1)
    th = np.arcsin(u)
    lam = (0.30 + 0.78 * np.clip(np.cos(th + 0.55), 0, 1)).astype(np.float32)
    spec = np.exp(-((th + 0.55) / 0.09) ** 2).astype(np.float32)
    sc.paint(body, glaze, lam * sc.grain(0.01))
    # label wrapped round the cylinder (product text: CAFÉ ROMA)
    th_max = 1.12
    lab_top, lab_h = 462, 150
    w_px = max(8, int(2 * th_max * R * sc.k))
    h_px = max(8, int(lab_h * sc.k))
    strip = _label_strip(sc, w_px, h_px)
    src_x = (th + th_max) / (2 * th_max) * (w_px - 1)
    src_y = (sc.Y - (lab_top + b * np.cos(th))) * sc.k
    valid = (np.abs(th) < th_max) & (src_y >= 0) & (src_y <= h_px - 1)
    x0 = np.clip(np.floor(src_x), 0, w_px - 2).astype(np.int32)
    y0 = np.clip(np.floor(src_y), 0, h_px - 2).astype(np.int32)
    fx = np.clip(src_x - x0, 0, 1)[..., None]
    fy = np.clip(src_y - y0, 0, 1)[..., None]
    x0b, y0b = np.broadcast_to(x0, valid.shape), np.broadcast_to(y0, valid.shape)
    fxb, fyb = np.broadcast_to(fx, valid.shape + (1,)), np.broadcast_to(fy, valid.shape + (1,))
    samp = (strip[y0b, x0b] * (1 - fxb) * (1 - fyb) + strip[y0b, x0b + 1] * fxb * (1 - fyb)
            + strip[y0b + 1, x0b] * (1 - fxb) * fyb + strip[y0b + 1, x0b + 1] * fxb * fyb)
    alpha = samp[..., 3] * valid * body
    sc.paint(alpha, samp[..., :3] * 255.0, (0.25 + 0.8 * lam) / 1.03)
    sc.lighten(spec * body, 0.45)
    # rim and the coffee inside
    rim = sc.ellipse((cx - R, top - b, cx + R, top + b))
    sc.paint(rim, glaze, 1.15)
    inner = sc.ellipse((cx - R + 12, top - b + 6, cx + R - 12, top + b - 5))
    sc.paint(inner, (236, 234, 228), sc.lin((0, top - b), (0, top + b), 0.62, 1.0))
    coffee = sc.ellipse((cx - R + 20, top - b + 16, cx + R - 20, top + b - 6))
    sc.paint(coffee, (70, 40, 24), sc.radial((cx - 30, top + 4), 90, 1.25, 0.85, 20))


def clutter_mug(sc: Scene) -> None:
    sc.ov_banner((200, 40, 824, 124), (214, 30, 30), [("限时特价", "cjk", 62, (255, 255, 255)),
                                                      ("¥19.9", "sans_bold", 56, (255, 236, 90))], radius=40)
    sc.ov_qr((804, 770), "https://weixin.qq.com/r/sample-shop-10", 170)
    sc.ov_text((44, 950), "厂家直销", 60, (255, 120, 0), stroke=4, stroke_fill=(80, 30, 0), anchor="ls")


def draw_sneaker(sc: Scene, variant: str = "") -> None:
    navy = (44, 58, 98)
    rot = -3
    sole_pts = rotate(path(qbez((200, 610), (176, 640), (214, 688), 8),
                           qbez((214, 688), (500, 700), (810, 690), 10),
                           qbez((810, 690), (846, 650), (828, 600), 8),
                           qbez((828, 600), (520, 618), (200, 610), 12)), rot)
    upper_pts = rotate(path(cbez((204, 614), (178, 570), (232, 526), (300, 520), 12),
                            qbez((300, 520), (400, 480), (470, 436), 10),
                            [(500, 384), (540, 360), (586, 368)],
                            qbez((586, 368), (600, 420), (650, 430), 8),
                            qbez((650, 430), (720, 420), (782, 380), 8),
                            qbez((782, 380), (842, 480), (828, 604), 10),
                            qbez((828, 604), (520, 620), (204, 614), 10)), rot)
    sole = sc.poly(sole_pts)
    upper = sc.poly(upper_pts)
    allm = np.maximum(sole, upper)
    sc.darken(sc.blur(sc.ellipse((200, 660, 860, 720)), 10), 0.35)
    sc.shadow(allm, 6, 4, 10, 0.12)
    shade = sc.puff(upper, 20, 0.3) * sc.lin((300, 380), (700, 640), 1.12, 0.85) * sc.weave(3.0, 0.04) * sc.grain(0.03)
    sc.paint(upper, navy, shade)
    # collar lining, heel tab, toe cap, side wave panel
    collar = sc.poly(rotate(path(qbez((586, 368), (600, 416), (650, 426), 8),
                                 qbez((650, 426), (720, 416), (782, 380), 8),
                                 qbez((782, 380), (700, 400), (640, 404), 8),
                                 qbez((640, 404), (600, 392), (586, 368), 6)), rot))
    sc.paint(collar, (200, 196, 186), sc.grain(0.04) * 0.9)
    tab = sc.poly(rotate([(776, 372), (800, 366), (832, 470), (812, 476)], rot))
    sc.paint(tab, (196, 48, 46), sc.puff(tab, 4, 0.3))
    toe = sc.poly(rotate(path(cbez((204, 614), (178, 570), (232, 526), (300, 520), 12),
                              qbez((300, 520), (290, 570), (320, 616), 8)), rot))
    sc.paint(toe * upper, navy, shade * 0.8)
    sc.darken(sc.ellipses(rotate([(230 + 16 * i, 578 + (i % 2) * 12) for i in range(5)], rot), 2.4), 0.5)
    wave = sc.poly(rotate(path(qbez((330, 590), (480, 470), (720, 470), 12), [(746, 500)],
                               qbez((746, 500), (560, 520), (380, 600), 12)), rot))
    sc.paint(wave * upper, (240, 238, 232), sc.puff(wave, 6, 0.25) * sc.grain(0.02))
    stitch = np.maximum.reduce([
        sc.dashed(rotate(qbez((322, 616), (290, 570), (306, 524), 8), rot), 2, 6, 4),
        sc.dashed(rotate(qbez((340, 582), (480, 462), (716, 458), 12), rot), 2, 6, 4),
        sc.dashed(rotate(qbez((210, 600), (520, 606), (820, 590), 14), rot), 2, 6, 4)])
    sc.lighten(stitch * upper, 0.35)
    # eyestay, tongue, laces
    tongue = sc.poly(rotate([(478, 430), (500, 380), (544, 356), (584, 366), (590, 390), (520, 440)], rot))
    sc.paint(tongue, navy, 0.92 * sc.puff(tongue, 6, 0.3) * sc.grain(0.03))
    eyes = [rotate([(470 + 22 * i, 452 - 14 * i)], rot)[0] for i in range(6)]
    eyes2 = [rotate([(500 + 22 * i, 482 - 14 * i)], rot)[0] for i in range(6)]
    laces = np.zeros_like(upper)
    for i in range(5):
        laces = np.maximum(laces, sc.stroke([eyes[i], eyes2[i + 1]], 6))
        laces = np.maximum(laces, sc.stroke([eyes2[i], eyes[i + 1]], 6))
    sc.shadow(laces, 2, 3, 2, 0.3)
    sc.paint(laces, (244, 242, 236), sc.grain(0.04))
    sc.paint(sc.ellipses(eyes + eyes2, 4.5), (180, 182, 190), 1.0)
    # sole: midsole, tread line, outsole
    sc.paint(sole, (244, 242, 234), sc.lin((0, 604), (0, 700), 1.02, 0.86) * sc.grain(0.015))
    sc.darken(sc.stroke(rotate(qbez((210, 650), (520, 664), (826, 648), 14), rot), 2.5) * sole, 0.2)
    outsole = sole * (sc.Y > 676 + (sc.X - 512) * math.tan(math.radians(rot))).astype(np.float32)
    sc.paint(outsole, (58, 54, 52), sc.ribs(10, 0.15))


def clutter_sneaker(sc: Scene) -> None:
    sc.ov_text((36, 36), "厂家直销 包邮", 64, (226, 24, 24), stroke=4, stroke_fill=(255, 255, 255))
    sc.ov_text((988, 180), "¥159", 88, (255, 255, 255), key="sans_bold", stroke=6, stroke_fill=(220, 30, 30),
               anchor="ra")
    sc.ov_text((990, 990), "微信: shop8888", 42, (40, 40, 40), anchor="rs")


def draw_backpack(sc: Scene, variant: str = "") -> None:
    mustard = (206, 156, 58)
    straps = np.maximum(sc.rrect((296, 300, 346, 790), 20), sc.rrect((678, 300, 728, 790), 20))
    loop = sc.stroke(cbez((470, 232), (470, 160), (554, 160), (554, 232), 16), 16)
    body = np.maximum(sc.ellipse((324, 196, 700, 520)), sc.rrect((324, 350, 700, 842), 70))
    allm = np.maximum.reduce([straps, loop, body])
    sc.darken(sc.blur(sc.ellipse((320, 816, 710, 868)), 12), 0.3)
    sc.shadow(allm, 8, 6, 14, 0.12)
    sc.paint(straps, (46, 44, 44), sc.lin((296, 0), (346, 0), 1.1, 0.8) * sc.grain(0.03))
    sc.paint(loop, (46, 44, 44), sc.grain(0.03))
    canvas = sc.weave(3.0, 0.05) * sc.grain(0.03) * sc.folds(6, (340, 300, 690, 800), 90, 40, 0.07, 20, 120)
    shade = sc.puff(body, 40, 0.35) * sc.lin((330, 200), (700, 840), 1.1, 0.86) * canvas
    sc.paint(body, mustard, shade)
    # main zip along the top dome
    zip_arc = [(512 + 156 * math.cos(a), 356 + 136 * math.sin(a))
               for a in np.linspace(math.pi * 1.02, math.pi * 1.98, 30)]
    zip_arc = [(zip_arc[0][0], 480)] + zip_arc + [(zip_arc[-1][0], 480)]
    sc.paint(sc.stroke(zip_arc, 10), (44, 40, 38), sc.ribs(3, 0.3))
    for zx, zy in (zip_arc[8], zip_arc[-9]):
        pull = sc.rrect((zx - 6, zy + 2, zx + 6, zy + 42), 5)
        sc.shadow(pull, 2, 3, 2, 0.3)
        sc.paint(pull, (40, 38, 36), sc.lin((zx - 6, 0), (zx + 6, 0), 1.3, 0.8))
    # front pocket
    pocket = sc.rrect((372, 566, 652, 806), 56)
    sc.darken(sc.blur(sc.shift(pocket, 0, 8), 6) * body * (1 - pocket), 0.3)
    sc.paint(pocket, mustard, 0.96 * sc.puff(pocket, 22, 0.32) * sc.lin((372, 566), (652, 806), 1.08, 0.9) * canvas)
    pzip = qbez((392, 604), (512, 586), (632, 604), 12)
    sc.paint(sc.stroke(pzip, 8), (44, 40, 38), sc.ribs(3, 0.3))
    sc.paint(sc.dashed([(388, 790), (636, 790)], 2, 7, 5), (240, 214, 150), 1.0)
    sc.paint(sc.dashed(path(qbez((382, 640), (380, 790), (420, 796), 8)), 2, 7, 5), (240, 214, 150), 1.0)
    sc.paint(sc.dashed(path(qbez((642, 640), (644, 790), (604, 796), 8)), 2, 7, 5), (240, 214, 150), 1.0)
    pull = sc.rrect((604, 598, 616, 640), 5)
    sc.shadow(pull, 2, 3, 2, 0.3)
    sc.paint(pull, (40, 38, 36), 1.0)
    # leather patch
    patch = sc.rrect((478, 470, 546, 520), 8)
    sc.shadow(patch, 2, 3, 2, 0.3)
    sc.paint(patch, (108, 62, 38), sc.puff(patch, 6, 0.25) * sc.mottle(5, 0.05))
    sc.paint(sc.dashed([(484, 476), (540, 476), (540, 514), (484, 514), (484, 476)], 1.6, 5, 4), (230, 200, 150), 1.0)


def draw_cap(sc: Scene, variant: str = "") -> None:
    red = (168, 36, 44)
    crown_pts = path(qbez((320, 608), (300, 400), (520, 338), 16), qbez((520, 338), (760, 360), (752, 604), 16),
                     qbez((752, 604), (540, 626), (320, 608), 12))
    crown = sc.poly(crown_pts)
    brim_pts = path(qbez((330, 586), (260, 560), (176, 640), 10), qbez((176, 640), (300, 726), (520, 640), 14),
                    qbez((520, 640), (420, 620), (330, 586), 8))
    brim = sc.poly(brim_pts)
    allm = np.maximum(crown, brim)
    sc.darken(sc.blur(sc.ellipse((220, 620, 800, 720)), 14), 0.3)
    sc.shadow(allm, 8, 6, 12, 0.12)
    shade = (sc.radial((470, 420), 330, 1.12, 0.72) * sc.puff(crown, 26, 0.3) * sc.twill(3.0, 0.05)
             * sc.grain(0.025))
    sc.paint(crown, red, shade)
    seams = np.zeros_like(crown)
    for end in ((410, 610), (560, 620), (690, 610)):
        run = qbez((528, 342), ((528 + end[0]) / 2 + (end[0] - 528) * 0.35, (342 + end[1]) / 2 - 40), end, 14)
        sc.darken(sc.stroke(run, 3) * crown, 0.35)
        seams = np.maximum(seams, sc.dashed([(x + 8, y) for x, y in run], 1.6, 5, 4))
    sc.lighten(seams * crown, 0.18)
    for ex, ey in ((452, 420), (640, 410)):
        sc.paint(sc.ellipse((ex - 7, ey - 5, ex + 7, ey + 5)), (110, 20, 26), 1.0)
        sc.darken(sc.ellipse((ex - 3, ey - 2, ex + 3, ey + 2)), 0.6)
    sc.paint(sc.ellipse((508, 326, 550, 350)), red, sc.radial((520, 330), 24, 1.2, 0.7))
    # embroidered front logo (product text: AURORA)
    logo = sc.text_mask((452, 508), "AURORA", "sans_bold", 54)
    logo = np.asarray(Image.fromarray((logo * 255).astype(np.uint8)).rotate(
        4, center=(452 * sc.k, 508 * sc.k), resample=Image.Resampling.BICUBIC), np.float32) / 255.0
    sc.darken(sc.blur(sc.shift(logo, 2, 3), 2) * crown, 0.35)
    sc.paint(logo * crown, (248, 246, 240), sc.ribs(3.5, 0.08, vertical=False) * sc.radial((420, 480), 160, 1.0, 0.85))
    # brim: a stitched band of rows, darker underside at the edge
    sc.darken(sc.blur(sc.shift(brim, 0, -6), 6) * crown * (1 - brim), 0.35)
    sc.paint(brim, red, sc.lin((176, 640), (520, 620), 0.95, 1.1) * sc.puff(brim, 10, 0.25) * sc.twill(3.0, 0.05))
    for i in range(1, 6):
        f = i / 6
        row = qbez((176 + 154 * f * 0.9, 640 - 54 * f * 0.9), (300 + 60 * f, 726 - 90 * f), (520, 640 - 4 * f), 14)
        sc.lighten(sc.dashed(row, 1.6, 5, 4) * brim, 0.18)
    under = brim * np.clip(1 - (sc.blur(brim, 6) - 0.5) * 4, 0, 1) * (sc.Y > 640).astype(np.float32)
    sc.darken(under, 0.25)


def clutter_cap(sc: Scene) -> None:
    sc.ov_sticker((150, 160), 100, [("爆款", "cjk", 58, (255, 240, 90)), ("¥25", "sans_bold", 36, (255, 255, 255))],
                  fill=(226, 30, 36), angle=-10)
    sc.ov_qr((812, 40), "https://weixin.qq.com/r/sample-shop-13", 160, caption="扫码进店")
    sc.ov_banner((262, 880, 762, 952), (40, 170, 80), [("VX: abc_123", "sans_bold", 44, (255, 255, 255)),
                                                       ("一件代发", "cjk", 42, (255, 255, 255))], radius=36)


# --------------------------------------------------------------------------- the catalog

class Shot(NamedTuple):
    name: str                                  # file name under images/
    draw: Callable[[Scene, str], None]
    bg: tuple[int, int, int]
    seed: int
    clutter: Optional[Callable[[Scene], None]] = None
    variant: str = ""


class Sku(NamedTuple):
    sku: str
    title: str
    category: str
    priority: int
    shots: tuple[Shot, ...]
    notes: str = ""                            # what the photo carries (for people reading the code)


GREY, WHITE, BEIGE, BLUEGREY, WARM = (233, 233, 230), (247, 247, 245), (238, 231, 219), (221, 228, 235), (230, 226, 221)

SKUS: tuple[Sku, ...] = (
    Sku("TSHIRT-001", "Vintage Sunset Graphic Cotton T-Shirt", "flatlay", 1,
        (Shot("TSHIRT-001.jpg", draw_tshirt, GREY, 101, clutter_tshirt),),
        "product text SUMMER 1988; promo text, price banner, QR code"),
    Sku("DRESS-002", "Floral A-Line Summer Sundress", "flatlay", 1,
        (Shot("DRESS-002.jpg", draw_dress, WHITE, 102, clutter_dress),
         Shot("DRESS-002-b.jpg", draw_dress, BEIGE, 112, clutter_dress_back, "back")),
        "front: banner + tiled watermark; back (navy colourway): price + WeChat id"),
    Sku("JEANS-003", "High-Rise Straight Leg Jeans", "flatlay", 2,
        (Shot("JEANS-003.jpg", draw_jeans, WARM, 103, clutter_jeans),),
        "promo text, price, tiled watermark"),
    Sku("SKIRT-004", "Pleated Midi Skirt in Sage", "flatlay", 2,
        (Shot("SKIRT-004.jpg", draw_skirt, BEIGE, 104, clutter_skirt),),
        "shop name, sticker crossing the hem, promo text"),
    Sku("SCARF-005", "Soft Chiffon Hijab Scarf", "flatlay", 3,
        (Shot("SCARF-005.jpg", draw_scarf, GREY, 105),),
        "clean control"),
    Sku("HOODIE-006", "Fleece Pullover Hoodie with Kangaroo Pocket", "flatlay", 2,
        (Shot("HOODIE-006.jpg", draw_hoodie, BEIGE, 106, clutter_hoodie),),
        "banner, QR code, WeChat id"),
    Sku("BLOUSE-007", "Puff Sleeve Chiffon Blouse with Collar", "mannequin", 1,
        (Shot("BLOUSE-007.jpg", draw_blouse_on_form, BLUEGREY, 107, clutter_blouse),),
        "promo text, banner, shop line, tiled watermark"),
    Sku("JACKET-008", "Belted Double-Breasted Trench Jacket", "on_model", 1,
        (Shot("JACKET-008.jpg", draw_model_jacket, WARM, 108, clutter_model),),
        "shop name, price, QR code"),
    Sku("HANDBAG-009", "Leather Top-Handle Flap Handbag", "still_life", 2,
        (Shot("HANDBAG-009.jpg", draw_handbag, WHITE, 109, clutter_handbag),),
        "sticker crossing the bag, bottom banner, tiled watermark"),
    Sku("MUG-010", "Café Roma Ceramic Mug with Saucer", "still_life", 3,
        (Shot("MUG-010.jpg", draw_mug, GREY, 110, clutter_mug),),
        "product text CAFÉ ROMA; price banner, QR code, promo text"),
    Sku("SNEAKER-011", "Canvas Low-Top Sneaker", "still_life", 2,
        (Shot("SNEAKER-011.jpg", draw_sneaker, BLUEGREY, 111, clutter_sneaker),),
        "promo text, price, WeChat id"),
    Sku("BACKPACK-012", "Canvas Everyday Backpack", "still_life", 3,
        (Shot("BACKPACK-012.jpg", draw_backpack, WARM, 112),),
        "clean control"),
    Sku("CAP-013", "Embroidered Baseball Cap", "still_life", 3,
        (Shot("CAP-013.jpg", draw_cap, WHITE, 113, clutter_cap),),
        "product text AURORA; sticker, QR code, WeChat banner"),
)

# a catalog row with an empty sku (rejected at ingest as "empty sku")
MALFORMED_ROW = {"sku": "", "title": "Ribbed Knit Tank Top", "category": "flatlay",
                 "image": "images/SCARF-005.jpg", "priority": "2"}
BROKEN = Sku("BROKEN-099", "Basic Crew Neck Tee (red)", "flatlay", 2,
             (Shot("BROKEN-099.jpg", draw_tshirt, GREY, 199, clutter_tshirt, "broken"),),
             "truncated JPEG")


def render(shot: Shot, size: int = 1024) -> tuple[Image.Image, dict]:
    """Draw one photo. Returns the RGB image and info: the product mask and the clutter boxes (pixels)."""
    sc = Scene(size, shot.seed, shot.bg)
    shot.draw(sc, shot.variant)
    sc.finish()
    if shot.clutter is not None:
        shot.clutter(sc)
    im = sc.finish()
    return im, {"product_mask": sc.product > 0.5, "overlays": list(sc.overlays)}


def jpeg_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling="4:2:0", optimize=False, progressive=False)
    return buf.getvalue()


def make_catalog(out_dir: pathlib.Path, size: int = 1024) -> pathlib.Path:
    """Write the sample catalog (CSV + images) under ``out_dir``; return the CSV's path."""
    if size < 64:
        raise ValueError(f"size must be at least 64 px, got {size}")
    cjk_font_path()  # fail early, with the install hint, when no CJK font is present
    out_dir = pathlib.Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for item in SKUS + (BROKEN,):
        refs = []
        for shot in item.shots:
            im, _ = render(shot, size)
            data = jpeg_bytes(im)
            if item is BROKEN:
                data = data[:BROKEN_BYTES]
            storage.write_bytes(str(images / shot.name), data)
            refs.append(f"images/{shot.name}")
        rows.append({"sku": item.sku, "title": item.title, "category": item.category,
                     "image": "|".join(refs), "priority": str(item.priority)})
        if item is SKUS[-1]:
            rows.append(dict(MALFORMED_ROW))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path = out_dir / "catalog.csv"
    storage.write_bytes(str(csv_path), buf.getvalue().encode("utf-8"))
    return csv_path


def main(argv: Optional[Sequence[str]] = None) -> int:
    here = pathlib.Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description="Draw the sample supplier catalog (CSV + JPEGs) for the demo.")
    parser.add_argument("--out", type=pathlib.Path, default=here / "sample",
                        help="output folder (default: catalogs/sample next to this script)")
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels (default 1024)")
    args = parser.parse_args(argv)
    if args.size < 64:
        parser.error("--size must be at least 64")
    t0 = time.perf_counter()
    try:
        csv_path = make_catalog(args.out, args.size)
    except FontMissingError as exc:
        print(f"make_sample: {exc}", file=sys.stderr)
        return 2
    n_good = len(SKUS)
    print(f"wrote {n_good + 2} catalog rows ({n_good} good SKUs, 1 row with an empty sku, 1 broken image) "
          f"to {csv_path} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
