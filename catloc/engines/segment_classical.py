"""Product segmentation from the photo's backdrop: a border model of the backdrop seeds GrabCut.

Supplier photos are shot on backdrops that the border shows: white, grey or beige paper, often
with a gradient or a vignette, a wall and a floor, sometimes a busy scene. Steps of
:meth:`ClassicalSegmenter.segment`, at ``work_side`` pixels:

1. *backdrop model* (:func:`catloc.backdrop.fit_backdrop`): a smooth colour surface fitted to
   the border (gradients, vignettes) plus the extra colours that run along three sides or around a
   corner (a floor, the paper's edge), with the backdrop's own noise and texture. A backdrop
   noisier than ``busy_noise`` (a street, a brick wall) cannot be told from a product by colour:
   the photo goes to step 4b instead;
2. *outside*: the pixels within the backdrop's noise of it, and as smooth as it, that connect to
   the border, grown through smooth pixels a little farther from it (a bright centre that the
   surface cannot follow). It stops at the product's outline even where the product is nearly the
   backdrop's colour (a white T-shirt on white paper: the fabric has a weave, the paper has not);
3. *seed*: what is far from the backdrop or not part of the outside, less the *shadows*
   (:func:`catloc.backdrop.cast_shadows`: darker regions of the backdrop's hue without fine texture
   that fade in from the outside; a product's cast shadow on paper is no part of the product);
4. GrabCut from that seed: sure backdrop where the outside lies far from the seed, sure
   product in the seed's core and inside the outline where the colour differs from the backdrop
   at all (GrabCut's colour model cannot tell white cotton from white paper); shadows are
   probable backdrop;
   4b. on a busy backdrop: GrabCut from a frame (the outer ``busy_margin`` is backdrop, the rest
   probably product), keeping the component nearest the centre;
5. back to full size, where the mask edge is re-snapped to the colour edge in a thin band (also
   at work size: GrabCut leaves a rim of backdrop), and its outer pixels that look more like the
   backdrop just outside than the product just inside are peeled (:func:`refine_edge`).

Everything is deterministic (no randomness in the backdrop fit, k-means starts from lightness
quantiles, OpenCV's RNG is seeded for GrabCut). No weights, CPU only.
"""
from __future__ import annotations

import cv2
import numpy as np

from catloc.backdrop import Backdrop, cast_shadows, fit_backdrop, lit_like, local_std
from catloc.engines.base import EngineLoadError
from catloc.imaging import (bbox_window, connected_to_border, dilate, erode, fill_holes, largest_components,
                            resize_longest)


class ClassicalSegmenter:
    """The ``classical`` segment engine. Options: ``work_side`` (px) the steps run at, ``border``
    (share of the shorter side) sampled for the backdrop model, ``clusters`` (k-means colours for
    the backdrop's extra colours), GrabCut ``iterations``, ``min_threshold`` (Lab distance) below
    which nothing is surely product, ``near_backdrop`` (Lab distance) within which a pixel is
    backdrop-coloured however low the measured noise, ``busy_noise`` (Lab distance) above which the
    backdrop's noise makes colour useless (step 4b), ``busy_margin`` (share of each side) the frame
    of step 4b, ``smooth_texture`` (local std of Lab) below which a region counts as smooth in step 2."""

    name = "classical"

    def __init__(self, work_side: int = 384, border: float = 0.03, clusters: int = 3,
                 iterations: int = 4, min_threshold: float = 10.0, near_backdrop: float = 1.5,
                 busy_noise: float = 45.0, busy_margin: float = 0.04, smooth_texture: float = 2.0):
        if work_side < 64:
            raise EngineLoadError("classical segment: work_side must be >= 64")
        self.work_side = int(work_side)
        self.border = float(border)
        self.clusters = int(clusters)
        self.iterations = int(iterations)
        self.min_threshold = float(min_threshold)
        self.near_backdrop = float(near_backdrop)
        self.busy_noise = float(busy_noise)
        self.busy_margin = float(busy_margin)
        self.smooth_texture = float(smooth_texture)

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Boolean (H, W) product mask of ``image`` (RGB uint8); all False when nothing stands out
        from the backdrop. The steps are those of the module docstring."""
        h, w = image.shape[:2]
        small, scale = resize_longest(image, self.work_side)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        model = fit_backdrop(lab, max(2, int(round(self.border * min(lab.shape[:2])))), self.clusters)   # 1.
        if model.noise > self.busy_noise:
            mask = self._busy(small)                                                       # 4b.
            return resize_mask_smooth(mask, (h, w)) if scale != 1.0 else mask
        dist, texture = model.distance(lab), local_std(lab)
        thr = max(self.min_threshold, model.noise)
        outside = self._outside(lab, dist, texture, model, thr)                             # 2.
        shadow = cast_shadows(lab, model, outside)
        seed = self._seed(outside) & ~shadow                                                      # 3.
        seed = largest_components(seed, keep_ratio=0.08, min_area=max(16, seed.size // 2000))
        if seed.sum() < 0.002 * seed.size:
            return np.zeros((h, w), dtype=bool)
        mask = self._grabcut(small, seed, outside | shadow, dist, thr, model.noise)        # 4.
        return self._full_size(image, mask, scale, model, thr)                             # 5.

    def _outside(self, lab: np.ndarray, dist: np.ndarray, texture: np.ndarray, model: Backdrop,
                 thr: float) -> np.ndarray:
        """Step 2, backdrop reached from the border (bool (h, w)): the *smooth* pixels (local std at most
        ``smooth_texture``, or the backdrop's own: JPEG ringing beside an edge is still backdrop)
        within the backdrop's noise of it (at least ``near_backdrop``) that connect to the border
        through such pixels; grown by the smooth regions of *more light* on the backdrop that touch
        those or the border: lighter than the surface but of its hue (:func:`catloc.backdrop.lit_like`),
        within max(4 x ``thr``, 60) of it — a bright centre the surface cannot follow, a lit floor,
        paper noisier near the product than at the photo's retouched edge. (Darker regions of the
        backdrop's hue are shadows: step 3.)"""
        smooth = texture <= max(model.texture, self.smooth_texture)
        near = connected_to_border((dist <= max(self.near_backdrop, model.noise)) & smooth)
        grow = lit_like(lab, model) & smooth & (dist <= max(4 * thr, 60.0))
        _, labels = cv2.connectedComponents(grow.astype(np.uint8), connectivity=4)
        reached = np.unique(np.concatenate([labels[near], labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        return near | np.isin(labels, reached[reached > 0])

    @staticmethod
    def _seed(outside: np.ndarray) -> np.ndarray:
        """Step 3: what the outside does not reach (everything far from the backdrop is among it),
        opened with a 5 px disc (a line on the backdrop, the rim of the outside along an edge) and closed
        with a 7 px disc (bool (h, w)); the caller removes shadows and keeps its large parts."""
        seed = (~outside).astype(np.uint8)
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        seed = cv2.morphologyEx(seed, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        return seed > 0

    def _grabcut(self, small: np.ndarray, seed: np.ndarray, outside: np.ndarray, dist: np.ndarray,
                 thr: float, noise: float) -> np.ndarray:
        """Step 4: GrabCut from the seed (sure backdrop where the outside lies more than 7 px from it,
        sure product in its core and where enclosed by the outline), then the large parts of the
        result with their small holes filled (bool (h, w))."""
        gc = np.full(seed.shape, cv2.GC_PR_BGD, np.uint8)
        gc[~dilate(seed, 7) & outside] = cv2.GC_BGD
        gc[seed] = cv2.GC_PR_FGD
        gc[erode(seed, 2) & (dist > 1.5 * thr)] = cv2.GC_FGD
        # enclosed by an outline and unlike the backdrop, however slightly: a white garment on white
        # paper, whose colours GrabCut cannot tell from the paper's
        gc[seed & erode(~outside, 4) & (dist > noise)] = cv2.GC_FGD
        mask = _run_grabcut(small, gc, self.iterations)
        if mask is None:
            mask = seed  # degenerate colour models (e.g. flat images): keep the seed
        mask = largest_components(mask, keep_ratio=0.08, min_area=max(16, mask.size // 2000))
        return fill_holes(mask, max_area=max(4, int(0.01 * mask.sum())))

    def _busy(self, small: np.ndarray) -> np.ndarray:
        """Step 4b: GrabCut from a frame: the outer ``busy_margin`` of each side is sure backdrop, the
        rest probable product; of the result, the component nearest the centre, holes filled."""
        sh, sw = small.shape[:2]
        gc = np.full((sh, sw), cv2.GC_PR_FGD, np.uint8)
        my, mx = max(2, int(self.busy_margin * sh)), max(2, int(self.busy_margin * sw))
        gc[:my], gc[-my:], gc[:, :mx], gc[:, -mx:] = cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD, cv2.GC_BGD
        mask = _run_grabcut(small, gc, self.iterations + 2)
        if mask is None:
            return np.zeros((sh, sw), bool)
        n, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if n <= 1:
            return np.zeros((sh, sw), bool)
        big = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 0.02 * sh * sw]
        if not big:
            return np.zeros((sh, sw), bool)
        centre = np.array([sw / 2, sh / 2])
        best = min(big, key=lambda i: np.linalg.norm((centroids[i] - centre) / [sw, sh]))
        return fill_holes(labels == best, max_area=max(4, int(0.01 * stats[best, cv2.CC_STAT_AREA])))

    def _full_size(self, image: np.ndarray, mask: np.ndarray, scale: float, model: Backdrop,
                   thr: float) -> np.ndarray:
        """Step 5: ``mask`` brought to ``image``'s size (when it was made smaller) and re-snapped to the
        colour edge: within 4 work-size px inside its edge the pixels within max(noise, 3) of the
        backdrop leave it (GrabCut's smoothing keeps a rim of backdrop and fills sharp corners);
        within 1.5 work-size px outside it the pixels beyond ``thr`` join it."""
        h, w = image.shape[:2]
        full = resize_mask_smooth(mask, (h, w)) if scale != 1.0 else mask.copy()
        inner = full & ~erode(full, max(1, int(round(4 / scale))))
        outer = dilate(full, max(1, int(round(1.5 / scale)))) & ~full
        ys, xs = np.nonzero(inner | outer)
        if len(ys):
            lab_band = cv2.cvtColor(image[ys, xs][None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)
            d = model.distance_at(lab_band, ys * scale, xs * scale, mask.shape)
            in_mask = full[ys, xs]
            full[ys, xs] = np.where(in_mask, d > max(model.noise, 3.0), d > thr)
        full = refine_edge(image, full, max(2, int(round(1.2 / scale))))
        return fill_holes(full, max_area=max(4, int(0.01 * full.sum())))


def refine_edge(image: np.ndarray, mask: np.ndarray, px: int) -> np.ndarray:
    """``mask`` less the pixels of its outer ``px``-wide band whose colour is closer to the backdrop
    just outside (the mean Lab colour of the non-mask pixels ``px`` to ``5 px`` away) than to the
    product just inside (the mean of the mask pixels ``2 px`` to ``5 px`` deep): the rim of wall,
    paper or shadow a cut-out would otherwise carry (bool (H, W); ``image`` RGB uint8)."""
    window = bbox_window(mask, 6 * px)
    if window is None:
        return mask
    sub, crop = mask[window], image[window]
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
    core = erode(sub, 2 * px).astype(np.float32)
    out = (~dilate(sub, px)).astype(np.float32)
    k = (6 * px + 1, 6 * px + 1)
    mean_in = cv2.blur(lab * core[..., None], k) / np.maximum(cv2.blur(core, k), 1e-3)[..., None]
    mean_out = cv2.blur(lab * out[..., None], k) / np.maximum(cv2.blur(out, k), 1e-3)[..., None]
    seen = (cv2.blur(core, k) > 0.02) & (cv2.blur(out, k) > 0.02)
    band = sub & ~erode(sub, px) & seen
    closer_out = np.linalg.norm(lab - mean_out, axis=-1) < np.linalg.norm(lab - mean_in, axis=-1)
    refined = mask.copy()
    refined[window] = sub & ~(band & closer_out)
    return refined


def resize_mask_smooth(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``mask`` resized to ``shape`` = (H, W) through a bilinear ramp thresholded at 0.5 (smooth
    diagonal edges rather than nearest-neighbour steps): bool (H, W)."""
    return cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) > 0.5


def _run_grabcut(small: np.ndarray, gc: np.ndarray, iterations: int) -> np.ndarray | None:
    """GrabCut on the box of ``gc``'s undecided pixels plus 12 px (``small`` RGB, ``gc`` GrabCut
    labels, changed in place); the product (bool (h, w)), or None when GrabCut cannot model the colours."""
    window = bbox_window(gc != cv2.GC_BGD, 12)
    if window is None:
        return None
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        crop = np.ascontiguousarray(gc[window])
        cv2.setRNGSeed(0)  # GrabCut seeds its colour models with OpenCV's (per-thread) RNG
        cv2.grabCut(np.ascontiguousarray(small[window][..., ::-1]), crop, None, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None
    gc[window] = crop
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
