"""Body poses as keypoints, and the OpenPose skeleton image a pose ControlNet is given.

A pose is a (18, 2) float32 array of (x, y) pixel positions in :data:`BODY_KEYPOINTS` order
(OpenPose's COCO-18 body order), NaN for a keypoint not known. "Right" and "left" are the
person's own (a person facing the camera has their right shoulder on the image's left).

Three sources of poses, all ending in :func:`draw_openpose`:

- an annotator (the ``pose`` engine, e.g. :mod:`catloc.engines.pose_openpose`);
- :func:`keypoints_from_parsing`: estimated from human-parsing masks (no pose model needed);
- :func:`fit_template`: a category's pose template fitted to a garment's top edge and hem
  (mannequin shots, where there is no person to measure).
"""
from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from catloc.engines.base import Parsing

BODY_KEYPOINTS = ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
                  "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear")
# limbs as 1-based keypoint pairs and the colours of limbs and joints, as drawn by ControlNet's
# OpenPose annotator (controlnet_aux.open_pose.util.draw_bodypose), so the ControlNets see what
# they were trained on
LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13),
         (13, 14), (2, 1), (1, 15), (15, 17), (1, 16), (16, 18))
COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))


def empty_pose() -> np.ndarray:
    """A (18, 2) float32 pose with every keypoint unknown (NaN)."""
    return np.full((len(BODY_KEYPOINTS), 2), np.nan, np.float32)


def draw_openpose(keypoints: np.ndarray, size: tuple[int, int], stick_width: int | None = None) -> np.ndarray:
    """The OpenPose body skeleton image of a pose, as a pose ControlNet expects it.

    Parameters
    ----------
    keypoints : (18, 2) float ndarray
        (x, y) px in :data:`BODY_KEYPOINTS` order; NaN rows are left out (with their limbs).
    size : (int, int)
        (W, H) of the image.
    stick_width : int, optional
        Half-thickness of the limbs (px); the joints are discs of radius ``stick_width``. Default
        4 px per 512 px of the longer side (the annotator's 4 at its 512 px detection size).

    Returns
    -------
    skeleton : (H, W, 3) uint8 ndarray
        Limbs as ellipses in 60% of their colour, joints as discs, on black; with
        ``stick_width=4`` byte-equal to ``controlnet_aux``'s ``draw_bodypose``.
    """
    width, height = size
    if stick_width is None:
        stick_width = max(1, round(4 * max(width, height) / 512))
    canvas = np.zeros((height, width, 3), np.uint8)
    # the annotator's own arithmetic: coordinates normalised to 0..1, then scaled back
    norm = np.asarray(keypoints, np.float64) / np.array([float(width), float(height)])
    for (a, b), colour in zip(LIMBS, COLOURS):
        p, q = norm[a - 1], norm[b - 1]
        if np.isnan(p).any() or np.isnan(q).any():
            continue
        xs, ys = np.array([p[0], q[0]]) * float(width), np.array([p[1], q[1]]) * float(height)
        length = ((ys[0] - ys[1]) ** 2 + (xs[0] - xs[1]) ** 2) ** 0.5
        angle = math.degrees(math.atan2(ys[0] - ys[1], xs[0] - xs[1]))
        polygon = cv2.ellipse2Poly((int(np.mean(xs)), int(np.mean(ys))), (int(length / 2), stick_width),
                                   int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, polygon, [int(float(c) * 0.6) for c in colour])
    for point, colour in zip(norm, COLOURS):
        if np.isnan(point).any():
            continue
        cv2.circle(canvas, (int(point[0] * width), int(point[1] * height)), stick_width, colour, thickness=-1)
    return canvas


def _row_extent(mask: np.ndarray, y: float) -> tuple[float, float] | None:
    """(x_min, x_max) of ``mask`` on row ``y`` (rounded, clipped); None if the row is empty."""
    row = mask[int(np.clip(round(y), 0, mask.shape[0] - 1))]
    xs = np.flatnonzero(row)
    return (float(xs[0]), float(xs[-1])) if len(xs) else None


def _farthest(mask: np.ndarray, origin: np.ndarray) -> np.ndarray | None:
    """The pixel (x, y) of ``mask`` farthest from ``origin``; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0 or np.isnan(origin).any():
        return None
    i = int(np.argmax((xs - origin[0]) ** 2 + (ys - origin[1]) ** 2))
    return np.array([xs[i], ys[i]], np.float32)


def _head(pose: np.ndarray, parsing: Parsing) -> None:
    """Nose, eyes and ears from the face mask (in place): the face's centre, and points at
    about a quarter and a half of its width either side."""
    face = parsing.mask("face")
    ys, xs = np.nonzero(face)
    if len(xs) == 0:
        return
    cx, cy = float(xs.mean()), float(ys.mean())
    half = (float(xs.max()) - float(xs.min()) + 1) / 2
    index = BODY_KEYPOINTS.index
    pose[index("nose")] = (cx, cy + 0.1 * half)
    pose[index("r_eye")], pose[index("l_eye")] = (cx - 0.4 * half, cy - 0.2 * half), (cx + 0.4 * half, cy - 0.2 * half)
    pose[index("r_ear")], pose[index("l_ear")] = (cx - 0.95 * half, cy), (cx + 0.95 * half, cy)


def _torso(pose: np.ndarray, parsing: Parsing) -> np.ndarray | None:
    """Neck, shoulders and hips from the torso's outline (in place). Returns the body without
    head and arms (the mask the hips were measured on), or None when there is no torso."""
    torso = parsing.mask("upper_clothes", "dress", "coat", "torso_skin")
    body = parsing.mask("person") & ~parsing.mask("hair", "face", "hat", "arms", "glove")
    ys = np.flatnonzero(torso.any(axis=1))
    if len(ys) == 0:
        return None
    top, bottom = float(ys[0]), float(ys[-1])
    index = BODY_KEYPOINTS.index
    shoulder_y = top + 0.08 * (bottom - top)
    extent = _row_extent(torso & ~parsing.mask("arms"), shoulder_y)
    if extent is not None:
        inset = 0.1 * (extent[1] - extent[0])
        pose[index("r_shoulder")] = (extent[0] + inset, shoulder_y)
        pose[index("l_shoulder")] = (extent[1] - inset, shoulder_y)
        pose[index("neck")] = ((extent[0] + extent[1]) / 2, top)
    legs_top = np.flatnonzero(parsing.mask("pants", "skirt", "legs").any(axis=1))
    hip_y = float(legs_top[0]) if len(legs_top) and legs_top[0] > shoulder_y else top + 0.62 * (bottom - top)
    extent = _row_extent(body, hip_y)
    if extent is not None:
        inset = 0.22 * (extent[1] - extent[0])
        pose[index("r_hip")], pose[index("l_hip")] = (extent[0] + inset, hip_y), (extent[1] - inset, hip_y)
    return body


def _limbs(pose: np.ndarray, parsing: Parsing, body: np.ndarray) -> None:
    """Wrists and ankles as the arm's / leg's farthest pixel from its shoulder / hip, elbows and
    knees half way (in place). Sides are told apart by the body's centre line."""
    index = BODY_KEYPOINTS.index
    centre = np.nanmean(pose[[index("r_shoulder"), index("l_shoulder")], 0])
    if np.isnan(centre):
        return
    columns = np.arange(body.shape[1])[None, :]
    arms = parsing.mask("arms", "glove")
    legs = parsing.mask("legs", "pants", "left_shoe", "right_shoe", "sock")
    for side, image_side in (("r", columns < centre), ("l", columns >= centre)):
        for root, mid, end, limb in (("shoulder", "elbow", "wrist", arms), ("hip", "knee", "ankle", legs)):
            origin = pose[index(f"{side}_{root}")]
            tip = _farthest(limb & image_side, origin)
            if tip is None or np.hypot(*(tip - origin)) < 2:
                continue
            pose[index(f"{side}_{end}")] = tip
            pose[index(f"{side}_{mid}")] = (origin + tip) / 2


def keypoints_from_parsing(parsing: Parsing) -> np.ndarray:
    """A body pose estimated from human-parsing masks, without a pose model.

    Head points come from the face mask; the shoulders from the torso (upper clothes, dress, coat,
    torso skin, arms left out) 8% of its height below its top, 10% in from its sides, the neck
    between them on its top row; the hips from the top of trousers/skirt/legs (else 62% down the
    torso), 22% in from the sides of the body without head and arms;
    wrists and ankles are the arm and leg pixels farthest from their shoulder and hip, elbows and
    knees half way. A person is assumed to face the camera. Good enough to pose a ControlNet; not
    a pose estimator.

    Parameters
    ----------
    parsing : Parsing
        The photo's human parsing.

    Returns
    -------
    keypoints : (18, 2) float32 ndarray
        (x, y) px in :data:`BODY_KEYPOINTS` order, NaN where the parts are not seen.
    """
    pose = empty_pose()
    _head(pose, parsing)
    body = _torso(pose, parsing)
    if body is not None:
        _limbs(pose, parsing, body)
    return pose


def garment_frame(garment: np.ndarray) -> tuple[float, float, float, float]:
    """(centre x, top y, hem y, top width) of a garment mask, in px: the frame pose templates
    are fitted to. The top edge is measured 5% of the garment's height below its first row, so a
    collar or hanger loop does not count as its width; its width is the distance between its end
    pixels, its centre half way between them."""
    ys = np.flatnonzero(garment.any(axis=1))
    if len(ys) == 0:
        raise ValueError("empty garment mask: no frame to fit a pose to")
    top, hem = float(ys[0]), float(ys[-1])
    extent = _row_extent(garment, top + 0.05 * (hem - top)) or (0.0, float(garment.shape[1] - 1))
    return (extent[0] + extent[1]) / 2, top, hem, extent[1] - extent[0]


def fit_template(template: dict[str, Any], garment: np.ndarray) -> np.ndarray:
    """A category's pose template placed on a garment.

    Parameters
    ----------
    template : dict
        Keypoint name (of :data:`BODY_KEYPOINTS`) -> ``[u, v]``: ``u`` across the garment's top
        edge (-0.5 and 0.5 at its ends; the person's right is the image's left, so negative),
        ``v`` down the garment (0 at its top edge: shoulders for tops and dresses, the waist for
        trousers and skirts; 1 at its hem). Keypoints not listed are unknown.
    garment : (H, W) bool ndarray
        The garment (the pixels kept).

    Returns
    -------
    keypoints : (18, 2) float32 ndarray
        (x, y) px = (centre + u * top width, top + v * (hem - top)), see :func:`garment_frame`.
    """
    cx, top, hem, width = garment_frame(garment)
    pose = empty_pose()
    for name, (u, v) in template.items():
        pose[BODY_KEYPOINTS.index(name)] = (cx + float(u) * width, top + float(v) * (hem - top))
    return pose


def check_template(name: str, template: Any) -> list[str]:
    """Problems with one pose template (empty if it is valid), each naming the template and key."""
    if not isinstance(template, dict) or not template:
        return [f"pose template {name!r} must map keypoint names to [u, v]"]
    problems = []
    for key, value in template.items():
        if key not in BODY_KEYPOINTS:
            problems.append(f"pose template {name!r}: unknown keypoint {key!r} (known: {', '.join(BODY_KEYPOINTS)})")
        elif (not isinstance(value, (list, tuple)) or len(value) != 2
              or not all(isinstance(c, (int, float)) and math.isfinite(c) for c in value)):
            problems.append(f"pose template {name!r}: {key} must be [u, v] numbers, got {value!r}")
    return problems
