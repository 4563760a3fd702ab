"""The diffusers generator engine on tiny random-weight models these tests build and save in the
released file layouts (SD 1.5 and SDXL inpainting pipelines with 9-channel UNets and 8x VAEs,
4-channel ControlNets made with ``ControlNetModel.from_unet``, IP-Adapter weights and image
encoder as in ``h94/IP-Adapter``), loaded through a pipeline.yaml as users configure it, with the
network and the Hugging Face hub downloads made to fail."""
from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from catloc.config import EngineSpec, load_pipeline_config
from catloc.engines import load_engine
from catloc.engines.base import EngineLoadError, Recipe
from catloc.generative import mannequin_to_model, model_swap, scene_swap
from catloc.imaging import dilate
from catloc.random_models import build_controlnet, build_inpaint_pipeline, save_ip_adapter
from tests.synth_person import person_photo

HEX16 = re.compile(r"^[0-9a-f]{16}$")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run faster on one thread (and far faster on a loaded machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def offline(monkeypatch):
    """Sockets refuse to connect and every Hugging Face hub download function raises."""
    import diffusers.configuration_utils
    import diffusers.pipelines.pipeline_utils
    import diffusers.utils.hub_utils
    import huggingface_hub
    import huggingface_hub.file_download
    import transformers.utils.hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to reach the network or the hub: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    for module in (huggingface_hub, huggingface_hub.file_download, diffusers.configuration_utils,
                   diffusers.pipelines.pipeline_utils, diffusers.utils.hub_utils, transformers.utils.hub):
        for name in ("hf_hub_download", "snapshot_download"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)


def _save_models(root: Path, family: str) -> Path:
    pipe = build_inpaint_pipeline(family, "tiny", tokenizer_dir=root / "tokenizers")
    pipe.save_pretrained(str(root / "inpaint"))
    build_controlnet(family, "tiny", seed=1).save_pretrained(str(root / "controlnet-openpose"))
    build_controlnet(family, "tiny", seed=2).save_pretrained(str(root / "controlnet-canny"))
    save_ip_adapter(root / "IP-Adapter", pipe.unet, family)
    return root


@pytest.fixture(scope="module")
def sd15(tmp_path_factory) -> Path:
    root = _save_models(tmp_path_factory.mktemp("sd15"), "sd15")
    for part in ("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "vae", "text_encoder",
                 "tokenizer/tokenizer_config.json", "scheduler", "../controlnet-canny/config.json",
                 "../IP-Adapter/models/ip-adapter_sd15.safetensors", "../IP-Adapter/models/image_encoder/config.json"):
        assert (root / "inpaint" / part).exists(), part
    return root


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory) -> Path:
    root = _save_models(tmp_path_factory.mktemp("sdxl"), "sdxl")
    assert (root / "inpaint" / "text_encoder_2").is_dir() and (root / "inpaint" / "tokenizer_2").is_dir()
    assert (root / "IP-Adapter" / "sdxl_models" / "ip-adapter_sdxl.safetensors").is_file()
    return root


def _options(root: Path, **extra) -> dict:
    return {"model_dir": str(root / "inpaint"), "size": [64, 96], "steps": 2, "batch_size": 4, **extra}


def _engine_through_config(tmp_path: Path, root: Path, **extra):
    """The engine as `catloc run` builds it: a pipeline.yaml with relative folders."""
    data = yaml.safe_load(Path(load_pipeline_config().path).read_text(encoding="utf-8"))
    rel = Path("..") / root.name
    data["engines"]["generate"] = {"name": "diffusers", "options": {
        "model_dir": str(rel / "inpaint"), "ip_adapter_dir": str(rel / "IP-Adapter"),
        "controlnet_dirs": {"openpose": str(rel / "controlnet-openpose"), "canny": str(rel / "controlnet-canny")},
        "size": [64, 96], "steps": 2, "batch_size": 4, **extra}}
    folder = root.parent / f"config-{tmp_path.name}"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    cfg = load_pipeline_config(folder / "pipeline.yaml")
    return load_engine("generate", cfg.engine("generate"))


def _recipe(i: int, kind: str, persona: dict | None = None) -> Recipe:
    return Recipe(f"c{i:02d}", {"id": "scene"}, 0.8, "center", (1, 1), 0.03, seed=1000 + i, persona=persona,
                  kind=kind, prompt=f"{kind} prompt {i}", negative_prompt="text, watermark")


def _in_source(candidate, shape):
    x, y = candidate.offset
    return candidate.image[y:y + shape[0], x:x + shape[1]]


def test_each_recipe_keeps_product_pixels_and_records_how_it_was_made(tmp_path, sd15, offline):
    import diffusers

    from catloc.tasks.qc import product_fidelity

    engine = _engine_through_config(tmp_path, sd15)
    assert engine.name == "diffusers" and engine.family == "sd15"
    image, parsing = person_photo(160, 96)
    person, garment = parsing.mask("person"), parsing.mask("garment")
    requests = [scene_swap(image, person, _recipe(1, "scene_swap")),
                model_swap(parsing, garment, _recipe(2, "model_swap", {"id": "sa_f1", "hijab": True})),
                mannequin_to_model(image, parsing.mask("upper_clothes"), load_pipeline_config().pose_templates["top"],
                                   _recipe(3, "mannequin_to_model", {"id": "sa_m1"}))]
    candidates = engine.generate_batch(image, requests)
    assert len(candidates) == 3
    used = [set(c.meta["controlnets"]) for c in candidates]
    assert used == [{"canny"}, {"openpose"}, {"openpose", "canny"}]
    for request, candidate in zip(requests, candidates):
        out = candidate.image
        assert out.dtype == np.uint8 and out.shape[2] == 3 and candidate.scale == 1.0
        assert out.shape[0] >= 160 and out.shape[1] >= 96 and out.shape[0] - 160 < 8 and out.shape[1] - 96 < 8
        inside = _in_source(candidate, image.shape)
        assert np.array_equal(inside[request.keep], image[request.keep])          # product pixels byte-equal
        placed = candidate.product_mask[candidate.offset[1]:, candidate.offset[0]:][:160, :96]
        assert np.array_equal(placed, request.keep) and candidate.product_mask.sum() == request.keep.sum()
        untouched = ~request.keep & ~dilate(request.regenerate, engine.feather_px + 1)
        assert np.array_equal(inside[untouched], image[untouched])                 # neither kept nor redrawn
        redrawn = request.regenerate & ~dilate(request.keep, engine.feather_px + 1)
        assert (inside[redrawn] != image[redrawn]).any(axis=-1).mean() > 0.5
        fidelity, share = product_fidelity(out, image, request.keep, candidate.product_mask, candidate.offset, 1.0)
        assert fidelity == 1.0 and share == 1.0
        meta = candidate.meta
        assert meta["seed"] == request.recipe.seed and meta["kind"] == request.recipe.kind
        assert meta["prompt"] == request.recipe.prompt and meta["steps"] == 2 and meta["family"] == "sd15"
        assert set(meta["weights"]) == {"model", "controlnet/openpose", "controlnet/canny", "ip_adapter"}
        assert all(HEX16.match(v) for v in meta["weights"].values())
        assert meta["versions"]["diffusers"] == diffusers.__version__ and meta["versions"]["accelerate"] != "not installed"
        assert meta["device"] == "cpu" and meta["dtype"] == "float32" and meta["seam_colour_shift"] >= 0
    assert len({c.meta["weights"]["controlnet/openpose"] for c in candidates} |
               {c.meta["weights"]["controlnet/canny"] for c in candidates}) == 2


def test_a_candidate_is_the_same_alone_or_in_any_batch_and_every_night(sd15):
    image, parsing = person_photo(160, 96)
    person = parsing.mask("person")
    options = _options(sd15, controlnet_dirs={"canny": str(sd15 / "controlnet-canny")})
    batched = load_engine("generate", EngineSpec("diffusers", {**options, "batch_size": 4}))
    alone = load_engine("generate", EngineSpec("diffusers", {**options, "batch_size": 1}))
    assert batched is not alone
    requests = [scene_swap(image, person, _recipe(i, "scene_swap")) for i in range(4)]
    together = batched.generate_batch(image, requests)
    singles = [alone.generate_batch(image, [r])[0] for r in requests]
    reordered = batched.generate_batch(image, requests[::-1])[::-1]
    for a, b, c in zip(together, singles, reordered):
        for other in (b, c):
            diff = np.abs(a.image.astype(int) - other.image.astype(int))
            assert diff.max() <= 1 and (diff == 0).mean() > 0.99   # batched kernels round differently
        assert np.array_equal(_in_source(a, image.shape)[person], image[person])
    again = batched.generate_batch(image, requests)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(together, again))   # repeatable
    assert not np.array_equal(together[0].image, together[1].image)              # own seed, own noise
    assert [c.meta["seed"] for c in together] == [1000, 1001, 1002, 1003]


def test_sdxl_with_controlnet_and_ip_adapter(sdxl, offline):
    engine = load_engine("generate", EngineSpec("diffusers", _options(
        sdxl, controlnet_dirs={"canny": str(sdxl / "controlnet-canny")}, ip_adapter_dir=str(sdxl / "IP-Adapter"),
        batch_size=2)))
    assert engine.family == "sdxl" and engine.guidance_scale == 5.0
    image, parsing = person_photo(120, 72)
    person = parsing.mask("person")
    candidates = engine.generate_batch(image, [scene_swap(image, person, _recipe(i, "scene_swap")) for i in range(3)])
    assert len(candidates) == 3
    for candidate in candidates:
        assert np.array_equal(_in_source(candidate, image.shape)[person], image[person])
        assert candidate.meta["family"] == "sdxl" and candidate.meta["ip_adapter_scale"] == 0.5
    with pytest.raises(EngineLoadError, match=r">= 2 for SDXL inpainting"):
        load_engine("generate", EngineSpec("diffusers", _options(sdxl, steps=1)))


def test_generate_one_candidate_and_the_studio_default(sd15):
    engine = load_engine("generate", EngineSpec("diffusers", _options(sd15)))   # no ControlNet, no IP-Adapter
    image, parsing = person_photo(96, 64)
    mask = parsing.mask("person")
    recipe = Recipe("c01", {"id": "white", "kind": "solid", "colors": ["#ffffff"]}, 0.8, "center", (1, 1), 0.03,
                    seed=7)                                          # a studio recipe, no prompt
    candidate = engine.generate(image, mask, recipe)
    assert candidate.meta["prompt"] == engine.default_prompt and candidate.meta["controlnets"] == {}
    assert np.array_equal(_in_source(candidate, image.shape)[mask], image[mask])
    studio = load_engine("generate", load_pipeline_config().engine("generate"))
    assert studio.name == "studio"                                   # the offline default, no weights
    made = studio.generate_batch(image, [scene_swap(image, mask, recipe)])
    assert len(made) == 1 and made[0].product_mask.sum() == mask.sum()
    with pytest.raises(ValueError, match="candidate c01: nothing to regenerate"):
        engine.generate_batch(image, [scene_swap(image, np.ones_like(mask), recipe)])


def _error(options: dict) -> str:
    with pytest.raises(EngineLoadError) as info:
        load_engine("generate", EngineSpec("diffusers", options))
    return str(info.value)


def test_missing_or_mismatched_weights_are_one_clear_error_at_start(tmp_path, sd15, sdxl):
    gone = tmp_path / "no-such-model"
    message = _error({"model_dir": str(gone)})
    assert str(gone) in message and "does not exist" in message
    for part in ("model_index.json", "unet/", "vae/", "text_encoder/", "tokenizer/", "scheduler/", "HF_HUB_OFFLINE"):
        assert part in message
    assert "model_dir is not set" in _error({})

    no_weights = tmp_path / "cn-no-weights"
    no_weights.mkdir()
    shutil.copy(sd15 / "controlnet-canny" / "config.json", no_weights / "config.json")
    message = _error(_options(sd15, controlnet_dirs={"canny": str(no_weights)}))
    assert str(no_weights) in message and "is missing a weight file" in message and "controlnet 'canny'" in message

    message = _error(_options(sd15, controlnet_dirs={"openpose": str(sdxl / "controlnet-canny")}))
    assert "does not fit the model" in message and "cross_attention_dim 64 != the UNet's 32" in message
    nine = tmp_path / "cn-9-channels"
    torch.manual_seed(0)
    from diffusers import ControlNetModel

    from catloc.random_models import build_unet
    ControlNetModel.from_unet(build_unet("sd15", "tiny", in_channels=9)).save_pretrained(str(nine))
    assert "in_channels 9 != 4" in _error(_options(sd15, controlnet_dirs={"canny": str(nine)}))

    empty_adapter = tmp_path / "IP-Adapter"
    (empty_adapter / "models").mkdir(parents=True)
    message = _error(_options(sd15, ip_adapter_dir=str(empty_adapter)))
    assert "has no models/ip-adapter_sd15.safetensors" in message and "image_encoder" in message

    assert "float16 needs a CUDA device" in _error(_options(sd15, device="cpu", dtype="float16"))
    assert "multiples of 8" in _error(_options(sd15, size=[60, 96]))
    assert "scheduler must be saved or one of" in _error(_options(sd15, scheduler="plms"))
    assert "not in controlnet_dirs" in _error(_options(sd15, controlnet_scale={"depth": 0.5}))
    if not torch.cuda.is_available():
        assert "sees no CUDA GPU" in _error(_options(sd15, device="cuda"))


def test_openpose_engine_needs_its_body_model_file(tmp_path):
    with pytest.raises(EngineLoadError, match="has no body_pose_model.pth.*lllyasviel/Annotators.*non-commercial"):
        load_engine("pose", EngineSpec("openpose", {"model_dir": str(tmp_path)}))
    with pytest.raises(EngineLoadError, match="model_dir is not set"):
        load_engine("pose", EngineSpec("openpose", {}))


@pytest.mark.slow
def test_openpose_engine_loads_the_released_file_layout(tmp_path, offline):
    """A random body_pose_model.pth (~200 MiB) in the released format: the model's state dict with
    each key's block prefix dropped; its last layers zeroed, so no person is found."""
    from controlnet_aux.open_pose.model import bodypose_model

    torch.manual_seed(0)
    model = bodypose_model()
    state = {".".join(k.split(".")[1:]): v for k, v in model.state_dict().items()}
    for key in state:
        if key.startswith(("Mconv7_stage6_L1", "Mconv7_stage6_L2")):
            state[key] = torch.zeros_like(state[key])
    torch.save(state, tmp_path / "body_pose_model.pth")
    engine = load_engine("pose", EngineSpec("openpose", {"model_dir": str(tmp_path), "detect_side": 128}))
    image, _ = person_photo(160, 96)
    assert engine.keypoints(image) is None


def test_the_localize_stage_runs_the_engine_and_keeps_its_account(tmp_path, sd15, monkeypatch):
    """Today's localize stage with engines.generate: diffusers (every candidate a scene swap of
    the product mask): stored candidates keep the product's pixels, candidates.json the engine's meta;
    run again on the same inputs, the stored candidates come back without the photo being read
    (nor parsed) to plan them."""
    from catloc import storage
    from catloc.config import load_market
    from catloc.outputs import Analysis, Cleaned
    from catloc.runfolder import RunFolder
    from catloc.tasks import localize
    from catloc.tasks.localize import make_candidates
    from catloc.tasks.qc import product_fidelity

    image, parsing = person_photo(96, 64)
    mask = parsing.mask("person")
    folder = RunFolder(str(tmp_path), "run1").sku("A")
    cleaned = Cleaned(storage.save_image(folder.file("cleaned.png"), image), folder.file("removed_mask.png"))
    analysis = Analysis(storage.save_image(folder.file("product_mask.png"), mask.astype(np.uint8) * 255),
                        product_share=float(mask.mean()))
    spec = EngineSpec("diffusers", _options(sd15, controlnet_dirs={"canny": str(sd15 / "controlnet-canny")}))
    candidates = make_candidates(cleaned, analysis, "A", folder, load_market("sa"), 3, {"generate": spec})
    stored = storage.read_json(folder.file("candidates.json"))
    assert [(c["candidate_id"], c["engine"]) for c in stored] == \
        [("c01", "original"), ("c02", "diffusers"), ("c03", "diffusers")]   # c01: the photo in its own framing
    for candidate, record in zip(candidates[1:], stored[1:]):
        out = storage.load_rgb(candidate.image)
        assert np.array_equal(out[mask], image[mask])
        assert product_fidelity(out, image, mask, mask, (0, 0), 1.0)[0] == 1.0
        assert record["meta"]["seed"] == record["seed"] and record["meta"]["controlnets"] == {"canny": 0.8}
        assert HEX16.match(record["meta"]["weights"]["model"]) and record["meta"]["versions"]["torch"]
    monkeypatch.setattr(localize.Photo, "read", classmethod(lambda *a: pytest.fail("photo read on a reuse")))
    again = make_candidates(cleaned, analysis, "A", folder, load_market("sa"), 3, {"generate": spec})
    assert [c.image for c in again] == [c.image for c in candidates]
