"""How a text is rendered: composited over the photo (an overlay) or printed on the product.

A supplier's overlay is drawn digitally over the finished photo: one flat ink colour, edges as crisp
as the font's anti-aliasing, a level baseline. A print on fabric or packaging was photographed: its ink
takes the shading of folds and the texture of the surface, its edges are softened by the lens and
demosaicing, and it follows the garment's tilt. :func:`rendering_cues` measures these on one text box;
:func:`looks_composited` says whether all of them point to an overlay.

The strokes are the pixels of the box that differ from a median of the photo wider than a stroke (the
surface the text lies on, estimated locally, so a box half on a garment and half on the backdrop works
too); the stroke cores are the strokes shrunk by 1 px, away from the anti-aliased rim.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from catloc.imaging import bbox_window, colour_distance, dilate, erode


@dataclass(frozen=True)
class RenderingCues:
    """Measures of one text box (``None`` fields: not measurable, e.g. too few stroke pixels)."""

    ink_spread: float | None
    """Spread of the ink's lightness over the stroke cores: 1.4826 x median absolute deviation of L*
    (CIELAB, 0..100), relative to nothing: a flat digital ink is 0-2, a photographed print 3 or more."""
    edge_px: float | None
    """Width (px) of the ink's rim: pixels between 25% and 75% of the way from surface to ink,
    per pixel of stroke outline. Anti-aliased digital text: about 0.2-0.5 px; a photographed print more."""
    tilt_deg: float
    """Angle of the box's baseline to the horizontal, degrees (0 = level)."""
    contrast: float
    """Median colour distance between the ink and the surface under it (RGB units)."""

    def to_dict(self) -> dict:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def baseline_tilt(polygon: np.ndarray) -> float:
    """Angle (degrees, 0..90) of the longer side of the minimum-area rectangle around ``polygon`` ((N, 2) px)
    to the horizontal."""
    (_, _), (w, h), angle = cv2.minAreaRect(np.asarray(polygon, np.float32).reshape(-1, 1, 2))
    angle = float(angle) if w >= h else float(angle) - 90.0
    angle = abs(angle) % 180.0
    return min(angle, 180.0 - angle)


def stroke_split(crop: np.ndarray, local: np.ndarray, threshold: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """(strokes, surface) of the text box ``local`` (bool (h, w)) in ``crop`` (uint8 (h, w, 3), the box
    with a margin). The ink is told apart in the channel where it stands out most from a ring around
    the box (its darkest or lightest values against the ring's): that channel closed (darker ink) or
    opened (lighter ink) with a disc a third of the box's height loses the strokes, and the strokes
    (bool (h, w)) are the box's pixels more than ``threshold`` levels from it there; the surface
    (uint8 (h, w, 3)) is ``crop`` with the strokes (grown by 1 px) filled in from around them."""
    height = cv2.boundingRect(local.view(np.uint8))[3]
    ring = dilate(local, max(3, height // 4)) & ~local
    k = max(3, (height // 3) | 1)
    best = (0.0, 0, cv2.MORPH_CLOSE)
    for c in range(3):
        around = crop[..., c][ring] if ring.any() else crop[..., c][local]
        inside = crop[..., c][local]
        darker = float(np.percentile(around, 5)) - float(np.percentile(inside, 5))
        lighter = float(np.percentile(inside, 95)) - float(np.percentile(around, 95))
        best = max(best, (darker, c, cv2.MORPH_CLOSE), (lighter, c, cv2.MORPH_OPEN), key=lambda b: b[0])
    _, c, op = best
    channel = np.ascontiguousarray(crop[..., c])
    smooth = cv2.morphologyEx(channel, op, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    strokes = (np.abs(channel.astype(np.int16) - smooth) > threshold) & local
    surface = cv2.inpaint(np.ascontiguousarray(crop), dilate(strokes, 1).view(np.uint8), 3, cv2.INPAINT_TELEA) \
        if strokes.any() else crop.copy()
    return strokes, surface


def rendering_cues(image: np.ndarray, box: np.ndarray, polygon: np.ndarray) -> RenderingCues:
    """The :class:`RenderingCues` of the text in ``box`` (bool (H, W), its pixels) of ``image`` (RGB uint8);
    ``polygon`` is its OCR polygon ((N, 2) px).

    The ink's colour is the median of the stroke pixels farthest from the surface (at least 90% of the
    95th percentile of that distance: solid ink even in thin strokes); each pixel's place between
    surface and ink is its projection on ``ink - surface`` (0 = surface, 1 = ink). The ink spread is
    measured over the solid pixels (0.85 of the way or more), after taking out what a translucent
    overlay would show of the surface (a straight-line fit of their lightness on the surface's).
    An outlined text's second ink (:func:`second_ink`: the fill inside a lighter or darker outline) lies
    between surface and ink all over: it is left out of the rim, and the spread is the larger of the
    two inks'.
    """
    tilt = baseline_tilt(polygon)
    height = max(4, cv2.boundingRect(box.view(np.uint8))[3])
    win = bbox_window(box, min(40, height))
    if win is None:
        return RenderingCues(None, None, tilt, 0.0)
    crop, local = image[win], box[win]
    strokes, surface = stroke_split(crop, local)
    if strokes.sum() < 12 or strokes.sum() > 0.7 * local.sum():
        return RenderingCues(None, None, tilt, 0.0)
    far = colour_distance(crop, surface)
    solid_ink = strokes & (far >= 0.9 * np.percentile(far[strokes], 95))
    ink = np.median(crop[solid_ink].astype(np.float32), axis=0)
    span = ink - surface.astype(np.float32)
    place = ((crop.astype(np.float32) - surface) * span).sum(-1) / np.maximum((span ** 2).sum(-1), 1.0)
    contrast = float(np.median(colour_distance(surface[solid_ink], ink)))
    solid = strokes & (place >= 0.85)
    if solid.sum() < 12 or contrast < 40:
        return RenderingCues(None, None, tilt, contrast)
    outline = int((strokes & ~erode(strokes, 1)).sum())
    band = local & (place > 0.25) & (place < 0.75)
    other = second_ink(crop, strokes & band, contrast, int(solid.sum()))
    spread = ink_spread(crop, surface, solid)
    if other is not None:  # an outlined text: the other ink is no rim, and must be flat too
        band &= ~other
        spread = max(spread, ink_spread(crop, surface, erode(other, 1) if erode(other, 1).sum() >= 12 else other))
    return RenderingCues(spread, float(band.sum()) / max(outline, 1), tilt, contrast)


def second_ink(crop: np.ndarray, between: np.ndarray, contrast: float, solid_px: int) -> np.ndarray | None:
    """The pixels (bool (h, w)) of a second flat ink among the stroke pixels ``between`` the surface and
    the ink (a quarter to three quarters of the way), or ``None``.

    An outlined overlay (a fill with a contrasting outline, as suppliers draw them to stand out on any
    photo) has two flat inks: the one farthest from the surface is the ink, and the other lies
    "between" them. Told from an edge that shades from surface to ink (a soft print: a rim 1-2 px
    wide) by its body: the ``between`` pixels shrunk by 1 px are at least 12 and a twentieth of the
    ``solid_px`` of the ink, and 70% of them lie within a tenth of ``contrast`` (the ink's colour
    distance from the surface; at least 12) of their median colour. The second ink is the
    ``between`` pixels that close to it."""
    core = erode(between, 1)
    if core.sum() < max(12, solid_px // 20):
        return None
    colour = np.median(crop[core].astype(np.float32), axis=0)
    reach = max(12.0, 0.1 * contrast)
    if (colour_distance(crop[core], colour) <= reach).mean() < 0.7:
        return None
    return between & (colour_distance(crop, colour) <= reach)


def ink_spread(crop: np.ndarray, surface: np.ndarray, solid: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the ``solid`` pixels' lightness (L*, 0..100), after a
    least-squares line of it on the surface's lightness when the surface varies (a translucent overlay
    shows the surface through it by exactly such a line; a print's shading and grain do not follow it)."""
    light = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)[..., 0][solid].astype(np.float64) * (100.0 / 255.0)
    under = cv2.cvtColor(surface, cv2.COLOR_RGB2LAB)[..., 0][solid].astype(np.float64) * (100.0 / 255.0)
    if under.std() > 2.0:
        slope, offset = np.polyfit(under, light, 1)
        light = light - (slope * under + offset)
    return float(1.4826 * np.median(np.abs(light - np.median(light))))


def looks_composited(cues: RenderingCues, max_spread: float, max_edge_px: float, max_tilt_deg: float) -> bool:
    """Whether every measurable cue points to an overlay: flat ink (``ink_spread`` <= ``max_spread``),
    crisp edges (``edge_px`` <= ``max_edge_px``) and a level baseline (``tilt_deg`` <= ``max_tilt_deg``).
    False when ink or edges cannot be measured (keep when unsure)."""
    if cues.ink_spread is None or cues.edge_px is None:
        return False
    return cues.ink_spread <= max_spread and cues.edge_px <= max_edge_px and cues.tilt_deg <= max_tilt_deg
