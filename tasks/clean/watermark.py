"""A tiled watermark de-blended, not inpainted: its layer is estimated from its tiles and the blend inverted.

A supplier's tiled watermark is one semi-transparent mark ``C`` (a colour) with coverage ``A(x)``
(opacity x the glyph's anti-aliased shape, 0..1) stamped on a lattice across the photo:
``I = A·C + (1 - A)·B``. Where the tiles cross the product, inpainting would repaint the product
from its surroundings (a smudge); inverting the blend, ``B = (I - A·C) / (1 - A)``, gives the product
back. :func:`estimate_watermark` finds the layer:

1. the lattice: a reading OCR grouped as a tiled watermark, along the readings' common direction
   and with at least MIN_CLEAR of its window (its box grown by its height) off the product, the
   other findings and the photo's edges, gives a reference window (the most clear pixels first);
   its high-pass (grey level minus a blur), those pixels left out, is matched over the photo
   (normalised correlation, sign ignored: a grey mark lightens a dark garment and darkens a white
   backdrop). The lattice is spanned by two steps between the matches: the one through the
   reference whose points score best (each point's best correlation within 2 px, less
   LATTICE_POINT_MIN: a point between the tiles counts against it, one on the product never --
   a tile there may match weakly) with at least 3 points at STRONG_MATCH, one of its short steps
   along the text (tiles repeat along their text) and its cell at least half the reading's box; it
   is made finer while the points that adds match. Up to MAX_REFERENCES readings are tried, the
   best lattice kept. Every lattice point whose window touches the photo is a tile: those on the
   product that barely match, and those the photo's edges cut, too;
2. the whole mark: the readings are pieces of the mark; moved by lattice steps onto the reference's
   line, they give the mark's extent along the text, so a partial reading as reference still
   yields the whole mark. Its template is the median high-pass of the tiles over that window (off
   the product and other findings); each tile is then moved to its best match with it within 2 px,
   and the tiles that match too weakly (on the product) are put where the lattice fitted to the
   others puts them, then within 1 px where de-blending leaves the least high-pass
   (:func:`settle`): marks laid at whole pixels land there;
3. the layer: the mark's strokes, painted out of the photo at every tile (one inpainting), give the
   background ``B`` under them; ``D = I - B`` on the backdrop (the median over the tiles) gives the
   mark's shape ``s`` (0..1) and its full-strength change ``D0`` there; the opacity ``α`` is the
   median solution of ``I - B = s·D0 + α·s·(B0 - B)`` over the tiles' pixels on the product whose
   background is far from the backdrop's, so ``C = B0 + D0 / α``; without such pixels ``α`` is the
   least opacity for which ``C`` is a colour, at least ``DEFAULT_OPACITY``. Where no tile shows a
   stroke pixel on the backdrop, its shape comes from the tiles on the product, knowing ``C``.

:func:`deblend` inverts the blend wherever ``A`` is at least ``MIN_COVERAGE``; pixels elsewhere are
left bit-for-bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np

from catloc.engines.base import TextRegion
from catloc.imaging import dilate, nanmedian_first_axis, telea_again, telea_fill
from catloc.threads import thread_map

MIN_COVERAGE = 0.03    # coverage below this is noise of the estimate, not the mark
DEFAULT_OPACITY = 0.3  # the mark's opacity when no tile lies on a background other than the backdrop
PEAK_MIN = 0.25        # |normalised correlation| of a window with the template to be a candidate tile
STRONG_MATCH = 0.4     # |normalised correlation| of a tile that proves its lattice (3 such at least)
LATTICE_POINT_MIN = 0.15  # a lattice point scoring less counts against its lattice
MAX_REFERENCES = 3     # readings tried as the reference tile
MIN_CLEAR = 0.4        # share of a reference reading's window off the product, other findings and the edges
CLEAR_POINT = 0.85     # ... of a lattice point's window, for a weak match there to count against the lattice
SAME_DIRECTION_DEG = 8.0  # readings of one watermark lie along one direction, within this
ALONG_DEG = 12.0       # a lattice step along the text lies along the reference reading, within this
SMALL_STEPS = [(i, j) for i in range(-2, 3) for j in range(0, 3) if (j, i) > (0, 0)]  # i·a + j·b, one of ±
SMALL_I, SMALL_J = (np.array([[step[k]] for step in SMALL_STEPS], np.float64) for k in (0, 1))  # (n, 1) each
MAX_OPACITY = 0.8      # a fitted opacity above this is no translucent mark: no layer
SETTLE_BLUR_REACH = 8   # px: how far a 2 px Gaussian blur reaches (OpenCV's kernel for float images: 17 px)
TURNED_DEG = 10.0      # a reading this far off the horizontal (and the vertical) may be a diagonal mark's tile


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


@dataclass
class Lattice:
    """Tile positions ``origin + i·basis[0] + j·basis[1]`` (row, col of a window's top-left corner, px)."""

    origin: np.ndarray     # (2,) float
    basis: np.ndarray      # (2, 2) float: the two steps, one per row
    value: float           # how well its points match (the sum of their scores less LATTICE_POINT_MIN)


@dataclass
class Frame:
    """An OCR reading's rectangle: centre (x, y), unit vector along the text (x, y), length and height (px)."""

    centre: np.ndarray
    along: np.ndarray
    length: float
    height: float

    @property
    def across(self) -> np.ndarray:
        return np.array([-self.along[1], self.along[0]])

    @property
    def angle(self) -> float:
        """Direction of the text in degrees, 0..180."""
        return float(np.degrees(np.arctan2(self.along[1], self.along[0]))) % 180.0


def apart(a: float, b: float) -> float:
    """Degrees between two directions ``a`` and ``b`` (0..180 each, taken modulo 180)."""
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def turned(polygon: np.ndarray) -> bool:
    """Whether an OCR quad's text runs TURNED_DEG to 90 - TURNED_DEG degrees off the horizontal (a
    diagonal watermark's tile, not a caption or a label)."""
    return TURNED_DEG <= apart(reading_frame(polygon).angle, 0.0) <= 90.0 - TURNED_DEG


def reading_frame(polygon: np.ndarray) -> Frame:
    """The :class:`Frame` of an OCR quad (corners top-left, top-right, bottom-right, bottom-left of the text)."""
    p = np.asarray(polygon, np.float64)
    along, across = (p[1] - p[0] + p[2] - p[3]) / 2, (p[3] - p[0] + p[2] - p[1]) / 2
    length, height = float(np.hypot(*along)), float(np.hypot(*across))
    return Frame(p.mean(0), along / max(length, 1e-6), max(length, 1.0), max(height, 4.0))


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


def estimate_watermark(image: np.ndarray, readings: list[TextRegion], product: np.ndarray,
                       others: np.ndarray | None = None) -> WatermarkLayer | None:
    """The layer of the tiled watermark whose OCR ``readings`` are given, over RGB uint8 ``image``
    with the product's mask ``product`` (bool (H, W)) and ``others`` (bool (H, W), optional): the
    photo's other findings (promo text, codes, their plates), which no estimate reads.
    ``None`` when too little of it can be found (no lattice with 3 strong matches, no mark in its
    tiles, or an opacity above MAX_OPACITY). See the module docstring."""
    frames = [reading_frame(r.polygon) for r in readings]
    height = float(np.median([f.height for f in frames]))
    blocked = dilate(product, int(height / 2))
    if others is not None:
        blocked |= dilate(others, int(height / 2))
    hp = high_pass(image, max(2.0, height / 3))
    best = None
    candidates = reference_order(frames, blocked)
    longest = max((frames[i].length for i, _ in candidates), default=0.0)
    tried = candidates[:MAX_REFERENCES]  # each on its own thread: they only read
    lattices = thread_map(lambda c: reference_lattice(hp, frames[c[0]], c[1], blocked, longest), tried)
    for (i, _), found in zip(tried, lattices):
        if found is not None and (best is None or found[0].value > best[0].value):
            best = found + (i,)
    if best is None:
        return None
    lattice, (top, left, support), score, ref = best
    top2, left2, support2 = whole_mark_window(hp, frames[ref], lattice, score, (top, left, support), blocked,
                                              read_extent(frames, ref, lattice))
    corners = [(r, c) for r, c in tile_corners(score, lattice, support.shape, (top2 - top, left2 - left))
               if -support2.shape[0] < r < image.shape[0] and -support2.shape[1] < c < image.shape[1]]
    template = stacked_template(hp, corners, support2, blocked)
    if template is None:
        return None
    corners, settled = aligned(hp, corners, template, lattice.basis)  # each tile to its best match with the whole mark
    template = stacked_template(hp, corners, support2, blocked)
    if template is None:
        return None
    clear = product if others is None else product & ~dilate(others, int(height / 2))
    return fit_layer(image, corners, settled, template, clear, blocked)


def reference_order(frames: list[Frame], blocked: np.ndarray) -> list[tuple[int, tuple[int, int, np.ndarray]]]:
    """The readings that may serve as the reference tile, best first, each with its window (top, left,
    support: its box grown by its height, the ``blocked`` pixels and those off the photo left out):
    those along the direction most readings share (within SAME_DIRECTION_DEG) whose window is at
    least MIN_CLEAR clear, the most clear pixels first."""
    angles = [f.angle for f in frames]
    main = max(angles, key=lambda a: sum(apart(a, b) <= SAME_DIRECTION_DEG for b in angles))
    out = []
    for i, f in enumerate(frames):
        top, left, support = rotated_window(f.centre, f.along, f.length + f.height, 2 * f.height)
        clear = support & (crop(blocked, top, left, support.shape, 1) == 0).astype(np.uint8)
        if apart(angles[i], main) <= SAME_DIRECTION_DEG and clear.sum() >= MIN_CLEAR * support.sum():
            out.append((int(clear.sum()), i, (top, left, clear)))
    return [(i, window) for _, i, window in sorted(out, key=lambda t: -t[0])]


def rotated_window(centre: np.ndarray, along: np.ndarray, length: float, breadth: float
                   ) -> tuple[int, int, np.ndarray]:
    """(top, left, support): the bounding box of the rectangle of ``length`` x ``breadth`` px centred
    on ``centre`` (x, y) along unit vector ``along``, and the rectangle in it (uint8 (h, w), 1 inside)."""
    across = np.array([-along[1], along[0]])
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) / 2
    corners = centre + signs[:, :1] * along * length + signs[:, 1:] * across * breadth
    left, top, w, h = cv2.boundingRect(np.round(corners).astype(np.int32))
    support = np.zeros((h, w), np.uint8)
    cv2.fillPoly(support, [np.round(corners - [left, top]).astype(np.int32)], 1)
    return top, left, support


def crop(array: np.ndarray, top: int, left: int, size: tuple[int, int], fill: float) -> np.ndarray:
    """The ``size`` (h, w) window of ``array`` (H, W, ...) whose top-left is (``top``, ``left``) -- which
    may lie outside it -- as float32, the part outside ``array`` filled with ``fill``."""
    h, w = size
    out = np.full((h, w) + array.shape[2:], fill, np.float32)
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(array.shape[0], top + h), min(array.shape[1], left + w)
    if r1 > r0 and c1 > c0:
        out[r0 - top:r1 - top, c0 - left:c1 - left] = array[r0:r1, c0:c1]
    return out


def reference_lattice(hp: np.ndarray, frame: Frame, window: tuple[int, int, np.ndarray], blocked: np.ndarray,
                      longest: float) -> tuple[Lattice, tuple[int, int, np.ndarray], np.ndarray] | None:
    """The lattice of the tiles matching the reference reading ``frame``'s ``window`` (top, left,
    support) over the high-pass ``hp``, the window with its support narrowed to the mark's strokes,
    and the match score (:func:`match_score`); ``None`` when there is no mark in it or no lattice."""
    top, left, support = window
    template = crop(hp, top, left, support.shape, 0.0) * support
    if not np.any(template):
        return None
    support = strong_support(template, support)
    score = match_score(hp, template, support)
    h, w = support.shape
    lattice = find_lattice(score, window_share(~blocked, (h, w)), (h, w), np.array([top + h, left + w], np.float64),
                           Frame(frame.centre, frame.along, longest, frame.height))
    return None if lattice is None else (lattice, (top, left, support), score)


def strong_support(template: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Uint8 (h, w): the pixels of ``support`` where the high-pass ``template`` is strong (at least a
    quarter of its 99th percentile: the mark's strokes and edges), grown by 2 px."""
    strong = np.abs(template) >= 0.25 * float(np.percentile(np.abs(template[support > 0]), 99))
    return cv2.dilate((strong & (support > 0)).astype(np.uint8), np.ones((5, 5), np.uint8))


def window_share(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Float32 in :func:`match_score`'s frame for windows of ``size`` (h, w): the share of each window
    that is ``mask`` (bool (H, W); outside the photo counts as not)."""
    h, w = size
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), h, h, w, w, cv2.BORDER_CONSTANT, value=0)
    total = cv2.integral(padded).astype(np.float64)
    share = (total[h:, w:] - total[:-h, w:] - total[h:, :-w] + total[:-h, :-w]) / (h * w)
    return share.astype(np.float32)


def match_score(hp: np.ndarray, template: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Float32 (H + h + 1, W + w + 1): |normalised correlation| of ``template`` (h, w) over ``support``
    with the windows of ``hp`` (H, W) zero-padded by (h, w); entry (r, c) is the window whose top-left
    is (r - h, c - w) in the photo."""
    h, w = template.shape
    padded = cv2.copyMakeBorder(hp, h, h, w, w, cv2.BORDER_CONSTANT, value=0)
    score = np.abs(cv2.matchTemplate(padded, template.astype(np.float32), cv2.TM_CCORR_NORMED,
                                     mask=support.astype(np.float32)))
    score[~(score <= 1.001)] = 0.0  # windows of padding alone (0 / 0)
    return score


def find_lattice(score: np.ndarray, clear: np.ndarray, size: tuple[int, int], own: np.ndarray, frame: Frame
                 ) -> Lattice | None:
    """The lattice through the reference's own match (the peak nearest ``own``, in ``score``'s frame)
    spanned by two steps between the peaks of ``score`` (at least PEAK_MIN) that fit the reference
    reading's ``frame`` (:func:`plausible`; its ``length`` the longest reading's): the one whose
    points (windows of ``size`` at least half in the photo, each way) score best
    (:func:`lattice_value`; ``clear``: each window's share off the product and other findings) with
    3 or more at STRONG_MATCH, the finer of two that score the same (their difference all on the
    product, where tiles match too weakly to tell); then made finer (a step halved) while the points
    that adds match (:func:`added_points`; not where they all lie on the product: a finer lattice
    than the mark's would lay its negative there); then refined by least squares on its strong
    points. ``None`` without one."""
    h, w = size
    local = score >= cv2.dilate(score, np.ones((max(3, h // 2) | 1, max(3, w // 2) | 1), np.uint8))
    rows, cols = np.nonzero(local & (score >= PEAK_MIN))
    order = np.argsort(-score[rows, cols])[:24]
    peaks = np.column_stack([rows[order], cols[order]]).astype(np.float64)
    if len(peaks) < 3:
        return None
    origin = peaks[int(np.argmin(np.hypot(*(peaks - own).T)))]
    best_score = cv2.dilate(score, np.ones((5, 5), np.uint8))
    lo, hi = np.array([0.5 * h, 0.5 * w]), np.array([score.shape[0] - 1 - 0.5 * h, score.shape[1] - 1 - 0.5 * w])
    best = None
    for a, b in combinations(candidate_steps(peaks, min(size) / 4), 2):
        if plausible(a, b, frame):
            value, strong = lattice_value(best_score, clear, origin, np.stack([a, b]), lo, hi)
            if strong >= 3 and (best is None or value > best.value + 1e-3 or
                                (value > best.value - 1e-3 and cell(a, b) < 0.9 * cell(*best.basis))):
                best = Lattice(origin, np.stack([a, b]), value)
    while best is not None:
        a, b = best.basis
        finer = [basis for basis in (np.stack([a / 2, b]), np.stack([a, b / 2]), np.stack([a, (a + b) / 2]))
                 if plausible(*basis, frame)]
        verdicts = [added_points(best_score, clear, best, basis, lo, hi) for basis in finer]
        if not verdicts or max(verdicts) <= 0:
            break
        best = Lattice(origin, finer[int(np.argmax(verdicts))], best.value)
    return None if best is None else refined(best, score, lo, hi)


def added_points(best_score: np.ndarray, clear: np.ndarray, coarse: Lattice, basis: np.ndarray,
                 lo: np.ndarray, hi: np.ndarray) -> float:
    """What the points that the finer lattice ``basis`` (through ``coarse``'s origin) adds say: with 2
    or more of them clear of the product and other findings (``clear`` at least CLEAR_POINT), the
    median ``best_score`` of those less STRONG_MATCH (> 0: tiles there); 0 when all lie on the
    product (less than 30% clear), where a tile may match too weakly to tell; else -1."""
    points = lattice_points(coarse.origin, basis, lo, hi)
    coords = np.linalg.solve(coarse.basis.T, (points - coarse.origin).T).T
    added = points[np.abs(coords - np.round(coords)).max(1) > 0.25]
    at = tuple(np.round(added).astype(int).T)
    open_ = clear[at] >= CLEAR_POINT
    if open_.sum() >= 2:
        return float(np.median(best_score[at][open_])) - STRONG_MATCH
    return 0.0 if len(added) and (clear[at] < 0.3).all() else -1.0


def cell(a: np.ndarray, b: np.ndarray) -> float:
    """Area (px²) of the lattice cell spanned by steps ``a`` and ``b``."""
    return float(abs(a[0] * b[1] - a[1] * b[0]))


def plausible(a: np.ndarray, b: np.ndarray, frame: Frame) -> bool:
    """Whether steps ``a`` and ``b`` (row, col) can span the lattice of a watermark whose reading
    ``frame`` is given: its cell is at least half the reading's box and not too flat, and one of its
    short steps (``i·a + j·b``, ``|i|, |j| <= 2``) lies along the reading (within ALONG_DEG; tiles
    repeat along their text without overlapping) at least 0.9 times its length long."""
    if cell(a, b) < max(frame.length * frame.height / 2, 0.3 * np.hypot(*a) * np.hypot(*b)):
        return False
    d = SMALL_I * a + SMALL_J * b  # (len(SMALL_STEPS), 2): the short steps, (row, col)
    length = np.hypot(d[:, 0], d[:, 1])
    across = np.abs(d[:, 0] * frame.along[0] - d[:, 1] * frame.along[1])  # |d x along|, along as (row, col)
    return bool(np.any((length >= 0.9 * frame.length) & (across <= np.sin(np.radians(ALONG_DEG)) * length)))


def lattice_value(best_score: np.ndarray, clear: np.ndarray, origin: np.ndarray, basis: np.ndarray,
                  lo: np.ndarray, hi: np.ndarray) -> tuple[float, int]:
    """(the sum over the lattice's points within ``lo``..``hi`` of their ``best_score`` less
    LATTICE_POINT_MIN -- a point on the product (``clear`` below CLEAR_POINT) never counts against:
    a tile there may match weakly --, how many of them score at least STRONG_MATCH)."""
    at = tuple(np.round(lattice_points(origin, basis, lo, hi)).astype(int).T)
    values = best_score[at]
    gain = values - LATTICE_POINT_MIN
    value = float(np.where(clear[at] >= CLEAR_POINT, gain, np.maximum(gain, 0.0)).sum())
    return value, int((values >= STRONG_MATCH).sum())


def candidate_steps(peaks: np.ndarray, shortest: float) -> list[np.ndarray]:
    """Distinct steps (row, col) between ``peaks`` (best first) at least ``shortest`` px long (of a step
    and its opposite, one): the 12 shortest, and those between the 6 best peaks (the lattice's
    short steps may join tiles on the product, which match too weakly to be peaks)."""
    steps: list[np.ndarray] = []

    def add(d: np.ndarray) -> None:
        d = d if (d[0], d[1]) > (0, 0) else -d
        if np.hypot(*d) >= shortest and all(np.hypot(*(d - s)) > 3 and np.hypot(*(d + s)) > 3 for s in steps):
            steps.append(d)

    diffs = [peaks[j] - peaks[i] for i in range(len(peaks)) for j in range(i + 1, len(peaks))]
    for d in sorted(diffs, key=lambda d: float(np.hypot(*d))):
        if len(steps) < 12:
            add(d)
    for i, j in combinations(range(min(6, len(peaks))), 2):
        add(peaks[j] - peaks[i])
    return steps


def lattice_points(origin: np.ndarray, basis: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N, 2) float: the points ``origin + i·basis[0] + j·basis[1]`` within the box ``lo``..``hi`` (row, col)."""
    box = np.array([[lo[0], lo[1]], [lo[0], hi[1]], [hi[0], lo[1]], [hi[0], hi[1]]]) - origin
    coords = np.linalg.solve(basis.T, box.T).T
    (i0, j0), (i1, j1) = np.floor(coords.min(0)).astype(int), np.ceil(coords.max(0)).astype(int)
    ii, jj = np.mgrid[i0:i1 + 1, j0:j1 + 1]
    points = origin + ii.reshape(-1, 1) * basis[0] + jj.reshape(-1, 1) * basis[1]
    return points[np.all((points >= lo) & (points <= hi), axis=1)]


def refined(lattice: Lattice, score: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Lattice:
    """``lattice`` fitted by least squares to the best position within 2 px of each of its points
    that scores at least STRONG_MATCH."""
    points = lattice_points(lattice.origin, lattice.basis, lo, hi)
    found = [p for p in (nearby_best(score, q, 2) for q in points) if score[p] >= STRONG_MATCH]
    if len(found) < 3:
        return lattice
    pts = np.asarray(found, np.float64)
    coords = np.round(np.linalg.solve(lattice.basis.T, (pts - lattice.origin).T).T)
    design = np.column_stack([np.ones(len(pts)), coords])
    fit = np.linalg.lstsq(design, pts, rcond=None)[0]
    if np.linalg.matrix_rank(design) < 3:
        return lattice
    return Lattice(fit[0], fit[1:], lattice.value)


def nearby_best(score: np.ndarray, point: np.ndarray, reach: int) -> tuple[int, int]:
    """(row, col): the best entry of ``score`` within ``reach`` px of ``point`` (clipped to ``score``)."""
    r, c = np.clip(np.round(point).astype(int), 0, np.array(score.shape) - 1)
    r0, c0 = max(0, r - reach), max(0, c - reach)
    near = score[r0:r + reach + 1, c0:c + reach + 1]
    dr, dc = np.unravel_index(int(near.argmax()), near.shape)
    return r0 + int(dr), c0 + int(dc)


def whole_mark_window(hp: np.ndarray, frame: Frame, lattice: Lattice, score: np.ndarray,
                      reference: tuple[int, int, np.ndarray], blocked: np.ndarray, read: tuple[float, float]
                      ) -> tuple[int, int, np.ndarray]:
    """(top, left, support): the window of the whole mark on the reference reading ``frame``'s line.
    A window one lattice step along the text long (centred on the reading) holds one whole mark,
    maybe in two parts; the median high-pass of the tiles over it (:func:`stacked_template`, the
    ``blocked`` pixels left out) shows where along the text its strokes are: the mark is the part
    of that period outside the longest run (taken round) with less than a sixth of the strongest
    strokes, joined with the readings' extent ``read`` (:func:`read_extent`; unless that makes more
    than the period: parts of the mark may lie on the product in every tile), grown by a text
    height and capped at the step, by twice the height across. The reference window is
    ``reference`` (top, left, support), its match ``score``."""
    top, left, support = reference
    step = along_step(lattice.basis, frame)
    period = float(np.clip(step, frame.length, 4 * frame.length)) if np.isfinite(step) else 3 * frame.length
    top1, left1, support1 = rotated_window(frame.centre, frame.along, period, 2 * frame.height)
    corners = tile_corners(score, lattice, support.shape, (top1 - top, left1 - left))
    template = stacked_template(hp, corners, support1, blocked)
    if template is None:
        return top1, left1, support1
    rows, cols = np.mgrid[0:support1.shape[0], 0:support1.shape[1]]
    along = (cols + left1 - frame.centre[0]) * frame.along[0] + (rows + top1 - frame.centre[1]) * frame.along[1]
    bins = max(8, int(period / 4))
    at = np.clip(((along / period + 0.5) * bins).astype(int), 0, bins - 1)
    profile = np.bincount(at.ravel(), weights=(np.abs(template) * support1).ravel(), minlength=bins)
    quiet = np.concatenate([profile, profile]) < profile.max() / 6
    run, best_run, gap_end = 0, 0, 0
    for k, q in enumerate(quiet):
        run = run + 1 if q else 0
        if bins > run > best_run:
            best_run, gap_end = run, k
    middle = ((gap_end + 1 + (bins - best_run) / 2) % bins) / bins * period - period / 2  # along the text, px
    half = (bins - best_run) / bins * period / 2
    lo, hi = min(middle - half, read[0]), max(middle + half, read[1])
    if hi - lo > period:  # the readings and the strokes disagree: the strokes win
        lo, hi = middle - half, middle + half
    length = min(hi - lo + frame.height, period)
    return rotated_window(frame.centre + frame.along * (lo + hi) / 2, frame.along, length, 2 * frame.height)


def read_extent(frames: list[Frame], ref: int, lattice: Lattice) -> tuple[float, float]:
    """(from, to) along the text from reading ``ref``'s centre (px): the extent of the readings along
    the same direction, each moved by the lattice step that brings it onto the reference's line
    (within half a text height) nearest to it (the readings are pieces of the mark)."""
    f = frames[ref]
    steps = [i * lattice.basis[0] + j * lattice.basis[1] for i in range(-6, 7) for j in range(-6, 7)]
    steps_xy = [np.array([s[1], s[0]]) for s in steps]
    lo, hi = -f.length / 2, f.length / 2
    for g in frames:
        if apart(g.angle, f.angle) > SAME_DIRECTION_DEG:
            continue
        moved = [g.centre - s - f.centre for s in steps_xy]
        moved = [m for m in moved if abs(m @ f.across) <= 0.5 * f.height]
        if moved:
            offset = min(moved, key=lambda m: abs(m @ f.along)) @ f.along
            lo, hi = min(lo, offset - g.length / 2), max(hi, offset + g.length / 2)
    return lo, hi


def along_step(basis: np.ndarray, frame: Frame) -> float:
    """Length (px) of the shortest short step (``i·a + j·b``, ``|i|, |j| <= 2``) of the lattice ``basis``
    along ``frame``'s text (within ALONG_DEG); infinite without one."""
    along = np.array([frame.along[1], frame.along[0]])  # (row, col)
    return min((float(np.hypot(*d)) for d in (i * basis[0] + j * basis[1] for i, j in SMALL_STEPS)
                if abs(d[0] * along[1] - d[1] * along[0]) <= np.sin(np.radians(ALONG_DEG)) * np.hypot(*d)),
               default=np.inf)


def tile_corners(score: np.ndarray, lattice: Lattice, size: tuple[int, int], shift: tuple[int, int]
                 ) -> list[tuple[int, int]]:
    """Top-left corners (row, col in the photo, possibly outside it) of the whole-mark window (the
    reference window, of ``size``, moved by ``shift``) at every lattice point where the reference
    window touches the photo: each lattice point moved to the best ``score`` (the reference's
    :func:`match_score`) within 1 px when that is at least STRONG_MATCH (the lattice predicts a tile
    to a pixel or two: marks are laid at whole pixels)."""
    h, w = size
    reach = max(abs(shift[0]), abs(shift[1])) + max(h, w)  # the whole mark may reach farther than the reference
    lo = np.array([1.0 - reach, 1.0 - reach])
    hi = np.array([score.shape[0] - 2.0 + reach, score.shape[1] - 2.0 + reach])
    out = []
    for point in lattice_points(lattice.origin, lattice.basis, lo, hi):
        r, c = np.round(point).astype(int)
        if 0 <= r < score.shape[0] and 0 <= c < score.shape[1] and score[nearby_best(score, point, 1)] >= STRONG_MATCH:
            r, c = nearby_best(score, point, 1)
        out.append((int(r) - h + shift[0], int(c) - w + shift[1]))
    return out


def aligned(hp: np.ndarray, corners: list[tuple[int, int]], template: np.ndarray, basis: np.ndarray,
            reach: int = 2) -> tuple[list[tuple[int, int]], list[bool]]:
    """``corners`` (top-left, row and col in the photo) of tiles on a lattice with steps ``basis``, each
    moved to the best |normalised correlation| of ``template`` (h, w) with the high-pass ``hp`` within
    ``reach`` px where that is at least STRONG_MATCH; the others (on the product, or mostly off the
    photo) to the lattice fitted to those by least squares, rounded (marks laid at whole pixels on a
    lattice land there, to a pixel); and whether each was placed by its own match."""
    h, w = template.shape
    support = strong_support(template, np.ones((h, w), np.uint8)).astype(np.float32)

    def best_match(corner: tuple[int, int]) -> tuple[tuple[int, int], bool]:
        r, c = corner
        area = crop(hp, r - reach, c - reach, (h + 2 * reach, w + 2 * reach), 0.0)
        with np.errstate(all="ignore"):
            score = np.abs(cv2.matchTemplate(area, template, cv2.TM_CCORR_NORMED, mask=support))
        score[~(score <= 1.001)] = 0.0
        dr, dc = np.unravel_index(int(score.argmax()), score.shape)
        is_strong = bool(score[dr, dc] >= STRONG_MATCH)
        return ((r + int(dr) - reach, c + int(dc) - reach) if is_strong else (r, c)), is_strong

    matches = thread_map(best_match, corners)  # each tile alone, on the photo's threads
    moved = [m for m, _ in matches]
    pts, strong = np.asarray(moved, np.float64), np.asarray([s for _, s in matches])
    coords = np.round(np.linalg.solve(basis.T, (pts - pts[0]).T).T)
    design = np.column_stack([np.ones(len(pts)), coords])
    if strong.sum() < 4 or np.linalg.matrix_rank(design[strong]) < 3:
        return moved, list(strong)
    predicted = np.round(design @ np.linalg.lstsq(design[strong], pts[strong], rcond=None)[0]).astype(int)
    return [m if s else (int(p[0]), int(p[1])) for m, s, p in zip(moved, strong, predicted)], list(strong)


def stacked_template(hp: np.ndarray, corners: list[tuple[int, int]], support: np.ndarray,
                     blocked: np.ndarray) -> np.ndarray | None:
    """Float32 (h, w): the median high-pass ``hp`` of the windows of ``support``'s size at ``corners``
    (each turned to the sign of its correlation with the plain median), over their pixels in the
    photo and not ``blocked``, times ``support``; ``None`` with fewer than 2 windows a fifth clear."""
    size = support.shape
    windows = []
    for r, c in corners:
        window = crop(hp, r, c, size, np.nan)
        window[crop(blocked, r, c, size, 1) > 0] = np.nan
        if np.isfinite(window).mean() >= 0.2:
            windows.append(window)
    if len(windows) < 2:
        return None
    stack = np.stack(windows)
    first = np.nan_to_num(nanmedian_first_axis(stack))  # pixels no window has clear (all NaN): 0
    signs = np.sign([np.nansum(w * first) for w in stack]).astype(np.float32)
    signs[signs == 0] = 1.0
    template = np.nan_to_num(nanmedian_first_axis(stack * signs[:, None, None]))
    return (template * support).astype(np.float32)


@dataclass
class Mark:
    """One tile of the mark: coverage (float32 (h, w): ``α·s``), colour ``C`` (float32 (3,)), opacity ``α``."""

    coverage: np.ndarray
    colour: np.ndarray
    opacity: float


def fit_layer(image: np.ndarray, corners: list[tuple[int, int]], settled: list[bool], template: np.ndarray,
              product: np.ndarray, blocked: np.ndarray) -> WatermarkLayer | None:
    """The layer (see the module docstring, step 3) from the tiles at ``corners`` (top-left, row and col
    in the photo, possibly outside it) of the whole mark's high-pass ``template``; ``product`` (bool
    (H, W)): the product's pixels clear of other findings, whose tiles give the opacity; ``blocked``:
    the pixels that are no backdrop. The tiles not ``settled`` (placed by the lattice, to a pixel)
    are moved, within 1 px, to where de-blending leaves the least of the mark (:func:`settle`) and
    the mark is fitted again."""
    strokes = np.abs(template) > 0.25 * float(np.percentile(np.abs(template), 99.5))
    strokes = cv2.dilate(strokes.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    painted = painted_strokes(image.shape[:2], corners, strokes)
    under = telea_fill(image, painted)  # group by group, on the photo's threads
    mark = fit_mark(image, corners, strokes, under, product, blocked) if strokes.any() else None
    if mark is not None and not all(settled):
        moved = thread_map(lambda tile: tile[0] if tile[1] else settle(image, tile[0], mark), zip(corners, settled))
        if moved != corners:  # the same corners would fit the same mark
            under = telea_again(image, painted_strokes(image.shape[:2], moved, strokes), painted, under)
            corners, mark = moved, fit_mark(image, moved, strokes, under, product, blocked)
    if mark is None:
        return None
    coverage = np.zeros(image.shape[:2], np.float32)
    for r, c in corners:
        place(coverage, mark.coverage, r, c)
    return WatermarkLayer(coverage, mark.colour, mark.opacity, len(corners))


def painted_strokes(shape: tuple[int, int], corners: list[tuple[int, int]], strokes: np.ndarray) -> np.ndarray:
    """Uint8 (H, W) of ``shape``: 1 on the ``strokes`` (bool (h, w)) laid at every one of ``corners``."""
    painted = np.zeros(shape, np.uint8)
    for r, c in corners:
        place(painted, strokes.astype(np.uint8), r, c)
    return painted


def fit_mark(image: np.ndarray, corners: list[tuple[int, int]], strokes: np.ndarray, under_photo: np.ndarray,
             product: np.ndarray, blocked: np.ndarray) -> Mark | None:
    """The mark over the ``strokes`` (bool (h, w)) of the tiles at ``corners``, see :func:`fit_layer`;
    ``under_photo``: ``image`` with those strokes painted out (Telea, radius 3), the background ``B``:
    its shape, ``D0``, ``B0`` and opacity from the stroke pixels some tile shows on the backdrop, its
    colour so; then the shape at the stroke pixels no tile shows on the backdrop (tiles crossing the
    product) from the tiles there, as the median of ``(I - B)·(C - B) / (α·|C - B|²)`` over those
    whose background is at least 40 levels from ``C``. ``None`` when the tiles show no mark or it is
    not translucent (opacity above MAX_OPACITY)."""
    h, w = strokes.shape
    windows = np.stack([crop(image, r, c, (h, w), np.nan)[strokes] for r, c in corners])      # (N, n, 3)
    under = np.stack([crop(under_photo, r, c, (h, w), np.nan)[strokes] for r, c in corners])
    on_backdrop = np.stack([crop(blocked, r, c, (h, w), 1)[strokes] == 0 for r, c in corners])  # (N, n)
    on_product = np.stack([crop(product, r, c, (h, w), 0)[strokes] > 0 for r, c in corners])
    change_all = windows - under                                                              # I - B
    change = nanmedian_where(change_all, on_backdrop)                                         # (n, 3)
    seen = np.isfinite(change).all(1)
    change = np.nan_to_num(change)
    strength = np.linalg.norm(change, axis=1)
    core = float(np.percentile(strength[seen], 95)) if seen.any() else 0.0
    if core < 3.0:
        return None
    full = change[seen & (strength >= 0.8 * core)].mean(0)                                    # D0
    shape_ = np.clip((change @ full) / float(full @ full), 0, 1)                              # s
    cores = seen & (shape_ >= 0.5)
    base = np.nan_to_num(nanmedian_where(under[:, cores], on_backdrop[:, cores]).reshape(-1, 3))
    base = np.median(base, axis=0)                                                            # B0
    on = on_product[:, cores]
    opacity = fit_opacity(change_all[:, cores][on], under[:, cores][on],
                          np.broadcast_to(shape_[cores], on.shape)[on], full, base)
    if opacity > MAX_OPACITY:
        return None  # no translucent mark: what matched is something else
    colour = np.clip(base + full / opacity, 0, 255).astype(np.float32)
    if not seen.all():
        apart_c = colour - under[:, ~seen]                                                    # C - B
        ratio = (change_all[:, ~seen] * apart_c).sum(2) / (opacity * (apart_c ** 2).sum(2) + 1e-6)
        far = np.linalg.norm(np.nan_to_num(apart_c), axis=2) >= 40.0
        shape_[~seen] = np.clip(np.nan_to_num(nanmedian_where(ratio, far)), 0, 1)
    coverage = np.zeros((h, w), np.float32)
    coverage[strokes] = opacity * shape_
    return Mark(coverage, colour, opacity)


def settle(image: np.ndarray, corner: tuple[int, int], mark: Mark, reach: int = 1) -> tuple[int, int]:
    """``corner`` moved within ``reach`` px to where de-blending ``mark`` leaves the least of it: the
    least mean square high-pass (grey level minus a 2 px blur) over the mark's pixels grown by 2 px
    (those in the photo). The grey level of the de-blended window is ``(mean(I) - A·mean(C)) / (1 - A)``
    (the mean over the channels of ``(I - A·C) / (1 - A)``); it is blurred over the mark's bounding box
    grown by the blur's reach (SETTLE_BLUR_REACH) only, which gives the same high-pass on the mark's pixels."""
    h, w = mark.coverage.shape
    near = cv2.dilate((mark.coverage >= MIN_COVERAGE).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    x, y, bw, bh = cv2.boundingRect(near.view(np.uint8))
    r0, c0 = max(0, y - SETTLE_BLUR_REACH), max(0, x - SETTLE_BLUR_REACH)
    r1, c1 = min(h, y + bh + SETTLE_BLUR_REACH), min(w, x + bw + SETTLE_BLUR_REACH)
    a = np.minimum(mark.coverage, 0.95)[r0:r1, c0:c1]
    laid, kept = a * np.float32(mark.colour.mean()), 1 - a
    near = near[r0:r1, c0:c1]
    top, left = corner[0] - reach, corner[1] - reach
    area = crop(image, top, left, (h + 2 * reach, w + 2 * reach), 0.0).mean(2)  # every offset's window, 0 off the photo
    inside = np.zeros(area.shape, bool)
    inside[max(0, -top):max(0, image.shape[0] - top), max(0, -left):max(0, image.shape[1] - left)] = True
    best, best_energy = corner, np.inf
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            at = (slice(reach + dr + r0, reach + dr + r1), slice(reach + dc + c0, reach + dc + c1))
            valid = near & inside[at]
            if valid.sum() < 0.5 * near.sum():
                return corner  # mostly off the photo: left where the lattice puts it
            grey = (area[at] - laid) / kept
            energy = float(((grey - cv2.GaussianBlur(grey, (0, 0), 2.0))[valid] ** 2).mean())
            if energy < best_energy:
                best, best_energy = (corner[0] + dr, corner[1] + dc), energy
    return best


def nanmedian_where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The median over the first axis of ``values`` (N, ...) at the samples ``where`` (N, ..., its leading axes) is true
    and that are finite: (n, ...), NaN where none is."""
    picked = np.where(where.reshape(where.shape + (1,) * (values.ndim - where.ndim)), values, np.nan)
    return nanmedian_first_axis(picked)


def place(canvas: np.ndarray, window: np.ndarray, top: int, left: int) -> None:
    """Lay ``window`` (h, w) on ``canvas`` (H, W) at (``top``, ``left``) -- possibly partly outside it --
    keeping the larger value of the two at every pixel."""
    h, w = window.shape
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(canvas.shape[0], top + h), min(canvas.shape[1], left + w)
    if r1 > r0 and c1 > c0:
        part = canvas[r0:r1, c0:c1]
        np.maximum(part, window[r0 - top:r1 - top, c0 - left:c1 - left], out=part)


def fit_opacity(change: np.ndarray, under: np.ndarray, shape_: np.ndarray, full: np.ndarray,
                base: np.ndarray) -> float:
    """α: the median of ``(I - B - s·D0) / (s·(B0 - B))`` over the stroke-core samples on the product
    (``change`` ``I - B`` and ``under`` ``B``: (m, 3); ``shape_`` ``s``: (m,)) where ``s·(B0 - B)`` is at
    least 40 levels (50 such values at least); else the least opacity for which ``C = B0 + D0 / α``
    lies in 0..255, at least DEFAULT_OPACITY. Always within that least one and 0.95."""
    room = np.where(full < 0, base, 255.0 - base)
    least = float(np.clip(np.max(np.abs(full) / np.maximum(room, 1.0)), 0.02, 0.95))
    if len(change):
        lhs = (change - shape_[:, None] * full).reshape(-1)
        rhs = (shape_[:, None] * (base - under)).reshape(-1)
        far = np.isfinite(lhs) & np.isfinite(rhs) & (np.abs(rhs) >= 40.0)  # backgrounds well apart from the backdrop's
        if far.sum() >= 50:
            return float(np.clip(np.median(lhs[far] / rhs[far]), least, 0.95))
    return max(least, DEFAULT_OPACITY)
