"""What a removed finding's mask covers: the plate it sits on (banner, sticker, card), else its strokes.

Also the backdrop facts plates are told apart from: the backdrop's colour and the open backdrop
reached from the photo's border.
"""
from __future__ import annotations

import cv2
import numpy as np

from catloc.imaging import (bbox_window, border_strip, colour_distance, components_touching, connected_to_border,
                            dilate, erode, fill_holes)


def _border_px(image: np.ndarray, border: float) -> int:
    """Width (px) of the outer ``border`` share of the image's shorter side, at least 2."""
    return max(2, int(border * min(image.shape[:2])))


def backdrop_colour(image: np.ndarray, border: float = 0.03) -> np.ndarray:
    """Median colour (float32 (3,)) of the image's outer ``border`` share: the supplier's backdrop."""
    return np.median(border_strip(image, _border_px(image, border)), axis=0).astype(np.float32)


def backdrop_reached_from_border(image: np.ndarray, backdrop: np.ndarray, border: float = 0.03) -> np.ndarray:
    """Pixels of the backdrop's colour (within the border's own spread: 3 to 25 levels) that
    connect to the image border: open backdrop, not a garment that happens to share its colour.
    Returns a bool (H, W) mask."""
    spread = colour_distance(border_strip(image, _border_px(image, border)), backdrop)
    spread = spread[spread < 30]  # leave out a product running off the photo
    tolerance = min(25.0, max(3.0, 2.5 * float(np.percentile(spread, 90)))) if len(spread) else 3.0
    return connected_to_border(colour_distance(image, backdrop) <= tolerance)


def grow_plate(image: np.ndarray, seed: np.ndarray, colour: np.ndarray, max_px: int,
               tolerance: float = 14.0, noisy_rings: int = 0) -> np.ndarray:
    """Grow ``seed`` ring by ring (1 px each, at most ``max_px``) while at least 97% of every
    ring's pixels are within ``tolerance`` of ``colour``; the first ``noisy_rings`` rings may
    fall short (they are taken if a later ring continues the plate).

    Used for the banner or sticker a promo text is printed on: growth stops at the plate's
    edge, or where it would run into the product (a different colour). Round rings cut a
    rectangular plate's corners off (left behind, they show as four dots and tint the fill), so
    the plate-coloured pixels inside the grown region's bounding rectangle that touch it join it.
    """
    dist = cv2.distanceTransform((~seed).astype(np.uint8), cv2.DIST_L2, 3)
    close_all = colour_distance(image, colour) < tolerance
    reach = 0
    for k in range(1, max_px + 1):
        ring = (dist > k - 1) & (dist <= k)
        if not ring.any():
            break
        if close_all[ring].mean() < 0.97:
            if k <= noisy_rings and not reach:
                continue  # the seed's outline may sit a few px inside what it outlines (a code's modules)
            break
        reach = k
    if not reach:
        return seed.copy()
    grown = dist <= reach
    x, y, width, height = cv2.boundingRect(grown.view(np.uint8))
    box = np.zeros_like(grown)
    box[y:y + height, x:x + width] = True
    return grown | components_touching(box & close_all, grown)


def find_plate(image: np.ndarray, seed: np.ndarray, backdrop: np.ndarray, colour: np.ndarray | None = None,
               tolerance: float = 16.0, max_area_ratio: float = 5.0, max_spread: float = 4.5) -> np.ndarray | None:
    """The plain-coloured plate a finding sits on (promo banner, sticker, QR card), or ``None``.

    The plate colour is ``colour`` if given, else the colour dominating the finding's surround
    (at least 50% of a ring around it) or, for a banner cut tight around its text, its own box
    (30%, the rest being text). It must differ from the backdrop. The plate is the region of
    that colour connected to the finding, with everything it encloses (the text), and it must look
    drawn, not photographed (:func:`_is_plate`): bounded within a few text heights above and below
    the finding (across the photo's width, for a banner), a hard edge, one flat colour (spread
    at most ``max_spread`` levels: 1.4826 x the median absolute deviation), a compact shape, at most
    ``max_area_ratio`` x the finding (a level, long rectangle -- a banner -- up to 12 times that), and
    at most 12% of the photo. A banner is its whole bounding rectangle: a translucent banner shows the
    product through it in other colours than the plate's, and a strip of it left behind would be
    spread over the hole by the inpainting.
    """
    x, y, width, height = cv2.boundingRect(seed.view(np.uint8))
    if width == 0 or height == 0:
        return None
    h, w = seed.shape
    y0, y1 = max(0, y - 2 * height), min(h, y + 3 * height)  # everything happens in this strip
    x0, x1 = max(0, x - max(2 * height, 3 * width)), min(w, x + width + max(2 * height, 3 * width))
    x0, x1 = (0, w) if colour is None else (x0, x1)  # a banner may run across the photo
    local = seed[y0:y1, x0:x1]
    window = image[y0:y1, x0:x1]
    ring = dilate(local, max(3, height // 6)) & ~local
    near = ring | local
    for plate_colour in _plate_colours(window, local, ring, colour, tolerance):
        if np.linalg.norm(plate_colour - backdrop) < 20:
            continue  # that is the backdrop itself
        similar = colour_distance(window, plate_colour) < tolerance
        _, labels = cv2.connectedComponents(similar.view(np.uint8), connectivity=8)
        touching = np.unique(labels[near & similar])
        region = np.isin(labels, touching[touching > 0])
        kind = _is_plate(window, region, local, plate_colour, (y0 > 0, y1 < h, x0 > 0, x1 < w),
                         tolerance, max_area_ratio, max_spread)
        if not kind:
            continue
        plate = np.zeros_like(seed)
        closed = erode(dilate(region | local, max(3, height // 6)), max(3, height // 6))  # notches a mark cut
        plate[y0:y1, x0:x1] = fill_holes(closed | region | local)
        if kind == "banner":  # a level rectangle, also where the product shows through it in other colours
            bx, by, bw, bh = cv2.boundingRect(plate.view(np.uint8))
            plate[by:by + bh, bx:bx + bw] = True
        if plate.sum() > 0.12 * plate.size:
            continue  # a plate that large is a garment or a wall, not a sticker or banner
        return plate
    return None


def _is_plate(window: np.ndarray, region: np.ndarray, local: np.ndarray, plate_colour: np.ndarray,
              interior: tuple[bool, bool, bool, bool], tolerance: float, max_area_ratio: float,
              max_spread: float) -> str:
    """Whether ``region`` (bool, the plate-coloured pixels touching the finding ``local`` in ``window``)
    is a drawn plate: not reaching the window's sides that lie inside the photo (``interior``: top,
    bottom, left, right), a hard outline, a flat colour, solid (75% of its convex hull: a watermark
    crossing it notches it), and not too
    large for the finding (a banner -- 75% of its bounding rectangle, level, at least 3 times as long as
    it is high -- may be 12 x ``max_area_ratio`` times its area). Returns ``"banner"``, ``"plate"`` or
    ``""`` (none)."""
    area, seed_area = int(region.sum()), int(local.sum())
    if area < 0.2 * seed_area:
        return ""
    edges = (region[0], region[-1], region[:, 0], region[:, -1])
    if any(inside and edge.any() for inside, edge in zip(interior, edges)):
        return ""  # not bounded near the finding
    outline = dilate(region, 2) & ~region
    if outline.any() and np.median(colour_distance(window[outline], plate_colour)) < 2 * tolerance:
        return ""  # a soft edge: shading on a garment, not a printed plate
    pixels = window[region].astype(np.float32)
    if float(1.4826 * np.median(np.abs(pixels - np.median(pixels, axis=0)), axis=0).max()) > max_spread:
        return ""  # a photographed surface, not one flat drawn colour (a watermark across it is let be)
    filled = fill_holes(region | local)
    contours, _ = cv2.findContours(filled.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(np.concatenate(contours))
    if filled.sum() < 0.75 * max(1.0, cv2.contourArea(hull)):
        return ""
    (_, _), (rw, rh), angle = cv2.minAreaRect(np.concatenate(contours))
    level = min(angle % 90.0, 90.0 - angle % 90.0) <= 3.0
    banner = filled.sum() >= 0.75 * rw * rh and level and max(rw, rh) >= 3 * min(rw, rh)
    if area > max_area_ratio * seed_area * (12 if banner else 1):
        return ""
    return "banner" if banner else "plate"


def _plate_colours(window: np.ndarray, local: np.ndarray, ring: np.ndarray, colour: np.ndarray | None,
                   tolerance: float) -> list[np.ndarray]:
    """The plate colours to try: ``colour`` if given, else the dominant colour of the ring around
    the finding (if it covers half of it) and of the finding's own box (if it covers 30%)."""
    if colour is not None:
        return [np.asarray(colour, np.float32)]
    candidates = []
    for pixels, share in ((window[ring], 0.5), (window[local], 0.3)):
        dominant = _dominant_colour(pixels)
        if dominant is not None and (colour_distance(pixels, dominant) < tolerance).mean() >= share:
            candidates.append(dominant)
    return candidates


def _dominant_colour(pixels: np.ndarray) -> np.ndarray | None:
    """The most frequent colour of (N, 3) pixels (mode of a 16-level quantisation, then its mean)."""
    if len(pixels) == 0:
        return None
    bins = (pixels // 16).astype(np.int32)
    codes = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    top = np.bincount(codes).argmax()
    return pixels[codes == top].astype(np.float32).mean(axis=0)


def stroke_mask(image: np.ndarray, region: np.ndarray, dilate_px: int) -> tuple[np.ndarray, str]:
    """The pixels of the text inside ``region`` (a text box), dilated by about a stroke width.

    When the box sits on a uniform surround, the strokes are the pixels that differ from the
    surround's colour; on a textured surround (the product) they are the pixels a median
    filter wider than a stroke takes away, or, on a surface so busy that the median takes most of the
    box, the pixels of the text's flat inks (:func:`ink_strokes`). When that finds no clear strokes the
    whole box is used. Returns (mask, ``strokes``, ``strokes on texture``, ``ink strokes`` or ``box``).
    """
    win = bbox_window(region, max(3, dilate_px) + 2 + 32)  # room for the surround and the median filter
    if win is None:
        return region.copy(), "box"
    local, crop = region[win], image[win]
    out = np.zeros_like(region)
    grown = dilate(local, max(3, dilate_px))
    colours = crop[grown & ~local].astype(np.float32)
    strokes = np.zeros(local.shape, bool)
    how = "strokes"
    if len(colours) and colours.std(0).max() <= 12:  # uniform surround: strokes differ from its colour
        strokes[local] = colour_distance(crop[local], np.median(colours, axis=0)) > 18.0
    else:  # textured surround (the product): strokes are what a median wider than a stroke removes
        height = cv2.boundingRect(local.view(np.uint8))[3]
        k = min(31, max(7, (height // 2) | 1))
        strokes = (colour_distance(crop, cv2.medianBlur(crop, k)) > 24.0) & local
        how = "strokes on texture"
        if strokes.sum() > 0.6 * local.sum():  # a busy print: the median takes its pattern away too
            inked = ink_strokes(crop, local, dilate(local, max(6, height // 2)) & ~local)
            strokes, how = (inked, "ink strokes") if inked is not None else (np.zeros_like(strokes), how)
    if not strokes.any():
        out[win] = dilate(local, dilate_px)
        return out, "box"
    # stroke width from the distance transform of the strokes; dilate by it (anti-aliasing, halos)
    width = float(cv2.distanceTransform(strokes.view(np.uint8), cv2.DIST_L2, 3).max())
    out[win] = dilate(strokes, dilate_px + int(np.ceil(width / 2))) & dilate(local, dilate_px + 2)
    return out, how


def ink_strokes(crop: np.ndarray, local: np.ndarray, ring: np.ndarray, max_share: float = 0.6) -> np.ndarray | None:
    """The strokes (bool (h, w)) of a text drawn in flat inks over a busy surface, or ``None``.

    The inks are the colours (16-level bins of ``crop``'s RGB) that make up at least 3% of the box
    ``local`` and are at least 4 x rarer in the ``ring`` around it (a drawn text's flat ink is in the
    box and not around it; a print's colours are everywhere on the fabric). The strokes are the box's
    pixels within 24 levels of one of those colours; ``None`` unless they are 3% to ``max_share`` of
    the box.
    """
    if not ring.any() or not local.any():
        return None
    codes = (crop // 16).astype(np.int32) @ np.array([256, 16, 1])
    inside = np.bincount(codes[local], minlength=4096) / local.sum()
    around = np.bincount(codes[ring], minlength=4096) / ring.sum()
    inks = np.flatnonzero((inside >= 0.03) & (inside >= 4 * around))
    strokes = np.zeros(local.shape, bool)
    for ink in inks:
        colour = crop[local & (codes == ink)].astype(np.float32).mean(axis=0)
        strokes |= local & (colour_distance(crop, colour) <= 24.0)
    return strokes if 0.03 * local.sum() <= strokes.sum() <= max_share * local.sum() else None
