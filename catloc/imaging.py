"""Pure array helpers shared by the stages and the engines (NumPy + OpenCV, no state).

Conventions: an *image* is a ``uint8`` array of shape (H, W, 3) (RGB, or any 3-channel
colour space) or (H, W); a *mask* is a ``bool`` array of shape (H, W). Distances, widths and
margins are in pixels (px). No function modifies its inputs.
"""
from __future__ import annotations

import cv2
import numpy as np

from catloc.threads import thread_map

__all__ = ["bbox_window", "border_sides", "border_strip", "colour_distance", "composite_masked",
           "connected_to_border", "dilate", "erode", "feathered_composite", "fill_holes", "finder_patterns",
           "largest_components", "place", "polygon_mask", "resize_longest", "resize_mask", "seam_band",
           "seam_colour_shift", "share_inside", "telea_again", "telea_fill", "exemplar_fill"]


def _as_u8(mask: np.ndarray) -> np.ndarray:
    """``mask`` as a 0/1 ``uint8`` array (a view for ``bool`` input)."""
    return mask.view(np.uint8) if mask.dtype == bool else (mask != 0).astype(np.uint8)


# ---------------------------------------------------------------- windows and borders

def bbox_window(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    """The bounding box of a mask's pixels, grown by a margin and clipped to the array.

    Parameters
    ----------
    mask : (H, W) bool ndarray
    pad : int
        Margin added on every side of the bounding box (px).

    Returns
    -------
    window : (slice, slice) or None
        ``(rows, columns)`` to index arrays of shape (H, ...) with; ``None`` if ``mask`` is empty.
    """
    x, y, w, h = cv2.boundingRect(_as_u8(mask))
    if w == 0 or h == 0:
        return None
    height, width = mask.shape[:2]
    return (slice(max(0, y - pad), min(height, y + h + pad)),
            slice(max(0, x - pad), min(width, x + w + pad)))


def border_sides(image: np.ndarray, width: int) -> list[np.ndarray]:
    """The pixels of the four outer strips of an image: top, bottom, left, right.

    Parameters
    ----------
    image : (H, W, C) or (H, W) ndarray
    width : int
        Strip width (px). The corners belong to two strips.

    Returns
    -------
    sides : list of 4 ndarrays
        Shapes (width * W, C), (width * W, C), (H * width, C), (H * width, C) (without the
        channel axis for a 2-D ``image``), same dtype as ``image``.
    """
    flat = (-1,) + image.shape[2:]
    return [image[:width].reshape(flat), image[-width:].reshape(flat),
            image[:, :width].reshape(flat), image[:, -width:].reshape(flat)]


def border_strip(image: np.ndarray, width: int) -> np.ndarray:
    """All pixels of :func:`border_sides`, concatenated: shape (N, C), same dtype as ``image``."""
    return np.concatenate(border_sides(image, width))


def connected_to_border(mask: np.ndarray) -> np.ndarray:
    """The parts of a mask that touch the array's border.

    Parameters
    ----------
    mask : (H, W) bool ndarray

    Returns
    -------
    reached : (H, W) bool ndarray
        The 4-connected components of ``mask`` with at least one pixel in the first or last
        row or column.
    """
    _, labels = cv2.connectedComponents(_as_u8(mask), connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, edge[edge > 0])


# ---------------------------------------------------------------- components

def components_touching(mask: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The parts of a mask connected to a region.

    Parameters
    ----------
    mask, region : (H, W) bool ndarray

    Returns
    -------
    touching : (H, W) bool ndarray
        The 8-connected components of ``mask`` with at least one pixel in ``region``.
    """
    _, labels = cv2.connectedComponents(_as_u8(mask), connectivity=8)
    hit = np.unique(labels[region & mask])
    return np.isin(labels, hit[hit > 0])


def largest_components(mask: np.ndarray, keep_ratio: float | None = None, min_area: int = 0) -> np.ndarray:
    """The largest 8-connected components of a mask.

    Parameters
    ----------
    mask : (H, W) bool ndarray
    keep_ratio : float or None
        ``None``: keep only the largest component (the first in scan order on a tie). A share
        0..1: keep every component whose area is at least that share of the largest one's.
    min_area : int
        Components smaller than this (px) are dropped as well.

    Returns
    -------
    kept : (H, W) bool ndarray
        ``mask`` itself as bool when it has no component.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(_as_u8(mask), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if keep_ratio is None:
        largest = int(np.argmax(areas))
        return labels == 1 + largest if areas[largest] >= min_area else np.zeros(mask.shape, bool)
    keep = np.flatnonzero((areas >= keep_ratio * areas.max()) & (areas >= min_area)) + 1
    return np.isin(labels, keep)


def fill_holes(mask: np.ndarray, max_area: int | None = None) -> np.ndarray:
    """A mask with its holes filled: background regions that do not reach the border.

    Parameters
    ----------
    mask : (H, W) bool ndarray
    max_area : int or None
        Fill only holes of at most this many px (a bag's handle stays open); ``None``: all.

    Returns
    -------
    filled : (H, W) bool ndarray
        A new array; holes are 4-connected background regions.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    inner = ~((x == 0) | (y == 0) | (x + bw == w) | (y + bh == h))
    if max_area is not None:
        inner &= area <= max_area
    holes = np.flatnonzero(inner) + 1
    return mask | np.isin(labels, holes) if len(holes) else mask.copy()


def share_inside(region: np.ndarray, mask: np.ndarray) -> float:
    """Share 0..1 of the pixels of ``region`` that lie in ``mask`` (both (H, W) bool); 0.0 for an
    empty region. Only the region's bounding box is looked at."""
    window = bbox_window(region, 0)
    if window is None:
        return 0.0
    local = region[window]
    return float((local & mask[window]).sum()) / max(1, int(local.sum()))


# ---------------------------------------------------------------- morphology

def _morphology(op, mask: np.ndarray, px: int, square: bool) -> np.ndarray:
    """``op`` (``cv2.dilate`` or ``cv2.erode``) with a (2 px + 1) element, on the mask's bounding
    box grown by ``px``: nothing outside it can change, and inside it every pixel the element
    reaches is in the window (or beyond the array's edge, as for the whole array)."""
    if px <= 0:
        return mask
    window = bbox_window(mask, px)
    if window is None:
        return mask.copy()
    k = 2 * px + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT if square else cv2.MORPH_ELLIPSE, (k, k))
    out = np.zeros(mask.shape, bool)
    if op is cv2.dilate and not square and px >= 8:
        out[window] = _dilate_by_rows(_as_u8(mask)[window], kernel) > 0
    else:
        out[window] = op(_as_u8(mask)[window], kernel) > 0
    return out


def _dilate_by_rows(mask: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.dilate(mask, kernel)`` (``mask`` uint8 (h, w), ``kernel`` a (k, k) element whose rows are
    runs centred on its middle column, like an ellipse's) as the union of the rows' dilations: each
    row of the element is a horizontal run, the mask dilated by a run is shifted by the row's offset.
    The runs are grown from one another, so a large disc costs about ``k`` cheap passes instead of
    one pass per element pixel (a 61 px disc: ten times faster). Same result, uint8 (h, w)."""
    h, radius = mask.shape[0], kernel.shape[0] // 2
    last = kernel.shape[1] - 1 - np.argmax(kernel[:, ::-1] > 0, axis=1)  # each row's last pixel
    halves = np.where(kernel.any(axis=1), last - radius, -1).tolist()
    by_half, grown, reach = {}, mask, 0
    for half in sorted(set(halves) - {-1}):
        if half > reach:  # a run of half-width a grown by b more is a run of half-width a + b
            grown = cv2.dilate(grown, np.ones((1, 2 * (half - reach) + 1), np.uint8))
            reach = half
        by_half[half] = grown
    out = np.zeros_like(mask)
    for row, half in enumerate(halves):
        if half < 0:
            continue
        dy, src = row - radius, by_half[half]  # out[y] takes src[y + dy], as cv2.dilate's element row does
        if dy >= 0:
            np.maximum(out[:h - dy], src[dy:], out=out[:h - dy])
        else:
            np.maximum(out[-dy:], src[:h + dy], out=out[-dy:])
    return out


def dilate(mask: np.ndarray, px: int, square: bool = False) -> np.ndarray:
    """A mask grown by ``px`` pixels, computed on its bounding box only (fast for small masks).

    Parameters
    ----------
    mask : (H, W) bool ndarray
    px : int
        Growth (px): the structuring element is an ellipse (a disc) of diameter ``2 * px + 1``,
        or with ``square=True`` a ``2 * px + 1`` square. ``px <= 0`` returns ``mask`` itself.
    square : bool

    Returns
    -------
    grown : (H, W) bool ndarray
        Equal to ``cv2.dilate`` of the whole mask with that element.
    """
    return _morphology(cv2.dilate, mask, px, square)


def erode(mask: np.ndarray, px: int, square: bool = False) -> np.ndarray:
    """A mask shrunk by ``px`` pixels; the counterpart of :func:`dilate` (same element, same
    arguments). As with ``cv2.erode``, the array's border does not erode the mask."""
    return _morphology(cv2.erode, mask, px, square)


# ---------------------------------------------------------------- drawing, resizing, placing

def polygon_mask(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    """The pixels inside a polygon.

    Parameters
    ----------
    shape : (int, int)
        (H, W) of the mask.
    polygon : (N, 2) float ndarray
        (x, y) corners in pixel coordinates; rounded to whole pixels.

    Returns
    -------
    mask : (H, W) bool ndarray
        The filled polygon, edges included.
    """
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return mask.view(bool)


def resize_longest(array: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """An image or mask shrunk so that its longer side is at most ``side`` px.

    Parameters
    ----------
    array : (H, W, C) or (H, W) ndarray
        An image (area interpolation) or a bool mask (nearest neighbour, returned as bool).
    side : int
        Longest side of the result (px). Arrays already that small are returned as they are
        (not copied); they are never enlarged.

    Returns
    -------
    resized : ndarray
        Shape (round(H * scale), round(W * scale)[, C]), at least 1 px each way.
    scale : float
        ``min(1, side / max(H, W))``: multiply source coordinates by it to get resized ones.
    """
    h, w = array.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1:
        return array, scale
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if array.dtype == bool:
        return resize_mask(array, size), scale
    return cv2.resize(array, size[::-1], interpolation=cv2.INTER_AREA), scale


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A mask resized to ``shape`` = (H, W) by nearest neighbour: (H, W) bool ndarray."""
    return cv2.resize(_as_u8(mask), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def place(array: np.ndarray, offset: tuple[float, float], scale: float, size: tuple[int, int],
          nearest: bool = False) -> np.ndarray:
    """An image or mask moved from source to target coordinates.

    Parameters
    ----------
    array : (H, W, C) or (H, W) ndarray
        In source coordinates (a mask as ``uint8``: OpenCV warps no bool arrays).
    offset : (float, float)
        (x, y) position of the source's origin in the target (px).
    scale : float
        Source-to-target scale.
    size : (int, int)
        (W, H) of the target, OpenCV's order.
    nearest : bool
        Nearest-neighbour sampling (for masks); bilinear otherwise, except at ``scale == 1``.

    Returns
    -------
    placed : (H', W'[, C]) ndarray
        Same dtype as ``array``; 0 where the source does not reach.
    """
    matrix = np.array([[scale, 0, offset[0]], [0, scale, offset[1]]], np.float32)
    flags = cv2.INTER_NEAREST if nearest or scale == 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(array, matrix, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


# ---------------------------------------------------------------- colour and compositing

def colour_distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Euclidean colour distance of every pixel to one colour.

    Parameters
    ----------
    pixels : (..., 3) ndarray
        Any shape of pixels, e.g. (H, W, 3) or (N, 3).
    colour : (3,) array_like

    Returns
    -------
    distance : (...) float32 ndarray
        In the pixels' units (0..441 for 8-bit RGB).
    """
    diff = pixels.astype(np.float32) - np.asarray(colour, np.float32)
    return np.sqrt(np.einsum("...c,...c->...", diff, diff))


def composite_masked(image: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``filled`` where ``mask`` is set, ``image`` everywhere else: only masked pixels change.

    Parameters
    ----------
    image, filled : (H, W, C) or (H, W) ndarray
        Same shape and dtype.
    mask : (H, W) bool ndarray

    Returns
    -------
    composite : ndarray
        A new array, shape and dtype of ``image``.
    """
    return np.where(mask[..., None] if image.ndim == 3 else mask, filled, image)


def seam_band(keep: np.ndarray, px: int) -> np.ndarray:
    """The ring of pixels just outside a mask: ``dilate(keep, px) & ~keep``.

    Parameters
    ----------
    keep : (H, W) bool ndarray
    px : int
        Width of the ring (px); 0 gives an empty ring.

    Returns
    -------
    band : (H, W) bool ndarray
    """
    return dilate(keep, px) & ~keep


def _distance_to(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px, float32) of every pixel to the nearest pixel of ``mask`` (0 on it);
    a large value everywhere when ``mask`` is empty."""
    if not mask.any():
        return np.full(mask.shape, np.float32(1e6))
    return cv2.distanceTransform((~mask).view(np.uint8), cv2.DIST_L2, 5)


def feathered_composite(base: np.ndarray, generated: np.ndarray, keep: np.ndarray, regenerate: np.ndarray,
                        feather_px: int) -> np.ndarray:
    """Generated pixels over a base image, with soft seams and the kept pixels exact.

    The weight of ``generated`` is 1 inside ``regenerate`` and falls linearly to 0 over
    ``feather_px`` px outside it; it is also scaled by ``min(1, d / feather_px)`` where ``d`` is
    the distance to ``keep``, so the seam against the kept pixels lies in the band *outside*
    them (:func:`seam_band`) and never on them.

    Parameters
    ----------
    base, generated : (H, W, 3) uint8 ndarray
        The image whose pixels are kept, and the model's image, in the same coordinates.
    keep : (H, W) bool ndarray
        Pixels that stay ``base``'s, byte for byte (the product).
    regenerate : (H, W) bool ndarray
        Pixels that become ``generated``'s (away from ``keep``).
    feather_px : int
        Width of both ramps (px); 0 gives hard edges.

    Returns
    -------
    composite : (H, W, 3) uint8 ndarray
        Equal to ``base`` on ``keep`` and wherever the weight is 0.
    """
    regenerate = regenerate & ~keep
    if feather_px <= 0:
        weight = regenerate.astype(np.float32)
    else:
        weight = np.clip(1.0 - _distance_to(regenerate) / feather_px, 0.0, 1.0)
        weight *= np.clip(_distance_to(keep) / feather_px, 0.0, 1.0)
    weight = weight[..., None]
    mixed = base.astype(np.float32) * (1.0 - weight) + generated.astype(np.float32) * weight
    out = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return composite_masked(out, base, keep | (weight[..., 0] == 0))


def seam_colour_shift(image: np.ndarray, reference: np.ndarray, keep: np.ndarray, band_px: int) -> float:
    """Mean colour difference between two images in the band just outside a mask.

    Used on a generated image (before the product is composited back) against the cleaned
    source: the band is where the two are blended, so a large value means the model's
    surroundings do not match the colours next to the product and the seam may show as a halo.

    Parameters
    ----------
    image, reference : (H, W, 3) uint8 ndarray
        RGB images in the same coordinates.
    keep : (H, W) bool ndarray
        The product.
    band_px : int
        Width of the band outside ``keep`` (px).

    Returns
    -------
    shift : float
        Mean CIE76 colour difference (Delta E*ab, CIELAB with L* 0..100) over the band; 0.0
        when the band is empty. About 2.3 is a just-noticeable difference.
    """
    band = seam_band(keep, band_px)
    if not band.any():
        return 0.0
    lab = [cv2.cvtColor(x[band][None].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0] for x in (image, reference)]
    return float(np.sqrt(((lab[0] - lab[1]) ** 2).sum(axis=-1)).mean())
# ---------------------------------------------------------------- patterns

def finder_patterns(gray: np.ndarray, min_module_px: float = 1.5) -> list[tuple[int, int, int, int]]:
    """QR-code finder patterns in an image: a dark square ring around a light ring around a dark
    square (module widths 1:1:3:1:1), the mark a QR code has in three corners.

    Parameters
    ----------
    gray : (H, W) uint8 ndarray
    min_module_px : float
        The smallest module (px) looked for: patterns under 7 x this wide are ignored.

    Returns
    -------
    boxes : list of (x, y, w, h)
        One per pattern found (px), from a locally thresholded copy (dark = below the mean of a
        window about 1/16 of the shorter side, by 10 levels): a four-cornered convex outer square
        (sides 0.7-1.4 of each other) with exactly one hole whose own child, the centre square, has
        1/3 - 1/9 of its area.
    """
    block = max(11, (min(gray.shape[:2]) // 16) | 1)
    binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    tree, boxes = hierarchy[0], []
    for i, contour in enumerate(contours):
        hole = tree[i][2]
        if hole < 0 or tree[hole][0] >= 0 or tree[hole][2] < 0:        # one hole, holding a centre
            continue
        outer, centre = cv2.contourArea(contour), cv2.contourArea(contours[tree[hole][2]])
        x, y, w, h = cv2.boundingRect(contour)
        if min(w, h) < 7 * min_module_px or not 0.7 <= w / max(h, 1) <= 1.4 or centre <= 0:
            continue
        approx = cv2.approxPolyDP(contour, 0.08 * cv2.arcLength(contour, True), True)
        if len(approx) == 4 and cv2.isContourConvex(approx) and 3.0 <= outer / centre <= 9.0:
            boxes.append((int(x), int(y), int(w), int(h)))
    return boxes


# ---------------------------------------------------------------- texture

def transplant_detail(image: np.ndarray, filled: np.ndarray, mask: np.ndarray, sigma: float = 2.0,
                      min_detail: float = 3.0, feather_px: int = 4) -> np.ndarray:
    """Give a smooth fill the fine texture of its surroundings.

    A diffusion fill (Navier-Stokes, Telea) is smooth: on wood, brick, concrete or a knit it shows as
    a flat smear. For each 8-connected hole of ``mask`` whose surroundings have texture (mean absolute
    detail of at least ``min_detail`` levels in a ring as wide as a third of the hole), the detail
    (``image`` minus its Gaussian blur of ``sigma`` px) of a same-shaped region next to the hole --
    above, below, left, right or diagonally, wholly outside the mask, whose blurred colours best
    match the fill -- is added to the fill, faded in over ``feather_px`` px from the hole's edge.
    Each hole reads the fill around it as given (not the detail added to a hole nearby), so the holes
    are worked on the photo's threads (:func:`~catloc.threads.thread_map`).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        The photo the holes are in (its masked pixels are not read).
    filled : (H, W, 3) uint8 ndarray
        ``image`` with the holes filled.
    mask : (H, W) bool ndarray
        The holes.

    Returns
    -------
    out : (H, W, 3) uint8 ndarray
        ``filled`` with detail added inside the textured holes; every other pixel is ``filled``'s.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(_as_u8(mask), connectivity=8)
    out = filled.copy()
    if n <= 1:
        return out
    windows = [_texture_window(stats[i], sigma) for i in range(1, n)]
    # the photo's detail is only read in the holes' windows: the float copies and the blur cover those
    # (and the blur's reach), not the whole photo
    region = _union_window([win for win, _, _ in windows], int(4 * sigma) + 2, mask.shape)
    photo, fill, fine = (np.zeros(image.shape, np.float32) for _ in range(3))
    photo[region], fill[region] = image[region], filled[region]
    fine[region] = photo[region] - cv2.GaussianBlur(photo[region], (0, 0), sigma)
    blocked = dilate(mask, 3)

    def texture(i: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
        win, pad, scale = windows[i - 1]
        hole = labels[win] == i
        ring = dilate(hole, pad) & ~blocked[win]
        if not ring.any() or np.abs(fine[win][ring]).mean() < min_detail:
            return None
        values = _texture_hole(fill[win], photo[win], hole, blocked[win], scale, feather_px)
        return None if values is None else (win, hole, values)

    for done in thread_map(texture, range(1, n)):  # each hole reads the fill around it, not the others' texture
        if done is not None:
            win, hole, values = done
            out[win][hole] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out


def _texture_window(stats: np.ndarray, sigma: float) -> tuple[tuple[slice, slice], int, float]:
    """For a hole of ``stats`` (x, y, w, h, area): the window around it that holds its ring and every
    source (rows, columns; may run past the photo's far edges), the ring's width and the hole's blur scale."""
    x, y, w, h, area = stats
    pad = max(3, int(np.sqrt(area) / 3))
    scale = max(sigma, min(w, h) / 8)  # coarser than the fill's own streaks on a large hole
    reach = int(3 * scale) + 4 + pad
    return (slice(max(0, y - h - reach), y + 2 * h + reach), slice(max(0, x - w - reach), x + 2 * w + reach)), pad, scale


def _union_window(windows: list[tuple[slice, slice]], margin: int, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The bounding window of ``windows`` grown by ``margin`` px, clipped to ``shape`` (H, W)."""
    return (slice(max(0, min(r.start for r, _ in windows) - margin), min(shape[0], max(r.stop for r, _ in windows) + margin)),
            slice(max(0, min(c.start for _, c in windows) - margin), min(shape[1], max(c.stop for _, c in windows) + margin)))


def _texture_hole(fill: np.ndarray, photo: np.ndarray, hole: np.ndarray, blocked: np.ndarray, scale: float,
                  feather_px: int) -> np.ndarray | None:
    """In a window around one hole: the hole's pixels (float32 (n, 3), in ``np.nonzero(hole)`` order) with
    the detail finer than ``scale`` px of the best region beside it (:func:`_best_source`) laid over the
    coarser part of ``fill`` (float32); ``None`` when no region beside it is clear."""
    fill_low = cv2.GaussianBlur(fill, (0, 0), scale)
    photo_low = cv2.GaussianBlur(photo, (0, 0), scale)
    x, y, w, h = cv2.boundingRect(_as_u8(hole))
    shift = _best_source(hole, (x, y, w, h), blocked, fill_low, photo_low)
    if shift is None:
        return None
    ys, xs = np.nonzero(hole)
    weight = np.clip(cv2.distanceTransform(_as_u8(hole), cv2.DIST_L2, 3)[ys, xs] / feather_px, 0, 1)[:, None]
    source = photo[ys + shift[1], xs + shift[0]] - photo_low[ys + shift[1], xs + shift[0]]
    return (1 - weight) * fill[ys, xs] + weight * (fill_low[ys, xs] + source)


def _best_source(hole: np.ndarray, box: tuple[int, int, int, int], blocked: np.ndarray, smooth_fill: np.ndarray,
                 smooth_image: np.ndarray, gap: int = 4) -> tuple[int, int] | None:
    """The shift (dx, dy) of the region next to ``hole`` (its bounding ``box``) that lies inside the
    photo and clear of ``blocked`` and whose blurred colours best match the blurred fill, or None."""
    x, y, w, h = box
    height, width = hole.shape
    ys, xs = np.nonzero(hole)
    best, best_cost = None, np.inf
    for dx, dy in [(0, -(h + gap)), (0, h + gap), (-(w + gap), 0), (w + gap, 0),
                   (-(w + gap), -(h + gap)), (w + gap, -(h + gap)), (-(w + gap), h + gap), (w + gap, h + gap)]:
        if not (0 <= x + dx and x + w + dx <= width and 0 <= y + dy and y + h + dy <= height):
            continue
        if blocked[ys + dy, xs + dx].any():
            continue
        cost = float(np.abs(smooth_image[ys + dy, xs + dx] - smooth_fill[ys, xs]).mean())
        if cost < best_cost:
            best, best_cost = (dx, dy), cost
    return best


def nanmedian_first_axis(values: np.ndarray) -> np.ndarray:
    """Median over the first axis, NaNs left out: the same numbers as ``np.nanmedian(values, axis=0)``.

    NumPy's ``nanmedian`` along a short first axis goes through a masked array and warns once per
    all-NaN column (slow on a stack of a few dozen windows); this sorts once instead.

    Parameters
    ----------
    values : (N, ...) float ndarray
        Samples along the first axis; NaN where missing (no infinities).

    Returns
    -------
    median : (...) ndarray of ``values``' dtype
        The mean of the two middle finite samples (the middle one for an odd count), computed as
        ``(low + high) / 2`` in that dtype; NaN where no sample is finite. No warning.
    """
    if values.ndim > 1 and values.shape[1] > 1 and values.size >= 200_000:  # halves of axis 1 on two threads
        half = values.shape[1] // 2
        return np.concatenate(thread_map(nanmedian_first_axis, [values[:, :half], values[:, half:]]))
    ordered = np.sort(values, axis=0)  # NaNs last
    counts = np.count_nonzero(~np.isnan(values), axis=0)[None]
    high = counts // 2
    low = np.where(counts % 2 == 1, high, high - 1)
    picked = np.take_along_axis(ordered, np.concatenate([np.maximum(low, 0), high]), axis=0)
    median = (picked[0] + picked[1]) / values.dtype.type(2)
    median[counts[0] == 0] = np.nan
    return median


TELEA_REACH = 16  # px: farther than this, a painted pixel's Telea fill (radius 3) cannot depend on another


def telea_fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``cv2.inpaint(image, mask, 3, INPAINT_TELEA)``, group by group on the photo's threads.

    Telea's fill of a pixel reads the pixels within its radius (3 px) of it and the distances to the mask
    within a band 7 px wide around it, so groups of painted pixels farther than TELEA_REACH px apart
    fill alone: each is filled in its bounding box grown by TELEA_REACH px
    (:func:`~catloc.threads.thread_map`), and the result is the whole photo's fill to the bit
    (tests/test_imaging.py). A watermark's tiles, spread over the photo, are many small groups.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    mask : (H, W) uint8 or bool ndarray
        The pixels to fill.

    Returns
    -------
    out : (H, W, 3) uint8 ndarray
        A new array.
    """
    painted = _as_u8(mask)
    return _telea_groups(image, painted, painted, image.copy(), None)


def telea_again(image: np.ndarray, mask: np.ndarray, before: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """``cv2.inpaint(image, mask, 3, INPAINT_TELEA)`` given that of the same ``image`` over a mask
    ``before`` that differs from ``mask`` in a few places: only the groups of painted pixels that changed
    are filled again.

    As in :func:`telea_fill`, painted pixels farther than TELEA_REACH px from every changed pixel,
    through the painted pixels of either mask, keep their fill. The groups of painted pixels (of either
    mask) within TELEA_REACH px of each other that hold a changed pixel are filled again, each alone,
    in its bounding box grown by TELEA_REACH px.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
    mask, before : (H, W) uint8 or bool ndarray
        The pixels to fill now, and those ``filled`` was filled over.
    filled : (H, W, 3) uint8 ndarray
        ``cv2.inpaint(image, before, 3, cv2.INPAINT_TELEA)``.

    Returns
    -------
    out : (H, W, 3) uint8 ndarray
        ``image`` filled over ``mask``: the same as ``cv2.inpaint(image, mask, 3, cv2.INPAINT_TELEA)``
        (to the bit: tests/test_imaging.py).
    """
    now, was = _as_u8(mask), _as_u8(before)
    changed = now != was
    if not changed.any():
        return filled
    return _telea_groups(image, now, now | was, filled.copy(), changed)


def _telea_groups(image: np.ndarray, now: np.ndarray, painted: np.ndarray, out: np.ndarray,
                  changed: np.ndarray | None) -> np.ndarray:
    """``out`` (changed in place and returned) with the groups of ``painted`` pixels (uint8 (H, W); within
    TELEA_REACH px of each other) that hold a ``changed`` pixel (bool (H, W); ``None``: every group)
    filled over ``now`` (uint8 (H, W)) by Telea, each alone in its bounding box grown by TELEA_REACH px."""
    reach = np.ones((TELEA_REACH + 1, TELEA_REACH + 1), np.uint8)  # painted pixels this close are one group
    n, groups, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(painted, reach), connectivity=8)
    chosen = range(1, n) if changed is None else np.unique(groups[changed])
    height, width = now.shape

    def fill(group: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
        x, y, w, h = stats[group, :4]
        crop = (slice(max(0, y - TELEA_REACH), min(height, y + h + TELEA_REACH)),
                slice(max(0, x - TELEA_REACH), min(width, x + w + TELEA_REACH)))
        members = groups[crop] == group
        return crop, members, cv2.inpaint(image[crop], now[crop] & members.view(np.uint8), 3, cv2.INPAINT_TELEA)

    for crop, members, filled in thread_map(fill, chosen):
        out[crop][members] = filled[members]
    return out


def exemplar_fill(image: np.ndarray, filled: np.ndarray, mask: np.ndarray, min_radius: float = np.inf,
                  max_stroke_radius: float = 40.0, min_detail: float = 1.5, max_smooth_ratio: float = 0.6,
                  measure_side: int = 768, patch_px: int = 6, search_px: int = 24) -> np.ndarray:
    """Fill holes in textured surroundings (and, if asked, large holes) with pixels copied from around them.

    A diffusion fill leaves the strokes of a removed text on brick or concrete a flat smear.
    Each 8-connected hole of ``mask`` whose inscribed radius is below ``max_stroke_radius`` px and
    whose fill in ``filled`` is still a smear (:func:`_smeared`, on the photo shrunk to a longer side
    of ``measure_side`` px: at least ``min_detail`` levels of detail around it, less than
    ``max_smooth_ratio`` times that inside), and each hole whose radius
    is at least ``min_radius`` px (default: none), is filled pixel by pixel with the pixel at one shift
    from it: the shift (from a grid within ``search_px`` working pixels) whose shifted surroundings
    best match the hole's in the ``patch_px`` working pixels around that pixel, among the shifts
    whose source is clear of the mask (:func:`_shift_labels`: two passes, the second matching the
    first's copies too, for coherence). The search runs on the photo shrunk by the whole factor that
    brings the hole's radius under ``patch_px`` - 2; copies are taken at full size, cross-faded where
    the shift changes, and the colour mismatch along the hole's edge is spread over it
    (:func:`_copy_shifts`). Large holes also weigh each source's difference from ``filled``. Units:
    px (radii, ``measure_side``), levels (``min_detail``), working px (``patch_px``, ``search_px``).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        The photo the holes are in (its masked pixels are not read).
    filled : (H, W, 3) uint8 ndarray
        ``image`` with the holes filled (e.g. by diffusion): kept where no hole qualifies or no
        shift has a clear source.
    mask : (H, W) bool ndarray
        The holes.
    min_radius, max_stroke_radius, min_detail, max_smooth_ratio, measure_side, patch_px, search_px : see above

    Returns
    -------
    out : (H, W, 3) uint8 ndarray
        ``filled`` with the qualifying holes replaced by copies; every other pixel is ``filled``'s.
    """
    out, blocked = filled.copy(), dilate(mask, 1)
    radius = cv2.distanceTransform(_as_u8(mask), cv2.DIST_L2, 3)
    scale = min(1.0, measure_side / max(mask.shape))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(_as_u8(mask), connectivity=8)

    def copy_into(i: int) -> None:  # holes are disjoint: each call writes its own pixels of out
        x, y, w, h, area = stats[i]
        hole_radius = float(radius[y:y + h, x:x + w][labels[y:y + h, x:x + w] == i].max())
        if hole_radius < min_radius and (hole_radius >= max_stroke_radius or not _hole_smeared(
                filled, labels, blocked, i, (x, y, w, h, area), scale, min_detail, max_smooth_ratio)):
            return
        factor = max(1, int(np.ceil(hole_radius / (patch_px - 2))))
        margin = factor * (search_px + patch_px + 2)
        win = (slice(max(0, y - margin), y + h + margin), slice(max(0, x - margin), x + w + margin))
        guide_weight = 0.5 if hole_radius >= min_radius else 0.0  # deep in a large hole: near the fill's colours
        hole, photo = labels[win] == i, image[win].astype(np.float32)  # the photo as floats, where it is read
        shifts = _shift_labels(photo, filled[win].astype(np.float32), hole, blocked[win], factor, patch_px,
                               search_px, guide_weight)
        if shifts is not None:
            _copy_shifts(out[win], photo, hole, blocked[win], shifts, factor)

    thread_map(copy_into, range(1, n))
    return out


def _hole_smeared(filled: np.ndarray, labels: np.ndarray, blocked: np.ndarray, i: int, stats: tuple,
                  scale: float, min_detail: float, max_ratio: float) -> bool:
    """:func:`_smeared` for hole ``i`` of ``labels`` (its ``stats``: x, y, w, h, area), on the window of
    its ring and a margin for the ring's blur."""
    x, y, w, h, area = stats
    pad = int(np.sqrt(area) / 3) + 10
    near = (slice(max(0, y - pad), y + h + pad), slice(max(0, x - pad), x + w + pad))
    return _smeared(filled[near], labels[near] == i, blocked[near], scale, min_detail, max_ratio)


def _smeared(filled: np.ndarray, hole: np.ndarray, blocked: np.ndarray, scale: float, min_detail: float,
             max_ratio: float) -> bool:
    """Whether the fill of ``hole`` is a smear, measured as QC's smooth-patch check does, on the
    window (``filled``, ``hole`` and ``blocked`` cut to the hole and its ring) shrunk by ``scale``:
    the mean absolute Laplacian of grey blurred by 1 px (levels) in the ring around the hole (as wide
    as a third of its square root of area, at least 4 px, clear of ``blocked``) is at least
    ``min_detail``, and inside it (eroded by 2 px) below ``max_ratio`` x that."""
    size = (max(1, round(hole.shape[1] * scale)), max(1, round(hole.shape[0] * scale)))
    if min(size) < 8 or erode(hole, 2).sum() * scale * scale < 20:
        return False
    small = cv2.resize(filled, size, interpolation=cv2.INTER_AREA)
    hole_s = cv2.resize(_as_u8(hole), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    blocked_s = cv2.resize(_as_u8(blocked), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    ring = dilate(hole_s, max(4, int(np.sqrt(hole_s.sum()) / 3))) & ~blocked_s
    inner = erode(hole_s, 2)
    if ring.sum() < 50 or inner.sum() < 20:
        return False
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    detail = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))
    around = float(detail[ring].mean())
    return around >= min_detail and float(detail[inner].mean()) < max_ratio * around


def _block_reduce(photo: np.ndarray, hole: np.ndarray, blocked: np.ndarray, factor: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``photo`` (block means), ``hole`` and ``blocked`` (any pixel of the block) shrunk by whole
    ``factor`` x ``factor`` blocks; the last partial blocks are padded, padding counts as blocked."""
    if factor == 1:
        return photo, hole, blocked
    h, w = hole.shape
    ph, pw = -h % factor, -w % factor
    photo = np.pad(photo, ((0, ph), (0, pw), (0, 0)), mode="edge")
    hole = np.pad(hole, ((0, ph), (0, pw)))
    blocked = np.pad(blocked, ((0, ph), (0, pw)), constant_values=True)
    H, W = hole.shape[0] // factor, hole.shape[1] // factor
    small = photo.reshape(H, factor, W, factor, 3).mean(axis=(1, 3))
    return small, hole.reshape(H, factor, W, factor).any(axis=(1, 3)), blocked.reshape(H, factor, W, factor).any(axis=(1, 3))


def _shift_labels(photo: np.ndarray, guide: np.ndarray, hole: np.ndarray, blocked: np.ndarray, factor: int,
                  patch_px: int, search_px: int, guide_weight: float = 0.0, passes: int = 2) -> np.ndarray | None:
    """For each pixel of the shrunk window (:func:`_block_reduce`), the best shift (dy, dx) in shrunk
    pixels (int (h, w, 2), meaningful on the shrunk hole; (0, 0) where none has a clear source), or
    None when no hole pixel has one.

    The first pass matches each hole pixel's neighbourhood of known pixels (:func:`_best_shifts`);
    each further pass counts the hole's copies so far as known too, so that neighbouring hole pixels
    agree (copies of one coherent piece rather than a patchwork). ``guide`` (the photo with the hole
    filled, e.g. by diffusion) weighs in with ``guide_weight`` per level of difference from the source."""
    small, hole_s, blocked_s = _block_reduce(photo, hole, blocked, factor)
    guide_s = _block_reduce(guide, hole, blocked, factor)[0] if guide_weight else None
    known = dilate(hole_s, patch_px) & ~blocked_s
    target, best = small, None
    for _ in range(passes):
        shifts, found = _best_shifts(target, known, small, blocked_s, hole_s, guide_s, guide_weight, patch_px,
                                     search_px)
        if not (found & hole_s).any():
            return best
        best = shifts
        ys, xs = np.nonzero(found & hole_s)
        target = small.copy()
        target[ys, xs] = small[ys + shifts[ys, xs, 0], xs + shifts[ys, xs, 1]]
        known = known | (found & hole_s)
    return best


def _best_shifts(target: np.ndarray, known: np.ndarray, small: np.ndarray, blocked: np.ndarray, hole: np.ndarray,
                 guide: np.ndarray | None, guide_weight: float, patch_px: int, search_px: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One pass of :func:`_shift_labels` on the shrunk window: per pixel, the shift (int (h, w, 2))
    from a grid of step ``search_px`` // 8 within ``search_px`` whose cost is least, and whether any
    was found (bool (h, w)). A shift's cost at a hole pixel is the mean absolute RGB difference, over
    the ``known`` pixels of ``target`` within ``patch_px`` of it whose source is clear, between them and
    the pixels of ``small`` the shift lands on, plus 4 levels x shift length / ``search_px`` (nearer
    sources win ties), plus the ``guide`` term; infinite where its own source is ``blocked``."""
    h, w = hole.shape
    pad = search_px
    padded = np.pad(small, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    clear = np.pad(~blocked, pad)  # sources outside the window are not clear
    step = max(1, search_px // 8)
    best_cost = np.full((h, w), np.inf, np.float32)
    best = np.zeros((h, w, 2), np.int32)
    ksize = (2 * patch_px + 1, 2 * patch_px + 1)
    for dy in range(-search_px, search_px + 1, step):
        for dx in range(-search_px, search_px + 1, step):
            if max(abs(dy), abs(dx)) < 2:
                continue
            src = (slice(pad + dy, pad + dy + h), slice(pad + dx, pad + dx + w))
            usable = known & clear[src]
            err = np.abs(padded[src] - target).sum(axis=2) * usable
            num = cv2.boxFilter(err, -1, ksize, normalize=False)
            den = cv2.boxFilter(usable.astype(np.float32), -1, ksize, normalize=False)
            cost = num / np.maximum(den, 1e-3) + 4.0 * np.hypot(dy, dx) / search_px
            if guide is not None:
                cost += guide_weight * np.abs(padded[src] - guide).sum(axis=2)
            cost[(den < 3) | ~clear[src]] = np.inf
            better = hole & (cost < best_cost)
            best_cost[better] = cost[better]
            best[better] = (dy, dx)
    return best, np.isfinite(best_cost)


def _copy_shifts(out: np.ndarray, photo: np.ndarray, hole: np.ndarray, blocked: np.ndarray, shifts: np.ndarray,
                 factor: int, max_shift: float = 12.0) -> None:
    """Write into ``out`` (uint8, in place) at the ``hole`` pixels the copies of ``photo`` (float32) at
    the shrunk ``shifts`` (:func:`_shift_labels`) x ``factor``: each shift's copy weighted by its
    share of the hole pixels within ``factor`` / 2 px (a cross-fade where shifts meet) and where its
    source is clear of ``blocked`` (pixels just outside the hole take the shift of the nearest hole
    pixel); then the mismatch between ``photo`` and the copies in that 2-px band outside the hole,
    clipped to ``max_shift`` levels, is spread over the hole (normalised Gaussian of half the hole's
    radius)."""
    ys, xs = np.nonzero(hole)
    y0, x0 = max(0, ys.min() - factor - 3), max(0, xs.min() - factor - 3)  # the hole, its band and cross-fade
    box = (slice(y0, ys.max() + factor + 4), slice(x0, xs.max() + factor + 4))
    full = (np.repeat(np.repeat(shifts, factor, axis=0), factor, axis=1)[:hole.shape[0], :hole.shape[1]] * factor)[box]
    pad = int(np.abs(full).max()) + 1
    padded = np.pad(photo, ((pad, pad), (pad, pad), (0, 0)), mode="edge")[y0:, x0:]
    clear = np.pad(~blocked, pad)[y0:, x0:]
    out, photo, hole = out[box], photo[box], hole[box]
    h, w = hole.shape
    _, nearest = cv2.distanceTransformWithLabels(_as_u8(~hole), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    lookup = np.zeros(nearest.max() + 1, np.int64)
    lookup[nearest[hole]] = np.flatnonzero(hole)
    full = full.reshape(-1, 2)[lookup[nearest]]  # each pixel takes the shift of the nearest hole pixel
    region = dilate(hole, 2)
    codes = full[..., 0] * (4 * w + 1) + full[..., 1]
    total = np.zeros((h, w), np.float32)
    copy = np.zeros((h, w, 3), np.float32)
    for code in np.unique(codes[hole]):
        where = (codes == code) & region
        dy, dx = full[where][0]
        if dy == 0 and dx == 0:
            continue
        src = (slice(pad + dy, pad + dy + h), slice(pad + dx, pad + dx + w))
        share = cv2.GaussianBlur(where.astype(np.float32), (0, 0), factor / 2) if factor > 1 else where.astype(np.float32)
        weight = share * clear[src] * region
        total += weight
        copy += weight[..., None] * padded[src]
    got = total > 1e-3
    copy[got] /= total[got][:, None]
    band = region & ~hole & got
    todo = hole & got
    if not todo.any():
        return
    if band.sum() >= 8:
        sigma = max(2.0, float(cv2.distanceTransform(_as_u8(hole), cv2.DIST_L2, 3).max()) / 2)
        diff = np.clip(photo - copy, -max_shift, max_shift) * band[..., None]
        weight = cv2.GaussianBlur(band.astype(np.float32), (0, 0), sigma)
        copy += cv2.GaussianBlur(diff, (0, 0), sigma) / np.maximum(weight, 1e-4)[..., None]
    out[todo] = np.clip(np.rint(copy[todo]), 0, 255).astype(np.uint8)
