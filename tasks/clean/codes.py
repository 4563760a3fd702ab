"""QR codes and barcodes: found with OpenCV's detectors, kept only if they look like a code, and
masked with their quiet zone, plate and card (codes are always removed)."""
from __future__ import annotations

import cv2
import numpy as np

from catloc.imaging import bbox_window, dilate, polygon_mask
from catloc.tasks.clean.plates import find_plate, grow_plate


def detect_codes(image: np.ndarray, work_side: int = 1024) -> list[tuple[str, np.ndarray]]:
    """``(kind, corners (4, 2))`` of the QR codes and barcodes OpenCV finds in an RGB image.

    QR codes are looked for with OpenCV's ArUco-based detector (finder patterns; robust on busy
    photos) and then its classic one, on a copy at most ``work_side`` px long, corners brought back to
    full size. OpenCV's detectors now and then return a large quadrilateral over plain fabric; a
    finding is kept only if it looks like a code (:func:`looks_like_code`), since removing it repaints
    all of it. A barcode must also decode: stripes on a garment look like bars to the detector.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, work_side / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    found: list[tuple[str, np.ndarray]] = []
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        for quad in _qr_quads(detector, small):
            quad = quad / scale
            if not looks_like_code(gray, quad, "qr"):
                quad = _redetect_qr(gray, quad, cv2.QRCodeDetector())  # a corner off: look again around it
            if quad is not None and not any(_overlap(quad, q) for _, q in found):
                found.append(("qr", quad))
    try:
        ok, decoded, points, _ = cv2.barcode.BarcodeDetector().detectAndDecodeMulti(gray)
    except cv2.error:
        ok, decoded, points = False, [], None
    if ok and points is not None:
        for text, p in zip(decoded, points):
            quad = np.asarray(p, np.float32).reshape(-1, 2)
            if text and not any(_overlap(quad, q) for _, q in found) and looks_like_code(gray, quad, "barcode"):
                found.append(("barcode", quad))
    return found


def _qr_quads(detector, gray: np.ndarray) -> list[np.ndarray]:
    """The (4, 2) float32 corner sets ``detector`` (a QR detector of OpenCV) finds in ``gray``."""
    try:
        ok, points = detector.detectMulti(gray)
    except cv2.error:
        ok, points = False, None
    if not ok or points is None:
        ok, points = detector.detect(gray)
        points = None if points is None else [points]
    return [np.asarray(p, np.float32).reshape(-1, 2) for p in points] if ok and points is not None else []


def _redetect_qr(gray: np.ndarray, quad: np.ndarray, detector: cv2.QRCodeDetector) -> np.ndarray | None:
    """The QR code near a malformed finding, detected again on a crop around it, if any."""
    h, w = gray.shape
    x0, y0 = np.maximum(quad.min(0) - 16, 0).astype(int)
    x1, y1 = np.minimum(quad.max(0) + 16, [w, h]).astype(int)
    if (x1 - x0) * (y1 - y0) > 0.25 * h * w or min(x1 - x0, y1 - y0) < 21:
        return None  # a finding that large is not a code with one corner off
    ok, points = detector.detect(np.ascontiguousarray(gray[y0:y1, x0:x1]))
    if not ok or points is None:
        return None
    again = np.asarray(points, np.float32).reshape(-1, 2) + np.float32([x0, y0])
    return again if looks_like_code(gray, again, "qr") else None


def looks_like_code(gray: np.ndarray, quad: np.ndarray, kind: str) -> bool:
    """Whether the quadrilateral ``quad`` of ``gray`` holds a code: a convex quadrilateral (about
    square for a QR code) whose content, straightened and binarised, is a dense black-and-white
    pattern (modules or bars), not a plain surface."""
    if quad.shape != (4, 2) or not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return False
    sides = np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)
    if sides.min() < 12 or (kind == "qr" and sides.max() > 1.6 * sides.min()):
        return False
    side = 96
    square = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    patch = cv2.warpPerspective(gray, cv2.getPerspectiveTransform(quad.astype(np.float32), square), (side, side))
    if float(patch.std()) < 40:  # a code is black on white: strong contrast throughout
        return False
    _, binary = cv2.threshold(patch, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = 1.0 - float(binary.mean())
    across = max(float(np.abs(np.diff(binary.astype(np.int8), axis=1)).mean()),
                 float(np.abs(np.diff(binary.astype(np.int8), axis=0)).mean()))
    return 0.2 <= dark <= 0.8 and across >= 0.08  # modules/bars: a change every ~12 px at least


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the bounding boxes of two (N, 2) polygons overlap."""
    (ax0, ay0), (ax1, ay1) = a.min(0), a.max(0)
    (bx0, by0), (bx1, by1) = b.min(0), b.max(0)
    return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1


def qr_plate_mask(image: np.ndarray, quad: np.ndarray, max_grow: float = 0.5) -> np.ndarray:
    """The code plus its quiet zone and the plain plate it is printed on.

    The detector returns the code's corners; the white quiet zone and any plate around it
    belong to the overlay too: the mask grows from the code while the colour found just
    outside it continues (at most ``max_grow`` x the code's side).
    """
    code = polygon_mask(image.shape[:2], quad)
    side = float(np.sqrt(max(1.0, code.sum())))
    max_px = int(max_grow * side)
    win = bbox_window(code, max_px + 3)
    if win is None:
        return code
    local = code[win]
    first = dilate(local, 2) & ~local
    if not first.any():
        return code
    colour = np.median(image[win][first].astype(np.float32), axis=0)
    out = np.zeros_like(code)
    noisy = max(3, int(0.04 * side))  # the detected corners may cut a module or two off the code
    out[win] = grow_plate(image[win], local, colour, max_px=max_px, noisy_rings=noisy) | local
    return out


def code_mask(image: np.ndarray, quad: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """Everything of a code that goes: the code with its quiet zone and plate
    (:func:`qr_plate_mask`), and the card it is printed on if it has one (a plate of its quiet
    zone's colour, :func:`~tasks.clean.plates.find_plate`). Returns a bool (H, W) mask."""
    code = qr_plate_mask(image, quad)
    inside = polygon_mask(image.shape[:2], quad)
    quiet = dilate(inside, 2) & ~inside
    card = find_plate(image, code, backdrop, colour=np.median(image[quiet].astype(np.float32), axis=0))
    return code if card is None else code | card
