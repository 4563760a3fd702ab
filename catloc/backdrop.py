"""The backdrop of a product photo, modelled from the photo's border.

Supplier photos are shot on paper sweeps, walls and tables whose colour drifts across the frame
(a grey studio darker in the corners, a light gradient, a vignette) and sometimes changes once
(a wall and a floor, the paper's edge at the bottom). :func:`fit_backdrop` models what the border
shows as

1. a *surface*: the colour each pixel would have if the backdrop went on behind the product, a
   Coons patch spanned by the four sides' colour profiles (each side's median colour across the
   strip at every position along it, smoothed). It follows gradients, vignettes and a wall meeting
   a floor. Where the product crosses a side, that stretch of the profile is bridged from its two
   ends: a stretch is product where it is far from a robust polynomial surface of the border (the
   median colour first, then least squares of rising degree on the pixels the previous fit
   explains) unless its colour is a backdrop colour (2.);
2. *colours*: k-means centres of the border's colours, kept when they look like backdrop rather
   than product: enough of the border, and running along three sides or around a corner (a model's
   hair at the top and legs at the bottom are on opposite sides, a floor holds two corners);

and :class:`Backdrop` answers how far each pixel is from it (Lab units: the smaller of the
distances to the surface and to the nearest colour), how noisy the backdrop is, and how much fine
texture it carries. The segmenter builds its masks from these distances and mask confidence uses
them to see foreground left out of a mask. Deterministic: no randomness in the fits, and k-means
starts from lightness quantiles.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from catloc.imaging import border_sides


@dataclass
class Backdrop:
    """A photo's backdrop model (see the module docstring).

    ``profiles`` are the four sides' smoothed Lab colour profiles (top, bottom: (W, 3); left,
    right: (H, 3), float32, at the size of the fitted image) spanning the surface, which can be
    evaluated at any size (it lives on the unit square); ``centres`` (K, 3) the backdrop colours (K
    may be 0); ``noise`` the distance (Lab) within which the border's own backdrop pixels lie (95th
    percentile x 2.5, at least 0.75); ``texture`` the local standard deviation of the Lab colour
    (:func:`local_std`) below which the backdrop's pixels lie (95th percentile x 1.5, at least 0.6);
    ``explained`` the share of the border strip within ``noise`` of the model.
    """

    profiles: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    centres: np.ndarray
    noise: float = 0.0
    texture: float = 0.0
    explained: float = 0.0

    def surface(self, shape: tuple[int, int]) -> np.ndarray:
        """The surface's Lab colour at every pixel of an image of ``shape`` = (H, W): float32 (H, W, 3)
        (computed once per shape, then reused; do not modify it)."""
        cache = self.__dict__.setdefault("_surfaces", {})
        if shape not in cache:
            cache[shape] = self._surface(shape)
        return cache[shape]

    def _surface(self, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        u = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
        v = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        top, bottom = (_resample(p, w)[None] for p in self.profiles[:2])
        left, right = (_resample(p, h)[:, None] for p in self.profiles[2:])
        return _coons(u, v, top, bottom, left, right, self._corners()).astype(np.float32)

    def surface_at(self, ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The surface's Lab colour at rows ``ys`` and columns ``xs`` of an image of ``shape``: (N, 3)."""
        h, w = shape
        u, v = (np.asarray(xs, np.float32) / max(1, w - 1))[:, None], (np.asarray(ys, np.float32) / max(1, h - 1))[:, None]
        top, bottom = (_interp(p, u[:, 0]) for p in self.profiles[:2])
        left, right = (_interp(p, v[:, 0]) for p in self.profiles[2:])
        return _coons(u, v, top, bottom, left, right, self._corners())

    def _corners(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Top-left, top-right, bottom-left, bottom-right colours: the mean of the two sides' ends."""
        top, bottom, left, right = self.profiles
        return ((top[0] + left[0]) / 2, (top[-1] + right[0]) / 2, (bottom[0] + left[-1]) / 2,
                (bottom[-1] + right[-1]) / 2)

    def distance(self, lab: np.ndarray) -> np.ndarray:
        """Distance (Lab) of each pixel of ``lab`` (float32 (H, W, 3)) to the backdrop: the smaller
        of the distance to the surface and to the nearest backdrop colour; float32 (H, W)."""
        d = np.linalg.norm(lab - self.surface(lab.shape[:2]), axis=-1)
        if len(self.centres):
            d = np.minimum(d, nearest_centre_distance(lab.reshape(-1, 3), self.centres).reshape(d.shape))
        return d.astype(np.float32)

    def distance_at(self, lab_pixels: np.ndarray, ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """:meth:`distance` for some pixels only: ``lab_pixels`` (N, 3) at rows ``ys`` and columns ``xs``
        of an image of ``shape`` = (H, W); float32 (N,)."""
        d = np.linalg.norm(lab_pixels - self.surface_at(ys, xs, shape), axis=-1)
        if len(self.centres):
            d = np.minimum(d, nearest_centre_distance(lab_pixels, self.centres))
        return d.astype(np.float32)


def fine_texture(lab: np.ndarray) -> np.ndarray:
    """:func:`local_std` of what a Gaussian blur (sigma 1.5 px) takes out of ``lab`` (float32 (H, W, 3)):
    weave, grain and sharp edges, not soft gradients (a shadow's penumbra, light falling off);
    float32 (H, W)."""
    return local_std(lab - cv2.GaussianBlur(lab, (0, 0), 1.5))


def shadow_like(lab: np.ndarray, model: Backdrop, fine: np.ndarray) -> np.ndarray:
    """Pixels that look like a shadow cast on the backdrop (bool (H, W)): darker than the surface by
    more than its noise but at least 40% as light, within max(4, noise / 2) of its hue (a, b), and
    with no fine texture (``fine``, :func:`fine_texture`, at most max(1.5, the backdrop's texture)):
    a penumbra is a soft gradient, an edge or a weave is not. A neutral grey product can look like
    this too: callers keep only such regions that touch the backdrop."""
    surface = model.surface(lab.shape[:2])
    lightness = lab[..., 0] / np.maximum(surface[..., 0], 1.0)
    hue = np.linalg.norm(lab[..., 1:] - surface[..., 1:], axis=-1)
    darker = (surface[..., 0] - lab[..., 0] > model.noise) & (lightness >= 0.4)
    return darker & (hue <= max(4.0, model.noise / 2)) & (fine <= max(1.5, model.texture))


def cast_shadows(lab: np.ndarray, model: Backdrop, backdrop: np.ndarray) -> np.ndarray:
    """The shadows cast on the backdrop (bool (H, W)): regions of :func:`shadow_like` pixels that
    touch ``backdrop`` (bool (H, W), the backdrop seen, within 2 px) and also something else — the
    object casting them — along at least 10% of their outer outline. A pale grey garment on white
    paper is shadow-like too, but the paper surrounds it."""
    shadow = shadow_like(lab, model, fine_texture(lab))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(shadow.astype(np.uint8), connectivity=8)
    near = _grow(backdrop, 2)
    keep = []
    for i in np.unique(labels[shadow & near]):
        if i == 0 or stats[i, cv2.CC_STAT_AREA] < 4:
            continue
        x, y, w, h = stats[i, :4]
        window = (slice(max(0, y - 1), y + h + 1), slice(max(0, x - 1), x + w + 1))
        region = (labels[window] == i).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        rim = np.concatenate([c[:, 0, :] for c in contours])
        if near[window][rim[:, 1], rim[:, 0]].mean() <= 0.9:
            keep.append(i)
    return np.isin(labels, keep)


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    """``mask`` dilated by a (2 px + 1) square."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def lit_like(lab: np.ndarray, model: Backdrop) -> np.ndarray:
    """Pixels that look like more light on the backdrop (bool (H, W)): at least as light as the
    surface and within max(6, noise) of its hue (a, b). A pale product can look like this too:
    callers add smoothness and where the region lies."""
    surface = model.surface(lab.shape[:2])
    hue = np.linalg.norm(lab[..., 1:] - surface[..., 1:], axis=-1)
    return (lab[..., 0] >= surface[..., 0]) & (hue <= max(6.0, model.noise))


def _coons(u, v, top, bottom, left, right, corners):
    """The bilinearly blended Coons patch of four boundary curves at (u, v) in the unit square
    (NumPy broadcasting: every argument an array of matching shape, colours on the last axis)."""
    c00, c10, c01, c11 = corners
    return ((1 - v) * top + v * bottom + (1 - u) * left + u * right
            - ((1 - u) * (1 - v) * c00 + u * (1 - v) * c10 + (1 - u) * v * c01 + u * v * c11))


def _resample(profile: np.ndarray, n: int) -> np.ndarray:
    """``profile`` (M, 3) resampled linearly to ``n`` evenly spaced positions: (n, 3) float32."""
    return _interp(profile, np.linspace(0.0, 1.0, n))


def _interp(profile: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``profile`` (M, 3), spread over 0..1, linearly interpolated at positions ``t`` (N,): (N, 3) float32."""
    grid = np.linspace(0.0, 1.0, len(profile))
    return np.stack([np.interp(t, grid, profile[:, c]) for c in range(profile.shape[1])], axis=1).astype(np.float32)


def poly_terms(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    """The monomials x^i y^j with i + j <= ``degree`` of N points: float64 (N, T), T = (d+1)(d+2)/2."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.stack([x ** i * y ** (d - i) for d in range(degree + 1) for i in range(d + 1)], axis=1)


def nearest_centre_distance(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distance of each (N, 3) pixel to its nearest (K, 3) centre: (N,) float32."""
    d2 = ((pixels[:, None, :].astype(np.float32) - centres[None].astype(np.float32)) ** 2).sum(-1)
    return np.sqrt(d2.min(1))


def local_std(image: np.ndarray, px: int = 2) -> np.ndarray:
    """Standard deviation of ``image`` ((H, W) or (H, W, C), any numeric dtype) in the (2 px + 1)-square
    window around each pixel, the channels' variances summed: float32 (H, W), 0 on a flat area."""
    g = image.astype(np.float32)
    k = (2 * px + 1, 2 * px + 1)
    mean = cv2.blur(g, k)
    var = np.maximum(cv2.blur(g * g, k) - mean * mean, 0.0)
    return np.sqrt(var.sum(-1) if var.ndim == 3 else var)


def border_pixels(image: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The border strips of ``image`` (:func:`catloc.imaging.border_sides` order: top, bottom, left,
    right) as (values (N, C), rows (N,), columns (N,), side index (N,) in 0..3)."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    values = border_sides(image, width)
    rows, cols = border_sides(ys, width), border_sides(xs, width)
    side = np.concatenate([np.full(len(v), i) for i, v in enumerate(values)])
    return np.concatenate(values), np.concatenate(rows), np.concatenate(cols), side


def _fit_surface(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, side: np.ndarray,
                 shape: tuple[int, int], degree: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust fit of a degree-``degree`` surface to border pixels, the degree raised one at a time:
    the median colour first, then least squares of degree 1, 2, ... each on the *inliers* of the
    fit before (the pixels within 2.5 x its inliers' median residual, at least 3 Lab). A product
    crossing the border is far from the median colour and never pulls the surface towards it.
    Degrees above 1 need inliers on at least 20% of every side (else the fit would extrapolate over
    a side it has not seen). Returns the coefficients (T, 3), the residual of every border pixel
    (N,) and the last fit's inliers (N,) bool."""
    h, w = shape
    terms = poly_terms(cols / max(1, w - 1), rows / max(1, h - 1), degree)
    coeffs = np.zeros((terms.shape[1], values.shape[1]))
    coeffs[0] = np.median(values, axis=0)
    residual = np.linalg.norm(values - coeffs[0], axis=1)
    use = residual <= max(3.0, 2.5 * float(np.median(residual)))
    for d in range(1, degree + 1):
        n_terms = (d + 1) * (d + 2) // 2
        if use.sum() < 4 * n_terms or (d > 1 and min(use[side == k].mean() for k in range(4)) < 0.2):
            break
        coeffs = np.zeros_like(coeffs)
        coeffs[:n_terms], *_ = np.linalg.lstsq(terms[use, :n_terms], values[use].astype(np.float64), rcond=None)
        residual = np.linalg.norm(values - terms @ coeffs, axis=1)
        use = residual <= max(3.0, 2.5 * float(np.median(residual[use])))
    return coeffs, residual, use


def _held(on: np.ndarray, side: np.ndarray, corner: np.ndarray) -> bool:
    """Whether border pixels ``on`` (N,) bool look like backdrop rather than a product crossing the
    frame: at least 5% of the border, and on >= 10% of three sides, or holding a corner (half its
    pixels) and >= 10% of both sides there, or holding two corners."""
    sides = [on[side == s].mean() >= 0.1 for s in range(4)]              # top, bottom, left, right
    corners = [bool((corner == k).any()) and on[corner == k].mean() >= 0.5 for k in range(4)]
    around = any(corners[k] and sides[a] and sides[b] for k, (a, b) in enumerate(((0, 2), (0, 3), (1, 2), (1, 3))))
    return on.mean() >= 0.05 and (sum(sides) >= 3 or around or sum(corners) >= 2)


def _backdrop_colours(values: np.ndarray, side: np.ndarray, corner: np.ndarray,
                   clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """K-means centres (K, 3) of the border pixels that are backdrop: clusters whose centres lie
    within 25 Lab of each other are judged together (a floor's light fall-off splits it), by
    :func:`_held`. Also returns which border pixels belong to a kept centre (N,) bool: assigned to
    it and within max(6, 2.5 x the cluster's median distance) of it (not a product's blurred rim
    that k-means happened to give the backdrop's cluster)."""
    pixels = values.astype(np.float32)
    members = np.zeros(len(values), bool)
    if len(pixels) < clusters:
        return np.zeros((0, 3), np.float32), members
    ranks = np.argsort(np.argsort(pixels[:, 0], kind="stable"), kind="stable")
    labels = (ranks * clusters // len(pixels)).astype(np.int32).reshape(-1, 1)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(pixels, clusters, labels, criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    group = _linked_groups(centres, 25.0)
    kept = []
    for g in np.unique(group):
        on = np.isin(labels.ravel(), np.flatnonzero(group == g))
        if _held(on, side, corner):
            kept += list(np.flatnonzero(group == g))
            members |= on
    if kept:
        d = nearest_centre_distance(pixels, centres[kept])
        members &= d <= max(6.0, 2.5 * float(np.median(d[members])))
    return centres[kept], members


def _linked_groups(centres: np.ndarray, within: float) -> np.ndarray:
    """Group labels (K,) of centres (K, 3) linked by chains of distances <= ``within``."""
    group = np.arange(len(centres))
    for i in range(len(centres)):
        for j in range(i + 1, len(centres)):
            if np.linalg.norm(centres[i] - centres[j]) <= within:
                group[group == group[j]] = group[i]
    return group


def _corner_index(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], size: int) -> np.ndarray:
    """For each border pixel, which corner square of ``size`` px it lies in: 0 top-left, 1 top-right,
    2 bottom-left, 3 bottom-right, -1 none."""
    h, w = shape
    top, bottom, left, right = rows < size, rows >= h - size, cols < size, cols >= w - size
    return np.select([top & left, top & right, bottom & left, bottom & right], [0, 1, 2, 3], -1)


def _side_profiles(lab: np.ndarray, border_px: int) -> list[np.ndarray]:
    """Each side's median Lab colour across the strip at every position along it (top, bottom: (W, 3);
    left, right: (H, 3), float32)."""
    b = border_px
    return [np.median(lab[:b], axis=0), np.median(lab[-b:], axis=0), np.median(lab[:, :b], axis=1),
            np.median(lab[:, -b:], axis=1)]


def _bridge(profile: np.ndarray, keep: np.ndarray, fallback: np.ndarray, sigma: float) -> np.ndarray:
    """``profile`` (M, 3) with the positions not in ``keep`` (M,) bool interpolated from the kept ones
    (``fallback`` (M, 3) where a side keeps fewer than 5% of its positions), then Gaussian-smoothed
    with ``sigma`` (positions): (M, 3) float32."""
    if keep.mean() < 0.05:
        out = fallback.astype(np.float32)
    else:
        idx, kept = np.arange(len(profile)), np.flatnonzero(keep)
        out = np.stack([np.interp(idx, kept, profile[kept, c]) for c in range(3)], axis=1).astype(np.float32)
    return cv2.GaussianBlur(out[:, None, :], (1, 0), sigmaX=0.1, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)[:, 0, :]


def fit_backdrop(lab: np.ndarray, border_px: int, clusters: int = 3, degree: int = 3) -> Backdrop:
    """The :class:`Backdrop` of ``lab`` (float32 (H, W, 3) Lab) from its outer ``border_px`` px.

    Steps of the module docstring: the backdrop colours (:func:`_backdrop_colours`) and the robust
    polynomial surface (:func:`_fit_surface`) of the sides' profiles tell which positions are
    backdrop; the rest are bridged, the profiles smoothed (sigma 2% of the side) and spanned into
    the surface. The backdrop's noise and texture are measured on the border pixels at backdrop
    positions but for those on an edge (local std over 3 x the median + 0.5); with none, the noise
    is 100.
    """
    h, w = lab.shape[:2]
    profiles = _side_profiles(lab, border_px)
    values = np.concatenate(profiles)
    n = [len(p) for p in profiles]
    side = np.repeat(np.arange(4), n)
    rows = np.concatenate([np.zeros(w), np.full(w, h - 1), np.arange(h), np.arange(h)])
    cols = np.concatenate([np.arange(w), np.arange(w), np.zeros(h), np.full(h, w - 1)])
    coeffs, _, inliers = _fit_surface(values, rows, cols, side, (h, w), degree)
    corner = _corner_index(rows, cols, (h, w), max(border_px, min(h, w) // 8))
    centres, members = _backdrop_colours(values, side, corner, clusters)
    keep = np.split(inliers | members, np.cumsum(n)[:3])
    fallback = np.split(poly_terms(cols / max(1, w - 1), rows / max(1, h - 1), degree) @ coeffs, np.cumsum(n)[:3])
    model = Backdrop(tuple(_bridge(p, k, f, max(1.0, 0.02 * len(p))) for p, k, f in zip(profiles, keep, fallback)),
                     centres.astype(np.float32))
    strip, srows, scols, sside = border_pixels(lab, border_px)
    pos = np.where(sside < 2, scols, srows)
    at_backdrop = np.concatenate(keep)[np.concatenate([[0], np.cumsum(n)[:3]])[sside] + pos]
    texture = np.concatenate([t.ravel() for t in border_sides(local_std(lab), border_px)])
    if at_backdrop.any():  # edges crossing the strip (a line, the product's rim) are no measure of noise
        at_backdrop &= texture <= 3 * float(np.median(texture[at_backdrop])) + 0.5
    d = model.distance_at(strip, srows, scols, (h, w))
    if not at_backdrop.any():
        model.noise, model.texture, model.explained = 100.0, 0.6, 0.0
        return model
    model.noise = max(0.75, 2.5 * float(np.percentile(d[at_backdrop], 95)))
    model.texture = max(0.6, 1.5 * float(np.percentile(texture[at_backdrop], 95)))
    model.explained = float((d <= model.noise).mean())
    return model


def foreground(image: np.ndarray, work_side: int = 384, busy_noise: float = 45.0) -> np.ndarray:
    """Everything in a photo that is not its backdrop, whatever a mask says (bool (H, W) at the
    photo's size): the pixels farther than max(2.5 x noise, 12) Lab from the :func:`fit_backdrop`
    model of ``image`` (RGB uint8) at ``work_side`` px, cast shadows excepted, opened with a 3 px
    square and grown by 2% of the longer side. All of the photo when the backdrop is busier than
    ``busy_noise``: nothing there can be told from the backdrop."""
    h, w = image.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    model = fit_backdrop(lab, max(2, int(round(0.03 * min(lab.shape[:2])))))
    if model.noise > busy_noise:
        return np.ones((h, w), bool)
    dist = model.distance(lab)
    near = dist <= max(model.noise, 1.5)
    far = (dist > max(2.5 * model.noise, 12.0)) & ~cast_shadows(lab, model, near)
    far = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    grow = max(1, int(0.02 * max(small.shape[:2])))
    far = cv2.dilate(far, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return cv2.resize(far, (w, h), interpolation=cv2.INTER_NEAREST) > 0
