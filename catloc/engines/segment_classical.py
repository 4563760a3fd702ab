"""Product segmentation for plain supplier backdrops: a border-colour model seeds GrabCut.

Supplier photos are shot on near-uniform backdrops (white, grey, beige paper). The colours
along the image border are taken as the backdrop model; pixels far from every backdrop
colour seed GrabCut as probable product, and GrabCut settles the boundary. Works at
``work_side`` pixels and brings the mask back to full size, where it is re-snapped to
the colour edge within a few pixels of the boundary. No weights, CPU only.
"""
from __future__ import annotations

import cv2
import numpy as np

from catloc.engines.base import EngineLoadError


def _largest_components(mask: np.ndarray, keep_ratio: float, min_area: int) -> np.ndarray:
    """Keep connected components at least ``keep_ratio`` x the largest (and ``min_area`` px)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero((areas >= keep_ratio * areas.max()) & (areas >= min_area)) + 1
    return np.isin(labels, keep)


def _fill_small_holes(mask: np.ndarray, max_hole: int) -> np.ndarray:
    """Fill background holes inside the mask smaller than ``max_hole`` px (keeps bag handles open)."""
    inv = (~mask).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    out = mask.copy()
    h, w = mask.shape
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        touches_border = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches_border and area <= max_hole:
            out[labels == i] = True
    return out


class ClassicalSegmenter:
    name = "classical"

    def __init__(self, work_side: int = 384, border: float = 0.03, clusters: int = 3,
                 iterations: int = 4, min_threshold: float = 10.0):
        if work_side < 64:
            raise EngineLoadError("classical segment: work_side must be >= 64")
        self.work_side = int(work_side)
        self.border = float(border)
        self.clusters = int(clusters)
        self.iterations = int(iterations)
        self.min_threshold = float(min_threshold)

    def _border_strip(self, lab: np.ndarray) -> np.ndarray:
        h, w = lab.shape[:2]
        b = max(2, int(round(self.border * min(h, w))))
        strip = np.concatenate([lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3),
                                lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)])
        return strip

    def _backdrop_model(self, lab: np.ndarray) -> tuple[np.ndarray, float]:
        """Backdrop colours (k-means of the border, Lab) and the foreground distance threshold."""
        strip = self._border_strip(lab)
        k = min(self.clusters, len(strip))
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        _, labels, centres = cv2.kmeans(strip, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
        # drop clusters that hold almost none of the border (stray overlay pixels)
        counts = np.bincount(labels.ravel(), minlength=k)
        centres = centres[counts >= 0.05 * len(strip)]
        border_d = _distance(strip, centres)
        threshold = max(self.min_threshold, 2.5 * float(np.percentile(border_d, 95)))
        return centres, threshold

    def segment(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, self.work_side / max(h, w))
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else image
        sh, sw = small.shape[:2]
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        centres, thr = self._backdrop_model(lab)
        dist = _distance(lab.reshape(-1, 3), centres).reshape(sh, sw)

        # 1. seed: far-from-backdrop pixels, cleaned up morphologically
        seed = (dist > thr).astype(np.uint8)
        k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, k3)
        seed = cv2.morphologyEx(seed, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        seed = _largest_components(seed > 0, keep_ratio=0.08, min_area=max(16, sh * sw // 2000))
        if seed.sum() < 0.002 * sh * sw:
            return np.zeros((h, w), dtype=bool)

        # 2. GrabCut from the seed: sure background far from it, sure product in its core
        gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
        near = cv2.dilate(seed.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))) > 0
        gc[~near & (dist < thr)] = cv2.GC_BGD
        gc[seed] = cv2.GC_PR_FGD
        core = cv2.erode(seed.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
        gc[core & (dist > 1.5 * thr)] = cv2.GC_FGD
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd,
                        self.iterations, cv2.GC_INIT_WITH_MASK)
            mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        except cv2.error:
            mask = seed  # degenerate colour models (e.g. flat images): keep the seed
        mask = _largest_components(mask, keep_ratio=0.08, min_area=max(16, sh * sw // 2000))
        mask = _fill_small_holes(mask, max_hole=max(4, int(0.01 * mask.sum())))

        if scale == 1.0:
            return mask
        # 3. back to full size, re-snapped to the colour edge in a thin band
        full = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
        band_px = max(1, int(round(1.5 / scale)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
        band = (cv2.dilate(full.astype(np.uint8), kernel) > 0) & ~(cv2.erode(full.astype(np.uint8), kernel) > 0)
        ys, xs = np.nonzero(band)
        if len(ys):
            lab_band = cv2.cvtColor(image[ys, xs][None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)
            full[ys, xs] = _distance(lab_band, centres) > thr
        return _fill_small_holes(full, max_hole=max(4, int(0.01 * full.sum())))


def _distance(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean Lab distance of each (N, 3) pixel to its nearest centre."""
    return np.sqrt(((pixels[:, None, :] - centres[None]) ** 2).sum(-1)).min(1)
