"""Generative candidates with a diffusers Stable Diffusion inpainting pipeline (SD 1.5 or SDXL),
optional ControlNets (pose, edges) and an optional IP-Adapter, from local folders only.

What it does with a batch of :class:`~catloc.engines.base.GenerationRequest` for one cleaned photo:

1. Fit the photo into the model canvas: with ``fit: source`` (default) a canvas of about the
   area of ``size`` in the photo's own aspect (sides multiples of 8), and the candidate is the
   photo's rectangle; with ``fit: canvas`` the photo letterboxed into ``size`` and the padding
   outpainted (the candidate is then larger than the photo, ``offset`` says where it lies).
2. Group the requests by the ControlNets they use (the configured ones they give a control
   image for); run each group in batches of ``batch_size``. Each candidate's starting noise comes
   from its own CPU ``torch.Generator`` seeded with ``recipe.seed``, so a candidate does not depend
   on its batch or its place in it (batched kernels round differently: up to 1 grey level).
3. Bring the model's image back to the photo's resolution and composite
   (:func:`catloc.imaging.feathered_composite`): the ``keep`` pixels are the cleaned photo's,
   byte for byte (a VAE round trip is never passed off as the product), pixels in neither mask
   are the photo's too (but for the ``feather_px`` ramp next to redrawn ones), and the seam lies
   in a ``feather_px`` band outside the product.

Options (``engines.generate.options``): ``model_dir`` (a saved inpainting pipeline:
``model_index.json`` + ``unet/ vae/ text_encoder/ tokenizer/ scheduler/``, SDXL also
``text_encoder_2/ tokenizer_2/``), ``controlnet_dirs`` (name -> folder with ``config.json`` +
weights; names ``openpose``, ``canny`` are the ones the recipes give images for), ``controlnet_scale``
(0.8, or name -> scale), ``ip_adapter_dir`` (the ``h94/IP-Adapter`` layout), ``ip_adapter_weight``
(default ``models/ip-adapter_sd15.safetensors`` / ``sdxl_models/ip-adapter_sdxl.safetensors``),
``ip_adapter_scale`` (0.5), ``size`` ([W, H]; 768x1024 for SD 1.5, 1024x1024 for SDXL), ``fit``
(``source`` | ``canvas``), ``steps`` (20), ``guidance_scale`` (7.0 / 5.0 for SDXL), ``batch_size`` (4),
``feather_px`` (6), ``scheduler`` (``saved`` | ``ddim`` | ``dpmpp_2m`` | ``unipc`` | ``euler`` |
``euler_a``), ``device`` (``auto`` | ``cpu`` | ``cuda``), ``dtype`` (``auto``: float16 on CUDA,
float32 on CPU), ``channels_last`` (``auto``: on CUDA), ``compile`` (false: ``torch.compile`` the
UNet and ControlNets), ``attention`` (``sdpa`` | ``classic``), ``default_prompt`` (for
:meth:`DiffusersGenerator.generate` given a recipe without a prompt).
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

from catloc.engines.base import GENERATIVE_KINDS, EngineLoadError, Generated, GenerationRequest, Recipe
from catloc.engines.diffusers_files import check_model_dir, check_pipeline_dir, weight_digest
from catloc.imaging import dilate, feathered_composite, seam_colour_shift

LABEL = "diffusers generate"
FAMILY_DEFAULTS = {"sd15": {"size": (768, 1024), "guidance_scale": 7.0, "ip_adapter_weight":
                            "models/ip-adapter_sd15.safetensors"},
                   "sdxl": {"size": (1024, 1024), "guidance_scale": 5.0, "ip_adapter_weight":
                            "sdxl_models/ip-adapter_sdxl.safetensors"}}
SCHEDULERS = {"ddim": "DDIMScheduler", "dpmpp_2m": "DPMSolverMultistepScheduler", "unipc": "UniPCMultistepScheduler",
              "euler": "EulerDiscreteScheduler", "euler_a": "EulerAncestralDiscreteScheduler"}
_HOW = ("on a machine with internet access save the model with "
        "AutoPipelineForInpainting.from_pretrained('<hub id>').save_pretrained('<dir>') (ControlNets with "
        "ControlNetModel.from_pretrained(...).save_pretrained(...)) and copy the folders over, or point at the "
        "snapshot folders of a warm Hugging Face cache (HF_HUB_OFFLINE=1: nothing is fetched); see the README, "
        "'Generative localization'")


@dataclass(frozen=True)
class ModelFrame:
    """Where a photo of ``source`` = (H, W) px sits in the model canvas ``model`` = (W, H) px:
    resized by ``scale`` to ``resized`` = (W, H), its origin at ``model_offset`` = (x, y). With
    ``outpaint`` the candidate is the whole canvas (the padding outpainted); without, the photo's
    own rectangle (the few px of padding are cropped away)."""

    source: tuple[int, int]
    model: tuple[int, int]
    scale: float
    resized: tuple[int, int]
    model_offset: tuple[int, int]
    outpaint: bool

    @classmethod
    def fit(cls, source: tuple[int, int], size: tuple[int, int], follow_source: bool) -> ModelFrame:
        """The frame for a (H, W) photo in a ``size`` = (W, H) canvas. With ``follow_source`` the
        canvas takes the photo's aspect at about the same area (sides multiples of 8) and the
        candidate is the photo's rectangle; otherwise the photo is letterboxed and the candidate is
        the whole canvas."""
        h, w = source
        mw, mh = size
        if follow_source:
            area = mw * mh
            mw = max(8, int(round(math.sqrt(area * w / h) / 8)) * 8)
            mh = max(8, int(round(math.sqrt(area * h / w) / 8)) * 8)
        scale = min(mw / w, mh / h)
        rw, rh = min(mw, max(1, round(w * scale))), min(mh, max(1, round(h * scale)))
        return cls(source=(h, w), model=(mw, mh), scale=scale, resized=(rw, rh),
                   model_offset=((mw - rw) // 2, (mh - rh) // 2), outpaint=not follow_source)

    @property
    def canvas(self) -> tuple[int, int, int, int]:
        """(W, H, x, y): the candidate's size at the photo's resolution and the photo's origin in it."""
        h, w = self.source
        if not self.outpaint:
            return w, h, 0, 0
        x, y = (round(o / self.scale) for o in self.model_offset)
        return max(w + x, round(self.model[0] / self.scale)), max(h + y, round(self.model[1] / self.scale)), x, y

    def to_model(self, array: np.ndarray, binary: bool = False) -> np.ndarray:
        """An image (or bool mask) of the photo moved into the model canvas; the padding is the
        image's edge pixels (0 for a mask). A ``binary`` 0/255 image (edges) stays 0/255."""
        rw, rh = self.resized
        down = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_CUBIC
        if array.dtype == bool:
            small = cv2.resize(array.astype(np.float32), (rw, rh), interpolation=cv2.INTER_AREA) > 0
        else:
            small = cv2.resize(array, (rw, rh), interpolation=down)
            if binary:
                small = np.where(small >= 64, 255, 0).astype(np.uint8)
        x, y = self.model_offset
        pads = (y, self.model[1] - rh - y, x, self.model[0] - rw - x)
        if array.dtype == bool:
            return np.pad(small, ((pads[0], pads[1]), (pads[2], pads[3])))
        mode = cv2.BORDER_CONSTANT if binary else cv2.BORDER_REPLICATE
        return cv2.copyMakeBorder(small, *pads, mode, value=0)

    def to_canvas(self, model_image: np.ndarray) -> np.ndarray:
        """The model's (H, W, 3) image brought to the candidate canvas (:attr:`canvas`)."""
        width, height, _, _ = self.canvas
        if not self.outpaint:
            (x, y), (rw, rh) = self.model_offset, self.resized
            model_image = model_image[y:y + rh, x:x + rw]
        up = cv2.INTER_CUBIC if self.scale < 1 else cv2.INTER_AREA
        return cv2.resize(np.ascontiguousarray(model_image), (width, height), interpolation=up)


def _library_versions() -> dict[str, str]:
    import importlib.metadata as md

    versions = {}
    for package in ("diffusers", "transformers", "torch", "accelerate", "safetensors"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _family(path: str, index: dict[str, Any]) -> str:
    """``sd15`` or ``sdxl`` from a pipeline's ``model_index.json``; EngineLoadError otherwise."""
    name = str(index.get("_class_name", ""))
    if name.startswith("StableDiffusionXL") and "text_encoder_2" in index:
        return "sdxl"
    if name.startswith("StableDiffusion") and "XL" not in name and "3" not in name:
        return "sd15"
    raise EngineLoadError(f"{LABEL}: model_dir {path} holds a {name or 'unknown'} pipeline; expected a Stable "
                          "Diffusion 1.5-family or SDXL (inpainting) pipeline "
                          "(model_index.json _class_name StableDiffusion[XL][Inpaint]Pipeline)")


def check_controlnet(name: str, folder: str, unet: dict[str, Any], model_dir: str) -> str:
    """The absolute path of ControlNet ``name`` if its ``config.json`` fits the UNet's config
    ``unet``: a ``ControlNetModel`` with 4 input channels (it sees the noisy latents only) and the
    UNet's cross-attention width, blocks and added embeddings; else EngineLoadError."""
    path, config = check_model_dir(folder, LABEL, f"controlnet {name!r}", _HOW)
    problems = []
    if config.get("_class_name") != "ControlNetModel":
        problems.append(f"_class_name {config.get('_class_name')!r} is not 'ControlNetModel'")
    if config.get("in_channels") != 4:
        problems.append(f"in_channels {config.get('in_channels')} != 4 (the latents an inpainting pipeline feeds it)")
    for key in ("cross_attention_dim", "block_out_channels", "addition_embed_type"):
        if config.get(key) != unet.get(key):
            problems.append(f"{key} {config.get(key)} != the UNet's {unet.get(key)}")
    if problems:
        raise EngineLoadError(f"{LABEL}: controlnet {name!r} at {path} does not fit the model at {model_dir} "
                              f"({'; '.join(problems)}): an SD 1.5 ControlNet needs an SD 1.5 model, an SDXL one "
                              f"an SDXL model")
    return path


def check_ip_adapter(folder: str, weight: str) -> tuple[str, str, str]:
    """(folder, weight file relative to it, image encoder folder relative to it) of an IP-Adapter
    in the ``h94/IP-Adapter`` layout: ``<weight>`` and ``image_encoder/`` beside it."""
    path = os.path.abspath(os.path.expanduser(str(folder)))
    encoder = os.path.join(os.path.dirname(weight), "image_encoder")
    expected = f"{weight} and {encoder}/ (config.json + model.safetensors)"
    if not os.path.isfile(os.path.join(path, weight)):
        raise EngineLoadError(f"{LABEL}: ip_adapter_dir {path} has no {weight} (expected {expected}): {_HOW}")
    check_model_dir(os.path.join(path, encoder), LABEL, "IP-Adapter image encoder", _HOW)
    return path, weight, encoder


@dataclass
class LoadedModels:
    """What a :class:`DiffusersGenerator` runs: the base inpainting pipeline, ControlNets by name,
    whether an IP-Adapter is loaded, and the digests of the weight files (``"in memory"`` for
    models built in memory, as the benchmark does)."""

    pipe: Any
    family: str
    controlnets: dict[str, Any]
    ip_adapter: bool
    weights: dict[str, str]


def _resolve_device(device: str, dtype: str) -> tuple[str, str]:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineLoadError(f"{LABEL}: device {device!r} asked for, but torch sees no CUDA GPU")
    if dtype == "auto":
        dtype = "float16" if device.startswith("cuda") else "float32"
    if dtype not in ("float32", "float16", "bfloat16"):
        raise EngineLoadError(f"{LABEL}: dtype must be auto, float32, float16 or bfloat16, got {dtype!r}")
    if dtype == "float16" and not device.startswith("cuda"):
        raise EngineLoadError(f"{LABEL}: dtype float16 needs a CUDA device; use float32 on CPU")
    return device, dtype


def load_models(model_dir: str | None, controlnet_dirs: dict[str, str] | None, ip_adapter_dir: str | None,
                ip_adapter_weight: str | None, dtype: str, hash_weights: bool = True) -> LoadedModels:
    """Check every folder, then load the pipeline, ControlNets and IP-Adapter with
    ``local_files_only=True`` (nothing is downloaded). Every problem is one EngineLoadError."""
    import torch
    from diffusers import AutoPipelineForInpainting, ControlNetModel

    path, index = check_pipeline_dir(model_dir, LABEL, "engines.generate.options.model_dir", _HOW)
    family = _family(path, index)
    unet_config = check_model_dir(os.path.join(path, "unet"), LABEL, "unet", _HOW)[1]
    if unet_config.get("in_channels") not in (4, 9):
        raise EngineLoadError(f"{LABEL}: {path}/unet has in_channels {unet_config.get('in_channels')}; expected 9 "
                              "(an inpainting UNet) or 4 (a base model, inpainted by latent blending)")
    nets = {str(n): check_controlnet(str(n), d, unet_config, path) for n, d in (controlnet_dirs or {}).items()}
    adapter = None
    if ip_adapter_dir:
        adapter = check_ip_adapter(ip_adapter_dir, ip_adapter_weight or FAMILY_DEFAULTS[family]["ip_adapter_weight"])
    torch_dtype = getattr(torch, dtype)
    try:
        pipe = AutoPipelineForInpainting.from_pretrained(path, dtype=torch_dtype, local_files_only=True)
        controlnets = {n: ControlNetModel.from_pretrained(d, dtype=torch_dtype, local_files_only=True)
                       for n, d in nets.items()}
        if adapter:
            pipe.load_ip_adapter(adapter[0], subfolder=os.path.dirname(adapter[1]),
                                 weight_name=os.path.basename(adapter[1]), image_encoder_folder="image_encoder",
                                 local_files_only=True)
    except Exception as exc:  # diffusers/transformers raise many kinds for a bad folder
        raise EngineLoadError(f"{LABEL}: cannot load the models (model_dir {path}, controlnets "
                              f"{nets or 'none'}, ip_adapter_dir {adapter[0] if adapter else 'none'}): "
                              f"{type(exc).__name__}: {exc}: {_HOW}") from None
    weights = {}
    if hash_weights:
        weights = {"model": weight_digest(path), **{f"controlnet/{n}": weight_digest(d) for n, d in nets.items()}}
        if adapter:
            weights["ip_adapter"] = weight_digest(os.path.join(adapter[0], os.path.dirname(adapter[1])))
    return LoadedModels(pipe=pipe, family=family, controlnets=controlnets, ip_adapter=bool(adapter), weights=weights)


class DiffusersGenerator:
    """The ``diffusers`` generate engine (see the module docstring for its options)."""

    name = "diffusers"
    kinds = GENERATIVE_KINDS   # the recipe kinds it makes (generate_batch)

    def __init__(self, model_dir: str | None = None, controlnet_dirs: dict[str, str] | None = None,
                 ip_adapter_dir: str | None = None, ip_adapter_weight: str | None = None,
                 device: str = "auto", dtype: str = "auto", hash_weights: bool = True, **options: Any):
        device, dtype = _resolve_device(str(device), str(dtype))
        if controlnet_dirs is not None and not isinstance(controlnet_dirs, dict):
            raise EngineLoadError(f"{LABEL}: controlnet_dirs must map a name (openpose, canny...) to a folder")
        models = load_models(model_dir, controlnet_dirs, ip_adapter_dir, ip_adapter_weight, dtype, hash_weights)
        self._configure(models, device, dtype, **options)

    @classmethod
    def from_models(cls, models: LoadedModels, device: str = "auto", dtype: str = "auto",
                    **options: Any) -> DiffusersGenerator:
        """An engine around models already in memory (the benchmark's random-weight full-size
        models); ``options`` as for the config."""
        device, dtype = _resolve_device(str(device), str(dtype))
        engine = cls.__new__(cls)
        engine._configure(models, device, dtype, **options)
        return engine

    def _configure(self, models: LoadedModels, device: str, dtype: str, size: list[int] | None = None,
                   fit: str = "source", steps: int = 20, guidance_scale: float | None = None,
                   controlnet_scale: float | dict[str, float] = 0.8, ip_adapter_scale: float = 0.5,
                   batch_size: int = 4, feather_px: int = 6, scheduler: str = "saved",
                   channels_last: bool | str = "auto", compile: bool = False, attention: str = "sdpa",
                   default_prompt: str = "a professional e-commerce photo of the product, soft natural light, "
                                         "clean uncluttered setting") -> None:
        import torch

        defaults = FAMILY_DEFAULTS[models.family]
        self.size = tuple(int(v) for v in (size or defaults["size"]))
        if len(self.size) != 2 or min(self.size) < 8 or any(v % 8 for v in self.size):
            raise EngineLoadError(f"{LABEL}: size must be [width, height], multiples of 8, got {size}")
        if fit not in ("source", "canvas"):
            raise EngineLoadError(f"{LABEL}: fit must be source or canvas, got {fit!r}")
        self.steps, self.batch_size, self.feather_px = int(steps), int(batch_size), int(feather_px)
        if self.steps < (2 if models.family == "sdxl" else 1) or self.batch_size < 1 or self.feather_px < 0:
            raise EngineLoadError(f"{LABEL}: steps must be >= 1 (>= 2 for SDXL inpainting), batch_size >= 1, "
                                  f"feather_px >= 0; got {steps}, {batch_size}, {feather_px}")
        scales = controlnet_scale if isinstance(controlnet_scale, dict) else {}
        unknown = set(scales) - set(models.controlnets)
        if unknown:
            raise EngineLoadError(f"{LABEL}: controlnet_scale names {sorted(unknown)} are not in controlnet_dirs")
        self.controlnet_scale = {n: float(scales.get(n, 0.8) if scales else controlnet_scale)
                                 for n in models.controlnets}
        self.fit, self.device, self.dtype, self.family = fit, device, dtype, models.family
        self.guidance_scale = float(defaults["guidance_scale"] if guidance_scale is None else guidance_scale)
        self.default_prompt = default_prompt
        self._models, self._torch = models, torch
        self._pipelines: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()  # one set of models shared by all threads of the worker
        self._prepare_pipeline(scheduler, channels_last, compile, attention, float(ip_adapter_scale))
        self._versions = _library_versions()

    def _prepare_pipeline(self, scheduler: str, channels_last: bool | str, compile: bool, attention: str,
                          ip_adapter_scale: float) -> None:
        """Move the models to the device and apply the scheduler, memory format, attention and
        compile options."""
        import diffusers

        pipe, torch = self._models.pipe, self._torch
        pipe.to(self.device)
        for net in self._models.controlnets.values():
            net.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        if scheduler != "saved":
            if scheduler not in SCHEDULERS:
                raise EngineLoadError(f"{LABEL}: scheduler must be saved or one of {sorted(SCHEDULERS)}, got {scheduler!r}")
            pipe.scheduler = getattr(diffusers, SCHEDULERS[scheduler]).from_config(pipe.scheduler.config)
        if attention not in ("sdpa", "classic"):
            raise EngineLoadError(f"{LABEL}: attention must be sdpa or classic, got {attention!r}")
        modules = [pipe.unet, *self._models.controlnets.values()]
        if self._models.ip_adapter:  # its own attention processors (SDPA) stay
            if attention == "classic":
                raise EngineLoadError(f"{LABEL}: attention classic cannot be combined with an IP-Adapter")
            pipe.set_ip_adapter_scale(ip_adapter_scale)
        else:
            from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
            for module in modules:
                module.set_attn_processor(AttnProcessor2_0() if attention == "sdpa" else AttnProcessor())
        if channels_last == "auto":
            channels_last = self.device.startswith("cuda")
        for module in modules:
            module.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        for module in modules if compile else ():
            module.compile()  # torch.compile in place: the pipelines keep their module types
        self.options_meta = {"scheduler": type(pipe.scheduler).__name__, "channels_last": bool(channels_last),
                             "compile": bool(compile), "attention": attention,
                             "ip_adapter_scale": ip_adapter_scale if self._models.ip_adapter else None}

    def _pipeline_for(self, names: tuple[str, ...]) -> Any:
        """The pipeline running the ControlNets ``names`` (none: the base inpainting pipeline),
        sharing the base pipeline's modules; made once."""
        if names not in self._pipelines:
            from diffusers import StableDiffusionControlNetInpaintPipeline, StableDiffusionXLControlNetInpaintPipeline
            from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

            base = self._models.pipe
            if not names:
                self._pipelines[names] = base
            else:
                nets = [self._models.controlnets[n] for n in names]
                cls = (StableDiffusionXLControlNetInpaintPipeline if self.family == "sdxl"
                       else StableDiffusionControlNetInpaintPipeline)
                pipe = cls.from_pipe(base, controlnet=nets[0] if len(nets) == 1 else MultiControlNetModel(nets),
                                     dtype=getattr(self._torch, self.dtype))
                pipe.set_progress_bar_config(disable=True)
                self._pipelines[names] = pipe
        return self._pipelines[names]

    # ------------------------------------------------------------------ generating

    def generate(self, image: np.ndarray, mask: np.ndarray, recipe: Recipe) -> Generated:
        """One candidate: the product ``mask`` kept, the rest redrawn (a scene swap), prompted by
        ``recipe.prompt`` or, when it is empty, ``default_prompt`` (as :meth:`generate_batch`)."""
        from catloc.generative import scene_swap

        return self.generate_batch(image, [scene_swap(image, mask, recipe)])[0]

    def generate_batch(self, image: np.ndarray, requests: list[GenerationRequest]) -> list[Generated]:
        """One candidate per request, in order (see the module docstring, steps 1-3).

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray
            The cleaned photo.
        requests : list of GenerationRequest
            Masks and control images at the photo's size; recipes with ``prompt`` (empty: ``default_prompt``), ``seed``.

        Returns
        -------
        candidates : list of Generated
            Each at the photo's resolution (plus the few px of model padding), ``offset`` the
            photo's origin in it, ``scale`` 1.0, ``product_mask`` the request's ``keep`` there;
            ``meta`` holds the seed, prompts, model settings, weight digests and library versions.
        """
        _check_requests(image, requests)
        requests = [r if r.recipe.prompt else replace(r, recipe=replace(r.recipe, prompt=self.default_prompt))
                    for r in requests]
        frame = ModelFrame.fit(image.shape[:2], self.size, self.fit == "source")
        reference = _reference(image, requests) if self._models.ip_adapter else None
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, request in enumerate(requests):
            names = tuple(n for n in self._models.controlnets if n in request.control)
            groups.setdefault(names, []).append(i)
        results: list[Generated | None] = [None] * len(requests)
        for names, indices in groups.items():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                outputs = self._run(image, [requests[i] for i in chunk], names, frame, reference)
                for i, (model_image, flagged) in zip(chunk, outputs):
                    results[i] = self._finish(image, requests[i], model_image, frame, names, flagged)
        return results  # type: ignore[return-value]

    def _run(self, image: np.ndarray, requests: list[GenerationRequest], names: tuple[str, ...],
             frame: ModelFrame, reference: np.ndarray | None) -> list[tuple[np.ndarray, bool]]:
        """The model's (H, W, 3) uint8 images at model size for one batch, with the safety
        checker's flag (False without one)."""
        from PIL import Image

        torch = self._torch
        base = self._models.pipe
        width, height = frame.model
        photo = Image.fromarray(frame.to_model(image))
        outside = ~frame.to_model(np.ones(image.shape[:2], bool))
        factor = base.vae_scale_factor
        # grown by one latent cell, so that every cell the region touches is redrawn
        masks = [Image.fromarray((dilate(frame.to_model(r.regenerate & ~r.keep) | outside, factor, square=True)
                                  * 255).astype(np.uint8)) for r in requests]
        generators = [torch.Generator("cpu").manual_seed(int(r.recipe.seed)) for r in requests]
        latents = torch.cat([torch.randn((1, base.vae.config.latent_channels, height // factor, width // factor),
                                         generator=g, dtype=torch.float32) for g in generators])
        kwargs: dict[str, Any] = dict(
            prompt=[r.recipe.prompt for r in requests], negative_prompt=[r.recipe.negative_prompt for r in requests],
            image=[photo] * len(requests), mask_image=masks, height=height, width=width, strength=1.0,
            num_inference_steps=self.steps, guidance_scale=self.guidance_scale, generator=generators,
            latents=latents.to(self.device, getattr(torch, self.dtype)), output_type="np")
        if names:
            # one (B, 3, H, W) 0..1 tensor per ControlNet: the pipelines refuse nested lists of images
            controls = [torch.from_numpy(np.stack([frame.to_model(r.control[n], binary=_is_binary(r.control[n]))
                                                   for r in requests])).permute(0, 3, 1, 2).float() / 255.0
                        for n in names]
            kwargs["control_image"] = controls[0] if len(names) == 1 else controls
            scales = [self.controlnet_scale[n] for n in names]
            kwargs["controlnet_conditioning_scale"] = scales[0] if len(names) == 1 else scales
        if reference is not None:
            kwargs["ip_adapter_image"] = Image.fromarray(reference)
        with self._lock, torch.inference_mode():
            output = self._pipeline_for(names)(**kwargs)
        flags = getattr(output, "nsfw_content_detected", None) or [False] * len(requests)
        images = np.clip(np.rint(np.nan_to_num(np.asarray(output.images, np.float32)) * 255.0), 0, 255)
        return [(im.astype(np.uint8), bool(flag)) for im, flag in zip(images, flags)]

    def _finish(self, image: np.ndarray, request: GenerationRequest, model_image: np.ndarray, frame: ModelFrame,
                names: tuple[str, ...], flagged: bool) -> Generated:
        """The candidate at the photo's resolution with the kept pixels composited back."""
        width, height, x, y = frame.canvas
        h, w = image.shape[:2]
        generated = frame.to_canvas(model_image)
        base = generated.copy()
        base[y:y + h, x:x + w] = image
        keep = np.zeros((height, width), bool)
        keep[y:y + h, x:x + w] = request.keep
        regenerate = np.ones((height, width), bool)
        regenerate[y:y + h, x:x + w] = request.regenerate
        candidate = feathered_composite(base, generated, keep, regenerate, self.feather_px)
        recipe = request.recipe
        meta = {"kind": recipe.kind, "seed": int(recipe.seed), "prompt": recipe.prompt,
                "negative_prompt": recipe.negative_prompt, "family": self.family, "steps": self.steps,
                "guidance_scale": self.guidance_scale, "model_size": list(frame.model),
                "controlnets": {n: self.controlnet_scale[n] for n in names}, "device": self.device,
                "dtype": self.dtype, "feather_px": self.feather_px,
                "seam_colour_shift": round(seam_colour_shift(generated, base, keep, max(1, self.feather_px)), 3),
                "safety_flagged": flagged, "weights": dict(self._models.weights) or "in memory",
                "versions": dict(self._versions), **self.options_meta}
        return Generated(image=candidate, product_mask=keep, offset=(x, y), scale=1.0, meta=meta)


def _is_binary(image: np.ndarray) -> bool:
    """Whether a control image holds only 0 and 255 (an edge map: kept crisp when resized)."""
    return bool(np.isin(image, (0, 255)).all())


def _reference(image: np.ndarray, requests: list[GenerationRequest]) -> np.ndarray:
    """The garment reference for the IP-Adapter: the bounding box of every request's ``keep`` on
    white. One per photo, shared by the batch (the pipelines give every image of a batch the same
    IP-Adapter embedding, so a per-candidate reference would make candidates batch-dependent)."""
    keep = np.logical_or.reduce([r.keep for r in requests])
    ys, xs = np.nonzero(keep)
    crop = np.where(keep[..., None], image, np.uint8(255))[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.ascontiguousarray(crop)


def _check_requests(image: np.ndarray, requests: list[GenerationRequest]) -> None:
    """ValueError naming the candidate for a request that cannot be run."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{LABEL}: image must be a uint8 (H, W, 3) array, got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
    for request in requests:
        cid = request.recipe.candidate_id
        for label, mask in (("keep", request.keep), ("regenerate", request.regenerate)):
            if mask.shape != image.shape[:2] or mask.dtype != bool:
                raise ValueError(f"{LABEL}: candidate {cid}: {label} must be a bool {image.shape[:2]} mask, "
                                 f"got {mask.dtype} {mask.shape}")
        if not request.keep.any():
            raise ValueError(f"{LABEL}: candidate {cid}: empty keep mask (no product to keep)")
        if not (request.regenerate & ~request.keep).any():
            raise ValueError(f"{LABEL}: candidate {cid}: nothing to regenerate outside the product")
        for name, control in request.control.items():
            if control.shape != image.shape or control.dtype != np.uint8:
                raise ValueError(f"{LABEL}: candidate {cid}: control image {name!r} must be uint8 {image.shape}, "
                                 f"got {control.dtype} {control.shape}")
