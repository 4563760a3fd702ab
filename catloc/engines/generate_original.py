"""The ``original`` generator: the cleaned photo in its own framing, brought to the market's aspect.

Every SKU gets this candidate (``c01``) whatever its mask: when the cut-out cannot be trusted it is
the one a reviewer can still publish. Nothing of the photo is cropped, moved or redrawn; the
photo is only *padded* to the market's aspect ratio (a 3:4 photo in a 1:1 market gets bands left and
right), so a product the mask missed is never cut away. The bands continue the photo's own edge:
each band's colour is the mean of the photo's outer ``edge_px`` px across from it, smoothed along
the edge (Gaussian, ``smooth`` x the edge's length), so a studio backdrop runs on seamlessly and a
busy one fades into its average colour. Deterministic, no weights.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from catloc.backdrop import fit_backdrop
from catloc.engines.base import EngineLoadError, Generated, Recipe
from catloc.imaging import resize_longest


def padded_size(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int]:
    """The smallest (W, H) at least ``width`` x ``height`` with W:H = ``aspect`` (within a pixel)."""
    aw, ah = aspect
    if width * ah >= height * aw:
        return width, max(height, math.ceil(width * ah / aw))
    return max(width, math.ceil(height * aw / ah)), height


class OriginalGenerator:
    """The ``original`` generate engine. Options: ``work_side`` (px) the backdrop is modelled at,
    ``border`` (share of the shorter side) of the strip it is modelled from."""

    name = "original"
    kinds = ("original",)

    def __init__(self, work_side: int = 384, border: float = 0.03):
        if work_side < 32 or not 0 < border < 0.5:
            raise EngineLoadError("original generate: work_side must be >= 32 and border in (0, 0.5)")
        self.work_side = int(work_side)
        self.border = float(border)

    def generate(self, image: np.ndarray, mask: np.ndarray, recipe: Recipe) -> Generated:
        """``image`` (RGB uint8 (H, W, 3)) centred on a canvas of ``recipe.aspect``, the bands filled
        as the module docstring says; ``mask`` (bool (H, W), may be empty) placed with it."""
        h, w = image.shape[:2]
        width, height = padded_size(w, h, tuple(recipe.aspect))
        x, y = (width - w) // 2, (height - h) // 2
        canvas = np.zeros((height, width, 3), np.uint8)
        if (width, height) != (w, h):
            canvas = self._bands(image, width, height, x, y)
        canvas[y:y + h, x:x + w] = image
        placed = np.zeros((height, width), bool)
        placed[y:y + h, x:x + w] = mask
        return Generated(image=canvas, product_mask=placed, offset=(x, y), scale=1.0,
                         meta={"canvas": [width, height], "padding": [x, y, width - w - x, height - h - y]})

    def _bands(self, image: np.ndarray, width: int, height: int, x: int, y: int) -> np.ndarray:
        """A (height, width, 3) uint8 canvas whose bands around the photo's place (at ``x``, ``y``)
        carry the backdrop profile of the side they adjoin; the photo's place is left to the caller."""
        h, w = image.shape[:2]
        small, _ = resize_longest(image, self.work_side)
        lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
        top, bottom, left, right = fit_backdrop(lab, max(2, int(round(self.border * min(lab.shape[:2]))))).profiles
        if width > w:       # bands left and right, one colour per row
            left, right = (_rgb_profile(p, h)[:, None] for p in (left, right))
            return np.concatenate([np.repeat(left, x, 1), np.zeros((h, w, 3), np.uint8),
                                   np.repeat(right, width - w - x, 1)], axis=1)
        top, bottom = (_rgb_profile(p, w)[None] for p in (top, bottom))
        return np.concatenate([np.repeat(top, y, 0), np.zeros((h, w, 3), np.uint8),
                               np.repeat(bottom, height - h - y, 0)], axis=0)


def _rgb_profile(profile: np.ndarray, n: int) -> np.ndarray:
    """A Lab profile (M, 3) resampled to ``n`` positions, as RGB uint8 (n, 3)."""
    grid = np.linspace(0.0, 1.0, len(profile))
    t = np.linspace(0.0, 1.0, n)
    lab = np.stack([np.interp(t, grid, profile[:, c]) for c in range(3)], axis=1)
    lab = np.clip(np.rint(lab), 0, 255).astype(np.uint8)[:, None, :]
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)[:, 0, :]
