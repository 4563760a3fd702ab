"""Where the product lies, for the clean stage: located on a copy of the photo with the findings
painted out (so banners and stickers cannot pull the product mask towards them), and how much
of a finding's surroundings lie on it."""
from __future__ import annotations

import numpy as np

from catloc.engines.base import BaseInpainter, Segmenter
from catloc.imaging import bbox_window, dilate, resize_longest, resize_mask


def segment_painted(image: np.ndarray, painted_out: np.ndarray, inpainter: BaseInpainter,
                    segmenter: Segmenter, side: int = 320) -> np.ndarray:
    """The product mask (bool (H, W)) of ``image`` with the ``painted_out`` pixels filled in by
    ``inpainter``'s quick fill (:meth:`~catloc.engines.base.BaseInpainter.quick`), worked out at ``side`` px
    (the mask only judges what lies on the product; the analyse stage makes the exact one) and brought
    back to full size (nearest neighbour)."""
    small, scale = resize_longest(image, side)
    small_out, _ = resize_longest(painted_out, side)
    if small_out.any():
        small = inpainter.quick().inpaint(small, dilate(small_out, 1))
    mask = segmenter.segment(small)
    if scale == 1.0:
        return mask
    return resize_mask(mask, painted_out.shape)


def surroundings_on_product(region: np.ndarray, product: np.ndarray, gap: int) -> float:
    """Share 0..1 of the surroundings of ``region`` (a non-empty bool (H, W) mask) that lie on
    ``product``: a ring 4 px wide, ``gap + 4`` px out, clear of the ``gap`` px the region was
    painted out with (and of the product mask's coarser resolution). 1.0 if there is no ring."""
    window = bbox_window(region, gap + 9)
    local = region[window]
    ring = dilate(local, gap + 8) & ~dilate(local, gap + 4)
    return float(product[window][ring].mean()) if ring.any() else 1.0
