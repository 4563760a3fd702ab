"""Product segmentation for plain supplier backdrops: a border-colour model seeds GrabCut.

Supplier photos are shot on near-uniform backdrops (white, grey, beige paper). Steps of
:meth:`ClassicalSegmenter.segment`, at ``work_side`` pixels:

1. *backdrop model*: k-means of the colours along the image border; a colour counts as backdrop
   only if it runs along at least two sides (a model's legs or a garment cut by the bottom edge
   are on one side only, and are product);
2. *outside*: the pixels within the backdrop's own noise of a backdrop colour that connect to
   the border. It stops at the product's outline even where the product is nearly the backdrop's
   colour (a white T-shirt on white paper);
3. *seed*: what is far from every backdrop colour, or not part of the outside;
4. GrabCut from that seed: sure backdrop where the outside lies far from the seed, sure
   product in the seed's core and inside the outline where the colour differs from the backdrop
   at all (GrabCut's colour model cannot tell white cotton from white paper);
5. back to full size, where the mask edge is re-snapped to the colour edge in a thin band.

Everything is deterministic (k-means starts from lightness quantiles). No weights, CPU only.
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
    h, w = mask.shape
    x, y, bw, bh, area = (stats[1:, i] for i in range(5))
    touches_border = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    holes = np.flatnonzero(~touches_border & (area <= max_hole)) + 1
    return mask | np.isin(labels, holes) if len(holes) else mask.copy()


class ClassicalSegmenter:
    name = "classical"

    def __init__(self, work_side: int = 384, border: float = 0.03, clusters: int = 3,
                 iterations: int = 4, min_threshold: float = 10.0, near_backdrop: float = 3.0):
        if work_side < 64:
            raise EngineLoadError("classical segment: work_side must be >= 64")
        self.work_side = int(work_side)
        self.border = float(border)
        self.clusters = int(clusters)
        self.iterations = int(iterations)
        self.min_threshold = float(min_threshold)
        self.near_backdrop = float(near_backdrop)

    def _backdrop_model(self, lab: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Backdrop colours (Lab), the distance beyond which a pixel is surely not backdrop, and
        how far the backdrop's own pixels stray from those colours (its noise)."""
        h, w = lab.shape[:2]
        b = max(2, int(round(self.border * min(h, w))))
        sides = [lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3), lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)]
        strip = np.concatenate(sides)
        k = min(self.clusters, len(strip))
        # deterministic start: clusters seeded by lightness quantiles
        ranks = np.argsort(np.argsort(strip[:, 0], kind="stable"), kind="stable")
        labels = (ranks * k // len(strip)).astype(np.int32).reshape(-1, 1)
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        _, labels, centres = cv2.kmeans(strip, k, labels, criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
        labels = labels.ravel()
        # a backdrop colour holds a real share of the border, on at least two sides
        bounds = np.cumsum([0] + [len(x) for x in sides])
        keep = []
        for c in range(k):
            on = labels == c
            sides_with = sum(on[bounds[i]:bounds[i + 1]].mean() >= 0.1 for i in range(4))
            if on.mean() >= 0.05 and sides_with >= 2:
                keep.append(c)
        if not keep:  # no colour runs around the photo: fall back to the commonest
            keep = [int(np.bincount(labels, minlength=k).argmax())]
        centres = centres[keep]
        border_d = _distance(strip[np.isin(labels, keep)], centres)
        noise = 2.5 * float(np.percentile(border_d, 95))
        return centres, max(self.min_threshold, noise), max(1.0, noise)

    def _outside(self, dist: np.ndarray, noise: float) -> np.ndarray:
        """Backdrop reached from the border: the pixels within the backdrop's own noise of a
        backdrop colour (at least ``near_backdrop``) that connect to the image border."""
        close = (dist <= max(self.near_backdrop, noise)).astype(np.uint8)
        _, labels = cv2.connectedComponents(close, connectivity=4)
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        return np.isin(labels, edge[edge > 0])

    def segment(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(1.0, self.work_side / max(h, w))
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else image
        sh, sw = small.shape[:2]
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        # 1. backdrop colours
        centres, thr, noise = self._backdrop_model(lab)
        dist = _distance(lab.reshape(-1, 3), centres).reshape(sh, sw)
        # 2. backdrop reached from the border
        outside = self._outside(dist, noise)

        # 3. seed: far from the backdrop colours or not reached from the border; cleaned up
        seed = ((dist > thr) | ~outside).astype(np.uint8)
        k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, k3)
        seed = cv2.morphologyEx(seed, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        seed = _largest_components(seed > 0, keep_ratio=0.08, min_area=max(16, sh * sw // 2000))
        if seed.sum() < 0.002 * sh * sw:
            return np.zeros((h, w), dtype=bool)

        # 4. GrabCut from the seed: sure background far from it, sure product in its core
        gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
        near = cv2.dilate(seed.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))) > 0
        gc[~near & outside] = cv2.GC_BGD
        gc[seed] = cv2.GC_PR_FGD
        core = cv2.erode(seed.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
        gc[core & (dist > 1.5 * thr)] = cv2.GC_FGD
        # enclosed by an outline and unlike the backdrop, however slightly: a white garment on white
        # paper, whose colours GrabCut cannot tell from the paper's
        enclosed = cv2.erode((~outside).view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))) > 0
        gc[seed & enclosed & (dist > noise)] = cv2.GC_FGD
        # GrabCut only decides the undecided: it runs on their box plus a margin of sure backdrop
        x, y, bw, bh = cv2.boundingRect((gc != cv2.GC_BGD).view(np.uint8))
        m = 12
        ys, xs = slice(max(0, y - m), min(sh, y + bh + m)), slice(max(0, x - m), min(sw, x + bw + m))
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            crop = np.ascontiguousarray(gc[ys, xs])
            cv2.setRNGSeed(0)  # GrabCut seeds its colour models with OpenCV's (per-thread) RNG
            cv2.grabCut(np.ascontiguousarray(small[ys, xs, ::-1]), crop, None, bgd, fgd,
                        self.iterations, cv2.GC_INIT_WITH_MASK)
            gc[ys, xs] = crop
            mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        except cv2.error:
            mask = seed  # degenerate colour models (e.g. flat images): keep the seed
        mask = _largest_components(mask, keep_ratio=0.08, min_area=max(16, sh * sw // 2000))
        mask = _fill_small_holes(mask, max_hole=max(4, int(0.01 * mask.sum())))

        if scale == 1.0:
            return mask
        # 5. back to full size, re-snapped to the colour edge in a thin band: surely product
        #    beyond the threshold, surely backdrop within the backdrop's own noise
        full = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
        band_px = max(1, int(round(1.5 / scale)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
        band = (cv2.dilate(full.astype(np.uint8), kernel) > 0) & ~(cv2.erode(full.astype(np.uint8), kernel) > 0)
        ys, xs = np.nonzero(band)
        if len(ys):
            lab_band = cv2.cvtColor(image[ys, xs][None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)
            d = _distance(lab_band, centres)
            full[ys, xs] = np.where(d > thr, True, np.where(d <= noise, False, full[ys, xs]))
        return _fill_small_holes(full, max_hole=max(4, int(0.01 * full.sum())))


def _distance(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean Lab distance of each (N, 3) pixel to its nearest centre."""
    return np.sqrt(((pixels[:, None, :] - centres[None]) ** 2).sum(-1)).min(1)
