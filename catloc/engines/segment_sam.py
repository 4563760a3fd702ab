"""Product segmentation with segment-anything (SAM, Meta; code and weights Apache-2.0).

Needs one of Meta's released checkpoints as a local file (``checkpoint``) and the matching
``model_type``: ``sam_vit_h_4b8939.pth`` -> ``vit_h``, ``sam_vit_l_0b3195.pth`` -> ``vit_l``,
``sam_vit_b_01ec64.pth`` -> ``vit_b``. ``model_type`` is looked up in segment-anything's own
``sam_model_registry``, so a builder registered there (a fine-tuned or smaller variant) is
accepted under its name too. The model is built empty and the checkpoint loaded with
``torch.load(map_location=device, weights_only=True)``: a checkpoint saved on a GPU loads on a
CPU-only worker (segment-anything's own ``build_sam`` cannot do that), and nothing in the file
is executed.

SAM segments what it is pointed at. :meth:`SamSegmenter.segment` takes a box and/or points;
called with neither (as the pipeline's ``Segmenter.segment(image)`` does) it uses its default
prompt (option ``default_prompt``):

- ``classical`` (default): the bounding box of the :mod:`classical <catloc.engines.segment_classical>`
  segmenter's mask (its default options), when that finds anything; else the centre point;
- ``centre``: one point at the image centre (the product is usually centred in a supplier photo).

Of SAM's three candidate masks (``multimask: true``) the one with the highest predicted IoU is
returned; the mask is at the image's own size. One forward pass of the image encoder (a ViT at
1024 px) per call: meant for GPU workers.
"""
from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from catloc.engines.base import EngineLoadError

RELEASED_CHECKPOINTS = {"vit_h": "sam_vit_h_4b8939.pth", "vit_l": "sam_vit_l_0b3195.pth",
                        "vit_b": "sam_vit_b_01ec64.pth"}
DEFAULT_PROMPTS = ("classical", "centre")
_EXPECTED = ", ".join(f"{f} (model_type {t})" for t, f in RELEASED_CHECKPOINTS.items())
_HOW = ("download one of Meta's segment-anything checkpoints on a machine with internet access "
        f"({_EXPECTED}), copy it over and set engines.segment.options.checkpoint")


def _torch_device(device: str) -> Any:
    import torch

    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise EngineLoadError(f"sam segment: device {device!r} asked for, but torch sees no CUDA GPU")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise EngineLoadError(f"sam segment: bad device {device!r}: {exc}") from None


def load_sam(checkpoint: str | None, model_type: str, device: str) -> Any:
    """A segment-anything ``Sam`` of ``model_type`` with the weights of ``checkpoint`` (a state
    dict file), on ``device``, in eval mode. EngineLoadError names the file and what was expected."""
    import torch
    from segment_anything import sam_model_registry

    if model_type not in sam_model_registry:
        raise EngineLoadError(f"sam segment: unknown model_type {model_type!r} "
                              f"(known: {', '.join(sorted(sam_model_registry))})")
    if not checkpoint:
        raise EngineLoadError(f"sam segment: engines.segment.options.checkpoint is not set: {_HOW}")
    path = os.path.abspath(os.path.expanduser(str(checkpoint)))
    if not os.path.isfile(path):
        raise EngineLoadError(f"sam segment: checkpoint {path} does not exist: {_HOW}")
    torch_device = _torch_device(device)
    try:
        state = torch.load(path, map_location=torch_device, weights_only=True)
    except Exception as exc:  # a truncated file, a pickle with code in it, not a torch file
        raise EngineLoadError(f"sam segment: cannot read checkpoint {path} ({type(exc).__name__}: {exc}); "
                              f"expected a segment-anything state dict: {_HOW}") from None
    if not isinstance(state, dict):
        raise EngineLoadError(f"sam segment: {path} holds a {type(state).__name__}, not a state dict: {_HOW}")
    sam = sam_model_registry[model_type](checkpoint=None)
    try:
        sam.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise EngineLoadError(
            f"sam segment: checkpoint {path} does not fit model_type {model_type!r} "
            f"({first[0] if first else exc} ...); the released files are {_EXPECTED}") from None
    return sam.to(torch_device).eval()


class SamSegmenter:
    """The ``sam`` segment engine. Options: ``checkpoint`` (file), ``model_type`` (``vit_b`` |
    ``vit_l`` | ``vit_h``, or any name in ``segment_anything.sam_model_registry``), ``device``
    (``cpu`` | ``cuda``), ``multimask`` (pick the best of SAM's three masks), ``default_prompt``
    (``classical`` | ``centre``: what :meth:`segment` is pointed at when given no prompt)."""

    name = "sam"

    def __init__(self, checkpoint: str | None = None, model_type: str = "vit_b", device: str = "cpu",
                 multimask: bool = True, default_prompt: str = "classical"):
        if default_prompt not in DEFAULT_PROMPTS:
            raise EngineLoadError(f"sam segment: default_prompt must be one of {list(DEFAULT_PROMPTS)}, "
                                  f"got {default_prompt!r}")
        from segment_anything import SamPredictor

        self.model_type = model_type
        self.device = str(device)
        self.multimask = bool(multimask)
        self.default_prompt = default_prompt
        self._predictor = SamPredictor(load_sam(checkpoint, model_type, self.device))
        self._classical = None
        if default_prompt == "classical":
            from catloc.engines.segment_classical import ClassicalSegmenter
            self._classical = ClassicalSegmenter()
        self._lock = threading.Lock()  # the predictor holds the current image's embedding

    def segment(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None,
                points: np.ndarray | None = None, point_labels: np.ndarray | None = None) -> np.ndarray:
        """Bool (H, W) mask of what ``box`` ((x0, y0, x1, y1) px) and/or ``points`` ((N, 2) (x, y)
        px; ``point_labels`` 1 = object, 0 = not object, default all 1) point at in ``image``
        (RGB uint8 (H, W, 3)); with neither, the default prompt (module docstring)."""
        return self.segment_scored(image, box, points, point_labels)[0]

    def segment_scored(self, image: np.ndarray, box: tuple[float, float, float, float] | None = None,
                       points: np.ndarray | None = None,
                       point_labels: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """:meth:`segment`'s mask and SAM's own predicted IoU of it (a float, about 0..1: how
        good SAM believes the mask is)."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"sam segment: image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
        if box is None and points is None:
            box, points = self.default_prompt_for(image)
        box_array, coords, labels = _prompt_arrays(box, points, point_labels)
        with self._lock:
            self._predictor.set_image(image)
            masks, scores, _ = self._predictor.predict(point_coords=coords, point_labels=labels, box=box_array,
                                                       multimask_output=self.multimask)
        best = int(np.argmax(scores))
        return masks[best].astype(bool), float(scores[best])

    def default_prompt_for(self, image: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(box, points) :meth:`segment` uses when given no prompt: the classical mask's bounding
        box (x0, y0, x1, y1), or one centre point ((1, 2) array) when that mask is empty or
        ``default_prompt`` is ``centre``."""
        h, w = image.shape[:2]
        if self._classical is not None:
            ys, xs = np.nonzero(self._classical.segment(image))
            if len(xs):
                return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float32), None
        return None, np.array([[w / 2.0, h / 2.0]], dtype=np.float32)


def _prompt_arrays(box: Any, points: Any, point_labels: Any
                   ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """``box`` as a (4,) float array, ``points`` as (N, 2) float and their labels as (N,) int, in
    the forms ``SamPredictor.predict`` takes; ValueError names a malformed prompt."""
    box_array = None
    if box is not None:
        box_array = np.asarray(box, dtype=np.float32).reshape(-1)
        if box_array.shape != (4,) or box_array[2] <= box_array[0] or box_array[3] <= box_array[1]:
            raise ValueError(f"sam segment: box must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box}")
    if points is None:
        return box_array, None, None
    coords = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    labels = (np.ones(len(coords), dtype=np.int64) if point_labels is None
              else np.asarray(point_labels, dtype=np.int64).reshape(-1))
    if len(coords) == 0 or labels.shape != (len(coords),):
        raise ValueError(f"sam segment: points must be (N, 2) with N >= 1 and point_labels (N,), "
                         f"got {coords.shape} and {labels.shape}")
    return box_array, coords, labels
