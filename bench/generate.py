"""Benchmark of the diffusers generate engine: seconds per SKU and peak memory, on the full-size
Stable Diffusion 1.5 inpainting + ControlNet and SDXL inpainting + ControlNet architectures.

The models are built here with random weights from the published configurations
(``catloc/random_models.py``: same layers, same compute as the released models; nothing is
downloaded, so the images are noise and only the timing means anything). They run through the
engine's own batch path (``DiffusersGenerator.generate_batch``: per-candidate seeded latents,
ControlNet conditioning, classifier-free guidance, compositing the product back at source
resolution). A SKU is one drawn model photo (``tests/synth_person.py``) and ``--candidates``
requests (``--mix``: model_swap candidates use the ``openpose`` ControlNet, scene_swap ones the
``canny`` ControlNet; both kinds load both). The first SKU of each variant is a warm-up (and
compiles, with ``compile``); the mean of the next ``--skus`` SKUs is reported.

Variants (``--variants``, applied in this order to the same models):
  baseline       PyTorch SDPA attention, contiguous memory, eager
  classic        diffusers' classic attention (no SDPA), for comparison
  channels_last  SDPA + channels-last UNet/ControlNets
  compile        SDPA + channels-last + torch.compile of the UNet and ControlNets

Run from the repository root:
  .venv/bin/python bench/generate.py                      # GPU: SD 1.5 at 768x1024 and SDXL at 1024x1024,
                                                          # 8 candidates, 20 steps, CFG
  .venv/bin/python bench/generate.py --reduced            # CPU: SD 1.5 at 256x320, 2 steps, 2 candidates
                                                          # (compile is left out: inductor on CPU wants a compiler)
  .venv/bin/python bench/generate.py --family sdxl --variants baseline,compile --json bench/out/gen.json
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from catloc.config import load_pipeline_config  # noqa: E402
from catloc.engines.base import Recipe  # noqa: E402
from catloc.engines.generate_diffusers import FAMILY_DEFAULTS, DiffusersGenerator, LoadedModels  # noqa: E402
from catloc.generative import mannequin_to_model, model_swap, scene_swap  # noqa: E402
from catloc.random_models import build_controlnet, build_inpaint_pipeline  # noqa: E402
from tests.synth_person import person_photo  # noqa: E402

VARIANTS = {"baseline": dict(attention="sdpa", channels_last=False, compile=False),
            "classic": dict(attention="classic", channels_last=False, compile=False),
            "channels_last": dict(attention="sdpa", channels_last=True, compile=False),
            "compile": dict(attention="sdpa", channels_last=True, compile=True)}
CONTROLNET_OF = {"model_swap": "openpose", "scene_swap": "canny", "mannequin_to_model": "openpose"}


def build_models(family: str, device: str, dtype: str, controlnets: list[str]) -> LoadedModels:
    """The full-size random-weight pipeline and the ``controlnets``, built on ``device`` in ``dtype``."""
    import torch

    with tempfile.TemporaryDirectory() as tokenizers, torch.device(device):
        pipe = build_inpaint_pipeline(family, "full", tokenizer_dir=tokenizers)
        nets = {name: build_controlnet(family, "full", seed=i + 1) for i, name in enumerate(controlnets)}
    pipe.to(dtype=getattr(torch, dtype))
    for net in nets.values():
        net.to(dtype=getattr(torch, dtype))
    return LoadedModels(pipe=pipe, family=family, controlnets=nets, ip_adapter=False, weights={})


def sku_requests(mix: dict[str, int], size: tuple[int, int], sku: int) -> tuple:
    """One drawn model photo of ``size`` = (W, H) and its requests, seeds from ``sku``."""
    image, parsing = person_photo(size[1], size[0])
    template = load_pipeline_config().pose_templates["top"]
    requests, i = [], 0
    for kind, count in mix.items():
        for _ in range(count):
            recipe = Recipe(f"c{i + 1:02d}", {"id": "bench"}, 0.8, "center", (3, 4), 0.03, seed=1000 * sku + i,
                            persona={"id": "p"}, kind=kind, prompt=f"a person, photo {i}", negative_prompt="text")
            if kind == "model_swap":
                requests.append(model_swap(parsing, parsing.mask("garment"), recipe))
            elif kind == "scene_swap":
                requests.append(scene_swap(image, parsing.mask("person"), recipe))
            else:
                requests.append(mannequin_to_model(image, parsing.mask("upper_clothes"), template, recipe))
            i += 1
    return image, requests


def run_variant(models: LoadedModels, variant: str, args, device: str, dtype: str) -> dict:
    """Warm up on one SKU, then time ``args.skus`` SKUs; seconds per SKU and peak memory."""
    import torch

    size = args.size or FAMILY_DEFAULTS[models.family]["size"]
    engine = DiffusersGenerator.from_models(models, device=device, dtype=dtype, size=list(size),
                                            fit="source", steps=args.steps, batch_size=args.batch, **VARIANTS[variant])
    cuda = device.startswith("cuda")
    image, requests = sku_requests(args.mix, size, 0)
    engine.generate_batch(image, requests)                            # warm-up (and compile)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for sku in range(1, args.skus + 1):
        image, requests = sku_requests(args.mix, size, sku)
        start = time.perf_counter()
        candidates = engine.generate_batch(image, requests)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        assert len(candidates) == len(requests)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"family": models.family, "variant": variant, "size": f"{size[0]}x{size[1]}", "steps": args.steps,
            "candidates": len(requests), "batch": args.batch, "seconds_per_sku": round(sum(times) / len(times), 2),
            "seconds_max": round(max(times), 2), "peak_gib": round(peak, 2),
            "peak_kind": "GPU allocated" if cuda else "process RSS (max)"}


def parse_args(argv: list[str] | None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", default=None, help="sd15, sdxl or both (default: both on a GPU, sd15 on CPU)")
    ap.add_argument("--device", default="auto", help="auto | cuda | cpu")
    ap.add_argument("--size", default=None,
                    help="model canvas WxH, the photo is drawn at this size (default: 768x1024 SD 1.5, 1024x1024 SDXL)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--mix", default="model_swap=8", help="candidates per SKU by kind, e.g. model_swap=6,scene_swap=2")
    ap.add_argument("--batch", type=int, default=8, help="candidates per pipeline call")
    ap.add_argument("--skus", type=int, default=3, help="timed SKUs per variant (after one warm-up)")
    ap.add_argument("--variants", default=None,
                    help="comma-separated (default: baseline,classic,channels_last,compile; with --reduced no compile)")
    ap.add_argument("--reduced", action="store_true", help="CPU-sized run: 256x320, 2 steps, 2 candidates, 1 SKU")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    if args.reduced:
        args.size, args.steps, args.mix, args.batch, args.skus = "256x320", 2, "model_swap=2", 2, 1
    args.size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    args.mix = {k: int(v) for k, v in (item.split("=") for item in args.mix.split(","))}
    args.variants = (args.variants or ("baseline,classic,channels_last" if args.reduced else ",".join(VARIANTS))).split(",")
    unknown = [v for v in args.variants if v not in VARIANTS] + [k for k in args.mix if k not in CONTROLNET_OF]
    if unknown:
        ap.error(f"unknown variant(s) or kind(s): {unknown}")
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    import torch

    args = parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    dtype = "float16" if device.startswith("cuda") else "float32"
    families = {"both": ["sd15", "sdxl"], None: ["sd15", "sdxl"] if device.startswith("cuda") else ["sd15"]}.get(
        args.family, [args.family])
    hardware = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU ({platform.processor() or 'x86'}, " \
        f"{torch.get_num_threads()} threads)"
    print(f"device: {hardware}, {dtype}; torch {torch.__version__}")
    rows = []
    for family in families:
        started = time.perf_counter()
        models = build_models(family, device, dtype, sorted({CONTROLNET_OF[kind] for kind in args.mix}))
        print(f"{family}: built random-weight full-size models in {time.perf_counter() - started:.0f} s")
        for variant in args.variants:
            try:
                rows.append(run_variant(models, variant, args, device, dtype))
            except torch.cuda.OutOfMemoryError:  # e.g. classic attention's full score matrices at 768x1024
                torch.cuda.empty_cache()
                size = args.size or FAMILY_DEFAULTS[family]["size"]
                rows.append({"family": family, "variant": variant, "size": f"{size[0]}x{size[1]}",
                             "steps": args.steps, "candidates": sum(args.mix.values()), "batch": args.batch,
                             "seconds_per_sku": "out of memory", "seconds_max": "-", "peak_gib": "-", "peak_kind": "-"})
            print(_table(rows[-1:], header=len(rows) == 1), flush=True)
        del models
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"device": hardware, "dtype": dtype, "rows": rows}, indent=2))
    print("\n" + _table(rows, header=True))
    return rows


def _table(rows: list[dict], header: bool) -> str:
    columns = ("family", "variant", "size", "steps", "candidates", "batch", "seconds_per_sku", "seconds_max", "peak_gib",
               "peak_kind")
    lines = [" | ".join(columns)] if header else []
    lines += [" | ".join(str(row[c]) for c in columns) for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
