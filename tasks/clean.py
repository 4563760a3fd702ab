"""Stage 2, clean: remove overlaid supplier text and QR codes, keep the product's own text.

Steps (``remove_overlay_text``):

1. find text with the OCR engine and QR codes with OpenCV's detector;
2. locate the product on a copy with *all* findings painted out, so promo stickers and
   banners cannot pull the product mask towards them;
3. decide per text region: a region lying inside the product (``product_text_inside``
   share of its area) is product text (brand label, print) and is kept under the
   ``keep_product_text`` policy; everything else, and every QR code, is removed;
4. inpaint the union of removed regions, dilated by ``dilate_px``; pixels outside that mask
   are bit-for-bit the source's.

Every decision is returned in the report, so reviewers can see what was found, kept and removed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE

from catloc import storage
from catloc.config import EngineSpec
from catloc.engines import load_engine
from catloc.engines.base import Inpainter, Segmenter, TextDetector, TextRegion

POLICIES = ("keep_product_text", "remove_all")


@dataclass
class CleanResult:
    cleaned: np.ndarray
    removed_mask: np.ndarray            # bool (H, W): the pixels that were inpainted
    product_mask: np.ndarray            # bool (H, W): product located on the painted-out copy
    report: dict[str, Any] = field(default_factory=dict)


def detect_qr_codes(image: np.ndarray) -> list[np.ndarray]:
    """Corner polygons (4, 2) of the QR codes OpenCV finds in an RGB image."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    detector = cv2.QRCodeDetector()
    found: list[np.ndarray] = []
    try:
        ok, points = detector.detectMulti(gray)
    except cv2.error:
        ok, points = False, None
    if ok and points is not None:
        found.extend(np.asarray(p, np.float32).reshape(-1, 2) for p in points)
    if not found:
        ok, points = detector.detect(gray)
        if ok and points is not None:
            found.append(np.asarray(points, np.float32).reshape(-1, 2))
    return found


def qr_plate_mask(image: np.ndarray, quad: np.ndarray, max_grow: float = 0.5, tolerance: float = 14.0) -> np.ndarray:
    """The QR code plus its quiet zone and the plain plate it is printed on.

    The detector returns the code's corners; the white quiet zone and any plate around it
    belong to the overlay too. The mask grows out from the code one pixel ring at a time
    while (almost) every ring pixel keeps the colour found just outside the code, so it
    stops at the plate's edge or where it would touch the product; at most ``max_grow`` x
    the code's side.
    """
    h, w = image.shape[:2]
    code = polygon_mask((h, w), quad)
    side = float(np.sqrt(max(1.0, code.sum())))
    dist = cv2.distanceTransform((~code).astype(np.uint8), cv2.DIST_L2, 3)
    first = (dist > 0) & (dist <= 2)
    if not first.any():
        return code
    plate_colour = np.median(image[first].astype(np.float32), axis=0)
    reach = 0
    for k in range(2, int(max_grow * side) + 1):
        ring = (dist > k - 1) & (dist <= k)
        if not ring.any():
            break
        close = np.linalg.norm(image[ring].astype(np.float32) - plate_colour, axis=-1) < tolerance
        if close.mean() < 0.97:
            break
        reach = k
    return dist <= max(reach, 1)


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray, grow_px: int = 0) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    if grow_px > 0:
        k = 2 * grow_px + 1
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return mask.astype(bool)


def remove_overlay_text(image: np.ndarray, ocr: TextDetector, inpainter: Inpainter, segmenter: Segmenter, *,
                        policy: str = "keep_product_text", product_text_inside: float = 0.85,
                        dilate_px: int = 4, remove_qr: bool = True) -> CleanResult:
    """Remove supplier overlays from ``image`` (RGB uint8); see the module docstring."""
    if policy not in POLICIES:
        raise ValueError(f"unknown clean policy {policy!r} (known: {', '.join(POLICIES)})")
    shape = image.shape[:2]

    # 1. what is there
    texts: list[TextRegion] = ocr.detect(image)
    qr_codes = detect_qr_codes(image) if remove_qr else []
    text_masks = [polygon_mask(shape, t.polygon) for t in texts]
    qr_masks = [qr_plate_mask(image, q) for q in qr_codes]

    # 2. the product, located with every finding painted out
    everything = np.zeros(shape, bool)
    for m in text_masks + qr_masks:
        everything |= m
    painted = inpainter.inpaint(image, _dilate(everything, dilate_px)) if everything.any() else image
    product = segmenter.segment(painted)

    # 3. decide
    remove = np.zeros(shape, bool)
    decisions = []
    for region, mask in zip(texts, text_masks):
        area = max(1, int(mask.sum()))
        inside = float((mask & product).sum()) / area
        keep = policy == "keep_product_text" and inside >= product_text_inside
        if not keep:
            remove |= mask
        decisions.append({**region.to_dict(), "inside_product": round(inside, 3),
                          "decision": "kept" if keep else "removed"})
    for mask in qr_masks:
        remove |= mask

    # 4. inpaint only the removed regions; everything else stays the source's pixels
    removed_mask = _dilate(remove, dilate_px)
    cleaned = inpainter.inpaint(image, removed_mask) if removed_mask.any() else image.copy()
    cleaned = np.where(removed_mask[..., None], cleaned, image)
    report = {
        "policy": policy,
        "text": decisions,
        "qr_codes": [[[round(float(x), 1), round(float(y), 1)] for x, y in q] for q in qr_codes],
        "text_found": len(decisions),
        "text_removed": sum(d["decision"] == "removed" for d in decisions),
        "text_kept": sum(d["decision"] == "kept" for d in decisions),
        "qr_removed": len(qr_codes),
        "inpainted_share": round(float(removed_mask.mean()), 5),
    }
    return CleanResult(cleaned=cleaned, removed_mask=removed_mask, product_mask=product, report=report)


def _dilate(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0 or not mask.any():
        return mask
    k = 2 * px + 1
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


@task(name="clean", cache_policy=NO_CACHE)
def clean_task(source_uri: str, sku_dir: str, engines: dict[str, EngineSpec], clean_cfg: dict[str, Any],
               policy: str) -> dict[str, Any]:
    """Clean one source image; store ``cleaned.png``, ``removed_mask.png`` and ``clean.json``."""
    result = remove_overlay_text(
        storage.load_rgb(source_uri),
        load_engine("ocr", engines["ocr"]), load_engine("inpaint", engines["inpaint"]),
        load_engine("segment", engines["segment"]),
        policy=policy, product_text_inside=float(clean_cfg.get("product_text_inside", 0.85)),
        dilate_px=int(clean_cfg.get("dilate_px", 4)), remove_qr=bool(clean_cfg.get("remove_qr", True)))
    cleaned_uri = storage.save_image(storage.join(sku_dir, "cleaned.png"), result.cleaned)
    storage.save_image(storage.join(sku_dir, "removed_mask.png"), result.removed_mask.astype(np.uint8) * 255)
    storage.write_json(storage.join(sku_dir, "clean.json"), result.report)
    return {"cleaned_image": cleaned_uri, "report": result.report}
