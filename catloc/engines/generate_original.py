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

from catloc.engines.base import EngineLoadError, Generated, Recipe


def padded_size(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int]:
    """The smallest (W, H) at least ``width`` x ``height`` with W:H = ``aspect`` (within a pixel)."""
    aw, ah = aspect
    if width * ah >= height * aw:
        return width, max(height, math.ceil(width * ah / aw))
    return max(width, math.ceil(height * aw / ah)), height


class OriginalGenerator:
    """The ``original`` generate engine. Options: ``edge_px`` (the photo's outer strip whose mean
    colour fills the bands, px) and ``smooth`` (the bands' smoothing along the edge, as a share of
    its length)."""

    name = "original"

    def __init__(self, edge_px: int = 6, smooth: float = 0.03):
        if edge_px < 1 or smooth < 0:
            raise EngineLoadError("original generate: edge_px must be >= 1 and smooth >= 0")
        self.edge_px = int(edge_px)
        self.smooth = float(smooth)

    def generate(self, image: np.ndarray, mask: np.ndarray, recipe: Recipe) -> Generated:
        """``image`` (RGB uint8 (H, W, 3)) centred on a canvas of ``recipe.aspect``, the bands filled
        as the module docstring says; ``mask`` (bool (H, W), may be empty) placed with it."""
        h, w = image.shape[:2]
        width, height = padded_size(w, h, tuple(recipe.aspect))
        x, y = (width - w) // 2, (height - h) // 2
        canvas = self._bands(image, width, height, x, y)
        canvas[y:y + h, x:x + w] = image
        placed = np.zeros((height, width), bool)
        placed[y:y + h, x:x + w] = mask
        return Generated(image=canvas, product_mask=placed, offset=(x, y), scale=1.0,
                         meta={"canvas": [width, height], "padding": [x, y, width - w - x, height - h - y]})

    def _bands(self, image: np.ndarray, width: int, height: int, x: int, y: int) -> np.ndarray:
        """A (height, width, 3) uint8 canvas whose bands around the photo's place (at ``x``, ``y``)
        continue the photo's edges; the photo's place itself is left for the caller to fill."""
        h, w = image.shape[:2]
        k = min(self.edge_px, h, w)
        if width > w:       # bands left and right: per row, the mean of the outer k columns
            left = image[:, :k].mean(axis=1, dtype=np.float32)[:, None]
            right = image[:, -k:].mean(axis=1, dtype=np.float32)[:, None]
            left, right = (self._smoothed(c, h) for c in (left, right))
            rows = np.concatenate([np.repeat(left, x, 1), np.zeros((h, w, 3), np.float32),
                                   np.repeat(right, width - w - x, 1)], axis=1)
            return np.clip(np.rint(rows), 0, 255).astype(np.uint8)
        top = image[:k].mean(axis=0, dtype=np.float32)[None]
        bottom = image[-k:].mean(axis=0, dtype=np.float32)[None]
        top, bottom = (self._smoothed(r.transpose(1, 0, 2), w).transpose(1, 0, 2) for r in (top, bottom))
        cols = np.concatenate([np.repeat(top, y, 0), np.zeros((h, w, 3), np.float32),
                               np.repeat(bottom, height - h - y, 0)], axis=0)
        return np.clip(np.rint(cols), 0, 255).astype(np.uint8)

    def _smoothed(self, column: np.ndarray, length: int) -> np.ndarray:
        """A (length, 1, 3) float32 colour profile Gaussian-smoothed along its length."""
        sigma = self.smooth * length
        if sigma < 0.5:
            return column
        return cv2.GaussianBlur(column, (1, 0), sigmaX=0.1, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
