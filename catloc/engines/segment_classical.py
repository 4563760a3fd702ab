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
from catloc.imaging import (bbox_window, border_sides, connected_to_border, dilate, erode, fill_holes,
                            largest_components, resize_longest)


class ClassicalSegmenter:
    """The ``classical`` segment engine. Options: ``work_side`` (px) the steps run at, ``border``
    (share of the shorter side) sampled for the backdrop model, ``clusters`` (k-means colours),
    GrabCut ``iterations``, ``min_threshold`` (Lab distance) below which nothing is surely product,
    ``near_backdrop`` (Lab distance) within which a pixel is backdrop-coloured however low the
    measured noise."""

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

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Boolean (H, W) product mask of ``image`` (RGB uint8); all False when nothing stands out
        from the backdrop. The steps are those of the module docstring."""
        h, w = image.shape[:2]
        small, scale = resize_longest(image, self.work_side)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        centres, thr, noise = self._backdrop_model(lab)                                    # 1.
        dist = _distance(lab.reshape(-1, 3), centres).reshape(lab.shape[:2])
        outside = self._outside(dist, noise)                                               # 2.
        seed = self._seed(dist, thr, outside)                                              # 3.
        if seed.sum() < 0.002 * seed.shape[0] * seed.shape[1]:
            return np.zeros((h, w), dtype=bool)
        mask = self._grabcut(small, seed, outside, dist, thr, noise)                       # 4.
        if scale == 1.0:
            return mask
        return self._full_size(image, mask, scale, centres, thr, noise)                    # 5.

    def _backdrop_model(self, lab: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Step 1: the backdrop colours (Lab, (K, 3)), the distance beyond which a pixel is surely
        not backdrop, and how far the backdrop's own pixels stray from those colours (its noise)."""
        sides = border_sides(lab, max(2, int(round(self.border * min(lab.shape[:2])))))
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
        """Step 2, backdrop reached from the border: the pixels within the backdrop's own noise of
        a backdrop colour (at least ``near_backdrop``) that connect to the image border."""
        return connected_to_border(dist <= max(self.near_backdrop, noise))

    def _seed(self, dist: np.ndarray, thr: float, outside: np.ndarray) -> np.ndarray:
        """Step 3: what is far from the backdrop colours or not reached from the border, opened with
        a 3 px and closed with a 7 px disc, keeping its large parts (bool (h, w))."""
        seed = ((dist > thr) | ~outside).astype(np.uint8)
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        seed = cv2.morphologyEx(seed, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        return largest_components(seed > 0, keep_ratio=0.08, min_area=max(16, seed.shape[0] * seed.shape[1] // 2000))

    def _grabcut(self, small: np.ndarray, seed: np.ndarray, outside: np.ndarray, dist: np.ndarray,
                 thr: float, noise: float) -> np.ndarray:
        """Step 4: GrabCut from the seed (sure backdrop where the outside lies more than 7 px from it,
        sure product in its core and where enclosed by the outline), then the large parts of the
        result with their small holes filled (bool (h, w))."""
        sh, sw = seed.shape
        gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
        gc[~dilate(seed, 7) & outside] = cv2.GC_BGD
        gc[seed] = cv2.GC_PR_FGD
        gc[erode(seed, 2) & (dist > 1.5 * thr)] = cv2.GC_FGD
        # enclosed by an outline and unlike the backdrop, however slightly: a white garment on white
        # paper, whose colours GrabCut cannot tell from the paper's
        gc[seed & erode(~outside, 4) & (dist > noise)] = cv2.GC_FGD
        # GrabCut only decides the undecided: it runs on their box plus a margin of sure backdrop
        window = bbox_window(gc != cv2.GC_BGD, 12)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            crop = np.ascontiguousarray(gc[window])
            cv2.setRNGSeed(0)  # GrabCut seeds its colour models with OpenCV's (per-thread) RNG
            cv2.grabCut(np.ascontiguousarray(small[window][..., ::-1]), crop, None, bgd, fgd,
                        self.iterations, cv2.GC_INIT_WITH_MASK)
            gc[window] = crop
            mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        except cv2.error:
            mask = seed  # degenerate colour models (e.g. flat images): keep the seed
        mask = largest_components(mask, keep_ratio=0.08, min_area=max(16, sh * sw // 2000))
        return fill_holes(mask, max_area=max(4, int(0.01 * mask.sum())))

    def _full_size(self, image: np.ndarray, mask: np.ndarray, scale: float, centres: np.ndarray,
                   thr: float, noise: float) -> np.ndarray:
        """Step 5: ``mask`` brought to ``image``'s size and re-snapped to the colour edge within about
        1.5 work-size px of its edge: surely product beyond ``thr``, surely backdrop within ``noise``."""
        h, w = image.shape[:2]
        full = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
        band_px = max(1, int(round(1.5 / scale)))
        ys, xs = np.nonzero(dilate(full, band_px) & ~erode(full, band_px))
        if len(ys):
            lab_band = cv2.cvtColor(image[ys, xs][None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)
            d = _distance(lab_band, centres)
            full[ys, xs] = np.where(d > thr, True, np.where(d <= noise, False, full[ys, xs]))
        return fill_holes(full, max_area=max(4, int(0.01 * full.sum())))


def _distance(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean Lab distance of each (N, 3) pixel to its nearest centre."""
    return np.sqrt(((pixels[:, None, :] - centres[None]) ** 2).sum(-1)).min(1)
