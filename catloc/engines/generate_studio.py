"""The offline "studio" generator: the cut-out product on a market backdrop.

Nothing about the product is redrawn: the pixels under the product mask are copied 1:1
from the cleaned source into a canvas sized by the market's framing rule (aspect ratio and
the share of the frame the product fills). Only the backdrop is synthesised: solid colour,
vertical gradient, studio sweep, wall-and-floor or vignette, plus a soft contact or drop
shadow. Deterministic for a given recipe seed.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from catloc.engines.base import EngineLoadError, Generated, GenerationRequest, Recipe
from catloc.imaging import dilate

SCENE_KINDS = ("solid", "gradient", "sweep", "floor", "vignette")


def hex_to_rgb(value: str) -> np.ndarray:
    value = value.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"colour must be #rrggbb, got {value!r}")
    return np.array([int(value[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float32)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def render_backdrop(scene: dict, width: int, height: int, rng: np.random.Generator,
                    horizon_y: float | None = None) -> np.ndarray:
    """A float32 (H, W, 3) backdrop in 0..255 for ``scene`` (see ``configs/markets``)."""
    kind = scene.get("kind", "solid")
    colors = [hex_to_rgb(c) for c in scene["colors"]]
    c0, c1 = colors[0], colors[-1]
    y = (np.arange(height, dtype=np.float32) / max(1, height - 1))[:, None, None]
    x = (np.arange(width, dtype=np.float32) / max(1, width - 1))[None, :, None]
    if kind == "solid":
        canvas = np.broadcast_to(c0, (height, width, 3)).astype(np.float32)
    elif kind == "gradient":
        canvas = np.broadcast_to(c0 + (c1 - c0) * y, (height, width, 3)).astype(np.float32)
    elif kind == "sweep":  # cyclorama: flat wall that curves into a darker floor
        t = _smoothstep((y - 0.45) / 0.55)
        light = 1.0 - 0.06 * ((x - 0.5) ** 2 * 4)  # soft fall-off towards the sides
        canvas = (c0 + (c1 - c0) * t) * light
    elif kind == "floor":
        hy = (horizon_y if horizon_y is not None else float(scene.get("horizon", 0.7)) * height) / max(1, height - 1)
        wall = c0 * (1.0 - 0.05 * (1 - y))
        floor_t = np.clip((y - hy) / max(1e-3, 1 - hy), 0, 1)
        floor = c1 * (1.0 - 0.12 * floor_t)
        blend = _smoothstep((y - hy) / 0.02 + 0.5)
        canvas = wall * (1 - blend) + floor * blend
        canvas = np.broadcast_to(canvas, (height, width, 3)).astype(np.float32)
    elif kind == "vignette":
        r = np.sqrt((x - 0.5) ** 2 + (y - 0.45) ** 2) / math.sqrt(0.5)
        canvas = c0 + (c1 - c0) * _smoothstep(r)
    else:
        raise ValueError(f"unknown scene kind {kind!r} (known: {', '.join(SCENE_KINDS)})")
    canvas = np.broadcast_to(canvas, (height, width, 3)).astype(np.float32)
    return canvas + rng.normal(0.0, 0.8, size=canvas.shape).astype(np.float32)  # dither against banding


def _shadow_alpha(mask: np.ndarray, kind: str, width: int) -> np.ndarray:
    """Shadow strength 0..1 on the canvas for a placed product ``mask``."""
    if kind == "none":
        return np.zeros(mask.shape, np.float32)
    ys, xs = np.nonzero(mask)
    if kind == "drop":
        dx, dy = int(0.015 * width) + 1, int(0.02 * width) + 1
        shifted = np.zeros(mask.shape, np.float32)
        shifted[dy:, dx:] = mask[:-dy, :-dx]
        sigma = 0.012 * width + 1
        return 0.28 * cv2.GaussianBlur(shifted, (0, 0), sigma)
    # contact: a soft ellipse hugging the bottom of the product
    bottom, left, right = ys.max(), xs.min(), xs.max()
    alpha = np.zeros(mask.shape, np.float32)
    centre = (int((left + right) / 2), int(bottom))
    axes = (max(2, int(0.46 * (right - left))), max(2, int(0.025 * width)))
    cv2.ellipse(alpha, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    return 0.38 * cv2.GaussianBlur(alpha, (0, 0), 0.02 * width + 1)


class StudioGenerator:
    name = "studio"
    kinds = ("studio",)

    def __init__(self, feather_px: int = 1):
        if feather_px < 0:
            raise EngineLoadError("studio generate: feather_px must be >= 0")
        self.feather_px = int(feather_px)

    def canvas_geometry(self, bbox_w: int, bbox_h: int, recipe: Recipe,
                        cut: frozenset[str] = frozenset()) -> tuple[int, int, int, int]:
        """Canvas (W, H) and product top-left (x, y) for a ``bbox_w`` x ``bbox_h`` product.

        ``cut``: the sides (``top``, ``bottom``, ``left``, ``right``) where the source photo's frame
        cuts the product (a model's legs running out of the photo). The product is set flush with
        those sides of the canvas, so the cut lies on the canvas edge as it did in the photo instead
        of floating in the frame; cut on two opposite sides, it fills the canvas that way."""
        aw, ah = recipe.aspect
        fill = min(max(recipe.fill, 0.2), 0.98)
        fill_w = 1.0 if {"left", "right"} <= cut else fill
        fill_h = 1.0 if {"top", "bottom"} <= cut else fill
        width = math.ceil(max(bbox_w / fill_w, bbox_h / fill_h * aw / ah))
        height = max(bbox_h, math.ceil(width * ah / aw))
        x = 0 if "left" in cut else width - bbox_w if "right" in cut else (width - bbox_w) // 2
        if "top" in cut:
            y = 0
        elif "bottom" in cut:
            y = height - bbox_h
        elif recipe.placement == "floor":
            bottom = max(recipe.margin_min * height, 0.6 * (height - bbox_h) / 2)
            y = int(round(height - bottom - bbox_h))
        else:
            y = (height - bbox_h) // 2
        return width, height, x, max(0, y)

    def generate(self, image: np.ndarray, mask: np.ndarray, recipe: Recipe) -> Generated:
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            raise ValueError("empty product mask")
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        crop, crop_mask = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        h, w = mask.shape
        cut = frozenset(side for side, hit in (("top", y0 == 0), ("bottom", y1 == h), ("left", x0 == 0),
                                                ("right", x1 == w)) if hit)
        width, height, px, py = self.canvas_geometry(x1 - x0, y1 - y0, recipe, cut)
        rng = np.random.default_rng(recipe.seed)

        placed = np.zeros((height, width), bool)
        placed[py:py + crop.shape[0], px:px + crop.shape[1]] = crop_mask
        horizon = None
        if recipe.scene.get("kind") == "floor":  # the wall meets the floor behind the product
            horizon = min(float(recipe.scene.get("horizon", 0.7)) * height, py + 0.88 * crop.shape[0])
        canvas = render_backdrop(recipe.scene, width, height, rng, horizon)
        shadow = _shadow_alpha(placed, recipe.scene.get("shadow", "contact"), width)
        canvas *= (1.0 - shadow)[..., None]

        # a thin feathered rim outside the mask softens the cut edge; the product itself is exact
        if self.feather_px:
            full_src = np.zeros((height, width, 3), np.float32)
            full_src[py:py + crop.shape[0], px:px + crop.shape[1]] = crop
            rim = dilate(placed, self.feather_px, square=True) & ~placed
            canvas[rim] = 0.5 * canvas[rim] + 0.5 * full_src[rim]
        out = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        region = out[py:py + crop.shape[0], px:px + crop.shape[1]]
        region[crop_mask] = crop[crop_mask]
        return Generated(image=out, product_mask=placed, offset=(int(px - x0), int(py - y0)), scale=1.0,
                         meta={"canvas": [width, height], "bbox": [int(x0), int(y0), int(x1), int(y1)]})

    def generate_batch(self, image: np.ndarray, requests: list[GenerationRequest]) -> list[Generated]:
        """:meth:`generate` for each request, its ``keep`` mask as the product (nothing is redrawn
        but the backdrop, so ``regenerate`` and ``control`` are not used)."""
        return [self.generate(image, request.keep, request.recipe) for request in requests]
