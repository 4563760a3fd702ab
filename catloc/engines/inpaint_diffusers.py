"""Inpainting with a diffusers Stable Diffusion inpainting pipeline (PyTorch, CPU or CUDA).

Needs the pipeline saved in a local directory (``model_dir``), in diffusers' layout:
``model_index.json`` plus the ``unet/``, ``vae/``, ``text_encoder/``, ``tokenizer/`` and
``scheduler/`` sub-folders it names. It is loaded once with ``local_files_only=True``; nothing
is downloaded. Only a crop around the mask goes through the model (resized to ``work_size``),
and only the masked pixels are written back (:class:`~catloc.engines.base.BaseInpainter`):
every other pixel is returned unchanged.

Options: ``prompt``/``negative_prompt``, ``steps``, ``guidance_scale``, ``strength``, ``seed``
(same seed, same pixels), ``device`` (cpu | cuda), ``dtype`` (float32 | float16 on cuda |
bfloat16), ``work_size`` (the crop's longer side at the model, a multiple of 8) and ``margin``
(context around the mask's bounding box, px; at least 25% of the box is used).
"""
from __future__ import annotations

import json
import os
import threading

import cv2
import numpy as np

from catloc.engines.base import BaseInpainter, EngineLoadError

_DTYPES = ("float32", "float16", "bfloat16")
_LAYOUT = "model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/"
_HOW = ("make one on a machine with internet access with "
        "AutoPipelineForInpainting.from_pretrained('<hub id>').save_pretrained('<dir>') and copy it "
        "over, or point model_dir at the snapshot folder of a warm Hugging Face cache "
        "(~/.cache/huggingface/hub/models--<org>--<name>/snapshots/<revision>; with "
        "HF_HUB_OFFLINE=1 nothing is fetched); set engines.inpaint.options.model_dir")


def _check_model_dir(model_dir: str | None) -> str:
    """The absolute ``model_dir`` if it looks like a saved diffusers pipeline, else EngineLoadError."""
    if not model_dir:
        raise EngineLoadError(
            f"diffusers inpaint: engines.inpaint.options.model_dir is not set; it must be a local "
            f"directory with a saved inpainting pipeline ({_LAYOUT}): {_HOW}")
    path = os.path.abspath(os.path.expanduser(str(model_dir)))
    if not os.path.isdir(path):
        raise EngineLoadError(
            f"diffusers inpaint: model_dir {path} does not exist; it must hold a saved "
            f"inpainting pipeline ({_LAYOUT}): {_HOW}")
    index_path = os.path.join(path, "model_index.json")
    try:
        with open(index_path, encoding="utf-8") as fh:
            index = json.load(fh)
    except FileNotFoundError:
        raise EngineLoadError(
            f"diffusers inpaint: model_dir {path} has no model_index.json, so it is not a saved "
            f"diffusers pipeline (expected {_LAYOUT}): {_HOW}") from None
    except (OSError, ValueError) as exc:
        raise EngineLoadError(f"diffusers inpaint: cannot read {index_path}: {exc}") from None
    if not isinstance(index, dict):
        raise EngineLoadError(f"diffusers inpaint: {index_path} is not a diffusers model index: {_HOW}")
    components = [k for k, v in index.items()
                  if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and v[0] and v[1]]
    missing = [f"{k}/" for k in components if not os.path.isdir(os.path.join(path, k))]
    if not components:
        missing.append("the component entries in model_index.json")
    if missing:
        raise EngineLoadError(
            f"diffusers inpaint: model_dir {path} is incomplete, missing {', '.join(missing)} "
            f"(expected {_LAYOUT}): {_HOW}")
    return path


class DiffusersInpainter(BaseInpainter):
    name = "diffusers"

    def __init__(self, model_dir: str | None = None,
                 prompt: str = "clean empty product photo background, seamless",
                 negative_prompt: str = "text, watermark, logo, letters",
                 steps: int = 20, guidance_scale: float = 5.0, strength: float = 1.0,
                 seed: int = 0, device: str = "cpu", dtype: str = "float32",
                 work_size: int = 512, margin: int = 32):
        path = _check_model_dir(model_dir)
        if dtype not in _DTYPES:
            raise EngineLoadError(f"diffusers inpaint: dtype must be one of {list(_DTYPES)}, got {dtype!r}")
        work_size = int(work_size)
        if work_size < 8 or work_size % 8:
            raise EngineLoadError(f"diffusers inpaint: work_size must be a positive multiple of 8, got {work_size}")
        try:
            import torch
            from diffusers import AutoPipelineForInpainting
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise EngineLoadError(f"diffusers inpaint: cannot import diffusers/torch ({exc})") from None
        device = str(device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EngineLoadError(f"diffusers inpaint: device {device!r} asked for, but torch sees no CUDA GPU")
        if dtype == "float16" and not device.startswith("cuda"):
            raise EngineLoadError("diffusers inpaint: dtype float16 needs device cuda; use float32 on CPU")
        try:
            pipe = AutoPipelineForInpainting.from_pretrained(
                path, dtype=getattr(torch, dtype), local_files_only=True)
            pipe = pipe.to(device)
        except Exception as exc:  # diffusers/transformers raise many kinds for a bad folder
            raise EngineLoadError(
                f"diffusers inpaint: cannot load the pipeline from {path}: "
                f"{type(exc).__name__}: {exc} (expected {_LAYOUT}): {_HOW}") from None
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe
        self._torch = torch
        self.model_dir = path
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.steps = int(steps)
        self.guidance_scale = float(guidance_scale)
        self.strength = float(strength)
        self.seed = int(seed)
        self.device = device
        self.work_size = work_size
        self.margin = int(margin)
        self._lock = threading.Lock()  # one pipeline shared by all threads

    def _crop_box(self, mask: np.ndarray) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the mask's bounding box plus a margin, grown towards a square
        (the model's native shape) as far as the image allows."""
        h, w = mask.shape
        ys, xs = np.nonzero(mask)
        bx0, bx1, by0, by1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        margin = max(self.margin, int(round(0.25 * max(bx1 - bx0, by1 - by0))))
        side_w = min(w, max(bx1 - bx0 + 2 * margin, by1 - by0 + 2 * margin))
        side_h = min(h, max(by1 - by0 + 2 * margin, bx1 - bx0 + 2 * margin))

        def place(lo: int, hi: int, side: int, limit: int) -> tuple[int, int]:
            start = (lo + hi) // 2 - side // 2
            start = min(max(start, 0), limit - side)
            return start, start + side

        x0, x1 = place(bx0, bx1, side_w, w)
        y0, y1 = place(by0, by1, side_h, h)
        return x0, y0, x1, y1

    def _fill(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The model's fill of a square-ish crop around ``mask`` (see :meth:`_crop_box`), run at
        ``work_size`` px and resized back; pixels outside the crop are the input's."""
        from PIL import Image

        x0, y0, x1, y1 = self._crop_box(mask)
        crop, crop_mask = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        ch, cw = crop.shape[:2]
        scale = self.work_size / max(ch, cw)
        rw, rh = max(1, round(cw * scale)), max(1, round(ch * scale))
        pw, ph = -(-rw // 8) * 8, -(-rh // 8) * 8  # pad up to multiples of 8
        down = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        work = cv2.resize(np.ascontiguousarray(crop), (rw, rh), interpolation=down)
        work = cv2.copyMakeBorder(work, 0, ph - rh, 0, pw - rw, cv2.BORDER_REPLICATE)
        # any coverage counts, so thin strokes survive downscaling (the model repaints a bit more;
        # only the original mask's pixels are written back)
        work_mask = cv2.resize(crop_mask.astype(np.float32), (rw, rh),
                               interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR) > 0
        work_mask = np.pad(work_mask, ((0, ph - rh), (0, pw - rw)))
        with self._lock:
            generator = self._torch.Generator(self.device).manual_seed(self.seed)
            out = self._pipe(prompt=self.prompt, negative_prompt=self.negative_prompt,
                             image=Image.fromarray(work), mask_image=Image.fromarray(work_mask.astype(np.uint8) * 255),
                             height=ph, width=pw, num_inference_steps=self.steps,
                             guidance_scale=self.guidance_scale, strength=self.strength,
                             generator=generator, output_type="np").images[0]
        result = np.clip(np.rint(np.asarray(out, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
        result = result[:rh, :rw]
        up = cv2.INTER_CUBIC if scale < 1 else cv2.INTER_AREA
        result = cv2.resize(result, (cw, ch), interpolation=up)
        filled = image.copy()
        filled[y0:y1, x0:x1] = result
        return filled
