"""A tiled watermark de-blended, not inpainted: its layer is estimated from its tiles and the blend inverted.

A supplier's tiled watermark is one semi-transparent mark ``C`` (a colour) with coverage ``A(x)``
(opacity x the glyph's anti-aliased shape, 0..1) stamped on a lattice across the photo:
``I = A·C + (1 - A)·B``. Where the tiles cross the product, inpainting would repaint the product
from its surroundings (a smudge); inverting the blend, ``B = (I - A·C) / (1 - A)``, gives the product
back. :func:`estimate_watermark` finds the layer:

1. the tiles: the readings OCR grouped as a tiled watermark give a reference window (the tile read
   most on the backdrop, grown by half its size); its high-pass (grey level minus a blur) is matched
   over the photo (normalised correlation, sign ignored: a grey mark lightens a dark garment and
   darkens a white backdrop), and the matches are refined once with the median of the matched windows;
2. the lattice: with 3 or more matches, the two shortest independent steps between them span the
   lattice, and every lattice point whose window touches the photo is a tile (those cut by the
   photo's edges too), each moved to the best correlation within 2 px;
3. the layer: the mark's strokes are painted out of every whole tile (the background ``B_k`` under
   it); ``D = I - B`` over the tiles on the flattest backgrounds (the backdrop) gives the mark's
   shape ``s`` (0..1) and its full-strength change ``D0`` there; the opacity ``α`` is the median
   solution of ``I - B = s·D0 + α·s·(B0 - B)`` over the tiles on other backgrounds (the product), so
   ``C = B0 + D0 / α``; without such tiles ``α`` is the least opacity for which ``C`` is a colour,
   at least ``DEFAULT_OPACITY``.

:func:`deblend` inverts the blend wherever ``A`` is at least ``MIN_COVERAGE``; pixels elsewhere are
left bit-for-bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from catloc.engines.base import TextRegion

MIN_COVERAGE = 0.03    # coverage below this is noise of the estimate, not the mark
DEFAULT_OPACITY = 0.3  # the mark's opacity when no tile lies on a background other than the backdrop
MATCH_MIN = 0.45       # |normalised correlation| of a whole tile with the template
EDGE_MATCH_MIN = 0.1   # ... of a lattice point (a tile the photo's edge may cut)
MAX_OPACITY = 0.8      # a fitted opacity above this is no translucent mark: no layer


@dataclass
class WatermarkLayer:
    """A tiled watermark's layer over a photo of ``coverage.shape``."""

    coverage: np.ndarray   # float32 (H, W): A, 0..1 (opacity x glyph coverage)
    colour: np.ndarray     # float32 (3,): C, the mark's colour (RGB 0..255)
    opacity: float         # α, the coverage at the strokes' cores
    tiles: int             # how many tiles (whole or cut by the edges) it was laid on

    @property
    def mask(self) -> np.ndarray:
        """Bool (H, W): the pixels :func:`deblend` changes."""
        return self.coverage >= MIN_COVERAGE

    def to_dict(self) -> dict:
        return {"tiles": self.tiles, "opacity": round(self.opacity, 3),
                "colour": [round(float(c), 1) for c in self.colour], "share": round(float(self.mask.mean()), 5)}


def deblend(image: np.ndarray, layer: WatermarkLayer) -> np.ndarray:
    """``image`` (RGB uint8 (H, W, 3)) with ``layer``'s blend inverted, ``B = (I - A·C) / (1 - A)``,
    where the coverage is at least MIN_COVERAGE; elsewhere bit-for-bit the same."""
    out = image.copy()
    where = layer.mask
    a = np.minimum(layer.coverage[where], 0.95)[:, None]
    restored = (image[where].astype(np.float32) - a * layer.colour) / (1.0 - a)
    out[where] = np.clip(restored + 0.5, 0, 255).astype(np.uint8)
    return out


def high_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Float32 (H, W): the grey level of RGB ``image`` minus its Gaussian blur of ``sigma`` px."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return grey - cv2.GaussianBlur(grey, (0, 0), sigma)


def estimate_watermark(image: np.ndarray, readings: list[TextRegion], insides: list[float], product: np.ndarray,
                       backdrop: np.ndarray) -> WatermarkLayer | None:
    """The layer of the tiled watermark whose OCR ``readings`` are given (with their share on the
    product ``insides``), over RGB uint8 ``image`` with the product's mask ``product`` (bool (H, W):
    the reference tile's template leaves it out, so that the product's edges cannot be taken for
    the mark's) and backdrop colour ``backdrop`` (float (3,));
    ``None`` when too little of it can be found (fewer than 2 tiles, no mark in them, or an opacity
    above MAX_OPACITY). The
    reference tile is the longest reading wholly in the photo and off the product. See the module docstring."""
    h_img, w_img = image.shape[:2]

    def preference(i: int) -> tuple:
        (x0, y0), (x1, y1) = readings[i].polygon.min(0), readings[i].polygon.max(0)
        cut = x0 <= 1 or y0 <= 1 or x1 >= w_img - 2 or y1 >= h_img - 2
        return cut, insides[i] > 0.02, -len(readings[i].text.strip()), insides[i], -readings[i].score

    (cx, cy), (rw, rh), angle = cv2.minAreaRect(np.asarray(readings[min(range(len(readings)), key=preference)].polygon,
                                                            np.float32))
    height = max(4.0, min(rw, rh))
    grown = cv2.boxPoints(((cx, cy), (rw + height, rh + height), angle))
    x, y, win_w, win_h = cv2.boundingRect(grown.astype(np.float32))
    support = np.zeros((win_h, win_w), np.uint8)
    cv2.fillPoly(support, [np.round(grown - [x, y]).astype(np.int32)], 1)
    near_product = cv2.dilate(product.astype(np.uint8), np.ones((int(height) | 1,) * 2, np.uint8))
    near_product = cv2.copyMakeBorder(near_product, win_h, win_h, win_w, win_w, cv2.BORDER_CONSTANT, value=0)
    support &= 1 - near_product[y + win_h:y + 2 * win_h, x + win_w:x + 2 * win_w]
    hp = high_pass(image, max(2.0, height / 3))
    padded = cv2.copyMakeBorder(hp, win_h, win_h, win_w, win_w, cv2.BORDER_CONSTANT, value=0)
    template = padded[y + win_h:y + 2 * win_h, x + win_w:x + 2 * win_w] * support
    if template.shape != (win_h, win_w) or not np.any(template):
        return None
    support = stroke_support(template, support)
    for _ in range(2):  # match, then match again with the median of what matched
        score = np.abs(cv2.matchTemplate(padded, template, cv2.TM_CCORR_NORMED, mask=support.astype(np.float32)))
        score[~(score <= 1.001)] = 0.0  # windows of padding alone (0 / 0)
        corners = tile_corners(score, (win_h, win_w), image.shape[:2])
        if len(corners) < 2:
            return None
        template = np.median(signed_stack(padded, corners, (win_h, win_w), template), axis=0) * support
        support = stroke_support(template, support)
    corners = [(cy - win_h, cx - win_w) for cy, cx in corners]  # in the photo's coordinates (may be < 0)
    return fit_layer(image, corners, (win_h, win_w), template, backdrop)


def stroke_support(template: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Uint8 (h, w): the pixels of ``support`` where the high-pass ``template`` is strong (at least a
    quarter of its 99th percentile: the mark's strokes and edges), grown by 2 px."""
    strong = np.abs(template) >= 0.25 * float(np.percentile(np.abs(template[support > 0]), 99))
    return cv2.dilate((strong & (support > 0)).astype(np.uint8), np.ones((5, 5), np.uint8))


def signed_stack(padded: np.ndarray, corners: list[tuple[int, int]], size: tuple[int, int],
                 template: np.ndarray) -> np.ndarray:
    """(N, h, w): the windows of ``padded`` at ``corners`` (in ``padded``'s coordinates), each turned to
    the sign of its correlation with ``template``; only the whole ones (no zero padding in them)."""
    h, w = size
    out = []
    for cy, cx in corners:
        window = padded[cy:cy + h, cx:cx + w]
        if h <= cy <= padded.shape[0] - 2 * h and w <= cx <= padded.shape[1] - 2 * w:
            out.append(window if float((window * template).sum()) >= 0 else -window)
    return np.stack(out) if out else template[None]


def tile_corners(score: np.ndarray, size: tuple[int, int], shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners (row, col, in the zero-padded frame of ``score``) of the tiles: the peaks of
    ``score`` at least MATCH_MIN (tiles the photo's edges cut included), then, with 3 or more, every
    point of the lattice they span (:func:`lattice_points`) whose best score within 2 px is at least
    EDGE_MATCH_MIN."""
    h, w = size
    local_max = score >= cv2.dilate(score, np.ones((max(3, h // 2) | 1, max(3, w // 2) | 1), np.uint8))
    rows, cols = np.nonzero(local_max & (score >= MATCH_MIN))
    peaks = [(int(r), int(c)) for r, c in zip(rows, cols)]
    points = lattice_points(peaks, (h, w), shape) if len(peaks) >= 3 else None
    if points is None:
        return peaks
    out = []
    for r, c in points:
        r0, c0 = max(0, r - 2), max(0, c - 2)
        near = score[r0:r + 3, c0:c + 3]
        if near.size and near.max() >= EDGE_MATCH_MIN:
            dr, dc = np.unravel_index(int(near.argmax()), near.shape)
            out.append((r0 + int(dr), c0 + int(dc)))
    return out


def lattice_points(corners: list[tuple[int, int]], size: tuple[int, int],
                   shape: tuple[int, int]) -> list[tuple[int, int]] | None:
    """Every point of the lattice spanned by ``corners`` (the two shortest independent steps between
    them, each at least a quarter of the window's shorter side, then fitted to all of them by least squares) whose window (of ``size``) touches the photo (of ``shape``),
    in the zero-padded frame; ``None`` when fewer than 80% of the corners lie on one lattice (within 3 px)."""
    pts = np.asarray(corners, np.float64)
    steps = sorted((pts[j] - pts[i] for i in range(len(pts)) for j in range(i + 1, len(pts))),
                   key=lambda d: float(np.hypot(*d)))
    steps = [d for d in steps if np.hypot(*d) >= min(size) / 4]
    if not steps:
        return None
    first = steps[0]
    second = next((d for d in steps if abs(first[0] * d[1] - first[1] * d[0]) > 0.3 * np.hypot(*first) * np.hypot(*d)),
                  None)
    if second is None:
        return None
    coords = np.round(np.linalg.solve(np.stack([first, second], axis=1), (pts - pts[0]).T).T)
    design = np.column_stack([np.ones(len(pts)), coords])       # pts = origin + i * first + j * second
    origin, first, second = np.linalg.lstsq(design, pts, rcond=None)[0]
    if (np.hypot(*(design @ np.stack([origin, first, second]) - pts).T) <= 3.0).mean() < 0.8:
        return None
    h, w = size
    reach = int(np.ceil((shape[0] + shape[1] + 2 * (h + w)) / min(np.hypot(*first), np.hypot(*second)))) + 1
    out = []
    for i in range(-reach, reach + 1):
        for j in range(-reach, reach + 1):
            r, c = np.round(origin + i * first + j * second).astype(int)
            if 1 <= r < shape[0] + h and 1 <= c < shape[1] + w:  # the window touches the photo
                out.append((int(r), int(c)))
    return out


def fit_layer(image: np.ndarray, corners: list[tuple[int, int]], size: tuple[int, int], template: np.ndarray,
              backdrop: np.ndarray) -> WatermarkLayer | None:
    """The layer (see the module docstring, step 3) from the tiles at ``corners`` (top-left, row and col
    in the photo, possibly outside it) of ``size``, with the matched high-pass ``template``."""
    h, w = size
    strokes = np.abs(template) > 0.25 * float(np.percentile(np.abs(template), 99.5))
    strokes = cv2.dilate(strokes.astype(np.uint8), np.ones((5, 5), np.uint8))
    whole = [(r, c) for r, c in corners if 0 <= r <= image.shape[0] - h and 0 <= c <= image.shape[1] - w]
    if len(whole) < 2 or not strokes.any():
        return None
    windows = np.stack([image[r:r + h, c:c + w] for r, c in whole]).astype(np.float32)
    under = np.stack([cv2.inpaint(image[r:r + h, c:c + w], strokes, 3, cv2.INPAINT_TELEA)
                      for r, c in whole]).astype(np.float32)
    flatness = [float(u[strokes > 0].std(0).max()) + 0.5 * float(np.linalg.norm(np.median(u[strokes > 0], 0) - backdrop))
                for u in under]
    flat = np.asarray(flatness) <= max(6.0, 1.5 * min(flatness))
    change = np.median((windows - under)[flat], axis=0)                        # (h, w, 3)
    core = np.percentile(np.linalg.norm(change, axis=2)[strokes > 0], 95)
    if core < 3.0:
        return None
    full = change[np.linalg.norm(change, axis=2) >= 0.8 * core].mean(0)       # D0
    shape_ = np.clip((change @ full) / float(full @ full), 0, 1) * (strokes > 0)  # s
    base = np.median(under[flat][:, strokes > 0].reshape(-1, 3), axis=0)       # B0
    opacity = fit_opacity(windows[~flat], under[~flat], shape_, full, base)
    if opacity > MAX_OPACITY:
        return None  # no translucent mark: what matched is something else
    colour = base + full / opacity
    coverage = np.zeros(image.shape[:2], np.float32)
    for r, c in corners:
        r0, c0, r1, c1 = max(0, r), max(0, c), min(image.shape[0], r + h), min(image.shape[1], c + w)
        if r1 > r0 and c1 > c0:
            part = coverage[r0:r1, c0:c1]
            np.maximum(part, opacity * shape_[r0 - r:r1 - r, c0 - c:c1 - c], out=part)
    return WatermarkLayer(coverage, np.clip(colour, 0, 255).astype(np.float32), float(opacity), len(corners))


def fit_opacity(windows: np.ndarray, under: np.ndarray, shape_: np.ndarray, full: np.ndarray,
                base: np.ndarray) -> float:
    """α: the median of ``(I - B - s·D0) / (s·(B0 - B))`` over the stroke cores (``s`` >= 0.5) of the tiles
    on other backgrounds (``windows``, their backgrounds ``under``: (N, h, w, 3)) where ``s·(B0 - B)`` is
    at least 40 levels (50 such values at least); else the least opacity for which
    ``C = B0 + D0 / α`` lies in 0..255, at least DEFAULT_OPACITY. Always within that least one and 0.95."""
    room = np.where(full < 0, base, 255.0 - base)
    least = float(np.clip(np.max(np.abs(full) / np.maximum(room, 1.0)), 0.02, 0.95))
    core = shape_ >= 0.5
    if len(windows) and core.any():
        lhs = (windows - under - shape_[..., None] * full)[:, core].reshape(-1)
        rhs = (shape_[..., None] * (base - under))[:, core].reshape(-1)
        far = np.abs(rhs) >= 40.0  # backgrounds well apart from the backdrop's
        if far.sum() >= 50:
            return float(np.clip(np.median(lhs[far] / rhs[far]), least, 0.95))
    return max(least, DEFAULT_OPACITY)
