"""The photo-understanding engines (segment: sam, segment: salient, parse: segformer) loaded
through the config path users use, from tiny random models these tests build and save in the
real file layouts: a segment-anything state dict, an ONNX file, a transformers model folder.
Nothing is downloaded: sockets and the Hugging Face download functions refuse."""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from catloc.config import ConfigError, EngineSpec, load_pipeline_config
from catloc.engines import load_all, load_engine, load_optional
from catloc.engines.base import PARTS, EngineLoadError, Parsing


def _photo(h: int = 90, w: int = 120) -> np.ndarray:
    """A white backdrop with a dark rectangle (rows 20..70, columns 30..90): the product."""
    image = np.full((h, w, 3), 245, dtype=np.uint8)
    image[20:70, 30:90] = (30, 40, 60)
    return image


# ------------------------------------------------------------------------- segment: sam

def _tiny_sam(checkpoint=None, dim: int = 32):
    """A segment-anything ``Sam`` small enough for CPU tests (64 px input, one block each),
    built from the library's own classes. Registered in ``sam_model_registry`` as a builder,
    the way a fine-tuned variant would be."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    side, patch = 64, 16
    sam = Sam(
        image_encoder=ImageEncoderViT(depth=1, embed_dim=dim, img_size=side, mlp_ratio=2, num_heads=1,
                                      norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), patch_size=patch,
                                      qkv_bias=True, use_rel_pos=True, global_attn_indexes=[0], window_size=0,
                                      out_chans=dim),
        prompt_encoder=PromptEncoder(embed_dim=dim, image_embedding_size=(side // patch, side // patch),
                                     input_image_size=(side, side), mask_in_chans=4),
        mask_decoder=MaskDecoder(num_multimask_outputs=3, transformer_dim=dim, iou_head_depth=1,
                                 iou_head_hidden_dim=16,
                                 transformer=TwoWayTransformer(depth=1, embedding_dim=dim, mlp_dim=32, num_heads=1)),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    return sam.eval()


@pytest.fixture
def tiny_sam_types(monkeypatch):
    """``tiny`` (the checkpoint's architecture) and ``tiny_wide`` (another one) in segment-anything's registry."""
    from segment_anything import sam_model_registry

    monkeypatch.setitem(sam_model_registry, "tiny", _tiny_sam)
    monkeypatch.setitem(sam_model_registry, "tiny_wide", partial(_tiny_sam, dim=48))


@pytest.fixture(scope="module")
def sam_checkpoint(tmp_path_factory) -> tuple[Path, dict]:
    """A tiny Sam's state dict saved as if from a GPU: every tensor is tagged ``cuda:0`` in the
    file, as in a checkpoint written on a CUDA machine (``torch.load`` without ``map_location``
    cannot open it on a CPU-only one)."""
    import torch.serialization as serialization

    torch.manual_seed(0)
    state = _tiny_sam().state_dict()
    path = tmp_path_factory.mktemp("sam") / "sam_tiny.pth"
    tag = serialization.location_tag
    serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(state, path)
    finally:
        serialization.location_tag = tag
    return path, state


def _sam(path: Path, **options):
    return load_engine("segment", EngineSpec("sam", {"checkpoint": str(path), "model_type": "tiny", **options}))


def test_sam_checkpoint_saved_on_gpu_loads_on_cpu(sam_checkpoint, tiny_sam_types, no_network):
    path, state = sam_checkpoint
    if not torch.cuda.is_available():  # the file really is a GPU one: without map_location it fails here
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    sam = _sam(path, default_prompt="centre")
    loaded = sam._predictor.model.state_dict()
    assert all(loaded[k].device.type == "cpu" and torch.equal(loaded[k], v) for k, v in state.items())


def test_sam_box_and_point_prompts_give_masks_at_the_image_size(sam_checkpoint, tiny_sam_types):
    sam = _sam(sam_checkpoint[0], default_prompt="centre")
    image = _photo(90, 120)
    by_box, score = sam.segment_scored(image, box=(30, 20, 90, 70))
    by_points = sam.segment(image, points=np.array([[60, 45], [5, 5]]), point_labels=np.array([1, 0]))
    both = sam.segment(image, box=(30, 20, 90, 70), points=[[60, 45]])
    unprompted = sam.segment(image)
    for mask in (by_box, by_points, both, unprompted):
        assert mask.shape == (90, 120) and mask.dtype == bool
    assert isinstance(score, float)


def test_sam_single_mask_and_bad_prompts(sam_checkpoint, tiny_sam_types):
    sam = _sam(sam_checkpoint[0], default_prompt="centre", multimask=False)
    assert sam.segment(_photo(), box=[0, 0, 120, 90]).shape == (90, 120)
    with pytest.raises(ValueError, match="x1 > x0"):
        sam.segment(_photo(), box=(50, 10, 40, 60))
    with pytest.raises(ValueError, match="point_labels"):
        sam.segment(_photo(), points=[[1, 2], [3, 4]], point_labels=[1])


def test_sam_default_prompt_is_the_classical_box_else_the_centre(sam_checkpoint, tiny_sam_types, monkeypatch):
    classical = _sam(sam_checkpoint[0])                       # default_prompt: classical
    box, points = classical.default_prompt_for(_photo())
    assert points is None
    assert np.allclose(box, [30, 20, 90, 70], atol=3)          # the dark rectangle, x0 y0 x1 y1
    asked = []
    predict = classical._predictor.predict
    monkeypatch.setattr(classical._predictor, "predict", lambda **kw: asked.append(kw) or predict(**kw))
    classical.segment(_photo())                                # no prompt: SAM is pointed at that box
    assert np.allclose(asked[0]["box"], box) and asked[0]["point_coords"] is None
    blank = np.full((90, 120, 3), 200, dtype=np.uint8)
    box, points = classical.default_prompt_for(blank)          # nothing stands out: the centre
    assert box is None and np.allclose(points, [[60, 45]])
    centre = _sam(sam_checkpoint[0], default_prompt="centre")
    assert centre.default_prompt_for(_photo())[0] is None


def test_sam_load_errors_name_the_file_and_what_is_expected(tmp_path, sam_checkpoint, tiny_sam_types):
    with pytest.raises(EngineLoadError, match=r"sam_vit_b_01ec64\.pth") as missing:
        load_engine("segment", EngineSpec("sam", {"checkpoint": str(tmp_path / "nope.pth"), "model_type": "vit_b"}))
    assert str(tmp_path / "nope.pth") in str(missing.value)
    with pytest.raises(EngineLoadError, match="checkpoint is not set"):
        load_engine("segment", EngineSpec("sam", {"model_type": "vit_b"}))
    with pytest.raises(EngineLoadError, match="unknown model_type 'vit_x'.*vit_b"):
        load_engine("segment", EngineSpec("sam", {"checkpoint": str(sam_checkpoint[0]), "model_type": "vit_x"}))
    with pytest.raises(EngineLoadError, match="does not fit model_type 'tiny_wide'"):
        _sam(sam_checkpoint[0], model_type="tiny_wide")
    garbage = tmp_path / "sam_vit_b_01ec64.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(EngineLoadError, match="cannot read checkpoint"):
        _sam(garbage)
    with pytest.raises(EngineLoadError, match="default_prompt"):
        _sam(sam_checkpoint[0], default_prompt="everything")


# ---------------------------------------------------------------------- segment: salient

class _Darkness(torch.nn.Module):
    """alpha = sigmoid(20 * (1.5 - (r + g + b))) on 0..1 pixels: dark is product, light backdrop."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(-20.0)
            self.conv.bias.fill_(30.0)

    def forward(self, x):
        return torch.sigmoid(self.conv(x))


def _export_onnx(path: Path, side: int | None) -> Path:
    """The salient model's real file format: one (1, 3, S, S) float input, one (1, 1, S, S)
    output; ``side`` None exports S as dynamic."""
    dynamic = None if side else {"input": {2: "s", 3: "s"}, "output": {2: "s", 3: "s"}}
    torch.onnx.export(_Darkness().eval(), torch.zeros(1, 3, side or 32, side or 32), str(path),
                      input_names=["input"], output_names=["output"], dynamic_axes=dynamic,
                      opset_version=17, dynamo=False)
    return path


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("salient")
    return {"fixed": _export_onnx(folder / "fixed64.onnx", 64), "dynamic": _export_onnx(folder / "dynamic.onnx", None)}


def _salient(path: Path, **options):
    return load_engine("segment", EngineSpec("salient", {"model_path": str(path), **options}))


def test_salient_alpha_and_mask_at_the_image_size(onnx_models, no_network):
    engine = _salient(onnx_models["fixed"], mean=[0, 0, 0], std=[1, 1, 1])
    assert engine.size == 64                                    # read from the model's input
    image = np.full((150, 200, 3), 245, dtype=np.uint8)
    image[40:120, 50:150] = (30, 40, 60)
    alpha = engine.alpha(image)
    assert alpha.shape == (150, 200) and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    mask = engine.segment(image)
    assert mask.shape == (150, 200) and mask.dtype == bool
    truth = np.zeros((150, 200), bool)
    truth[40:120, 50:150] = True
    assert (mask == truth).mean() > 0.97                       # the dark box, back at full size


def test_salient_normalisation_and_size_options_are_used(onnx_models):
    image = _photo()                                            # dark product on a light backdrop
    plain = _salient(onnx_models["dynamic"], size=48, mean=[0, 0, 0], std=[1, 1, 1])
    assert plain.size == 48 and 0.2 < plain.segment(image).mean() < 0.4
    # the model calls a pixel product when its normalised R + G + B < 1.5: with mean 1 every pixel
    # is; with std 0.25 the dark product (0.51 on 0..1 pixels) sums to 2.0 and none is
    assert _salient(onnx_models["dynamic"], size=48, mean=[1, 1, 1], std=[1, 1, 1]).segment(image).all()
    assert not _salient(onnx_models["dynamic"], size=48, mean=[0, 0, 0], std=[0.25] * 3).segment(image).any()
    assert _salient(onnx_models["dynamic"], preset="u2net").size == 320
    stretched = _salient(onnx_models["dynamic"], size=48, mean=[0, 0, 0], std=[1, 1, 1], stretch=True)
    assert stretched.alpha(image).max() == pytest.approx(1.0) and stretched.alpha(image).min() == pytest.approx(0.0)
    logits = _salient(onnx_models["dynamic"], size=48, mean=[0, 0, 0], std=[1, 1, 1], activation="sigmoid")
    assert logits.alpha(image).min() >= 0.5                     # sigmoid of a probability


def test_salient_load_errors(tmp_path, onnx_models):
    with pytest.raises(EngineLoadError, match=r"isnet-general-use\.onnx") as missing:
        _salient(tmp_path / "absent.onnx")
    assert str(tmp_path / "absent.onnx") in str(missing.value)
    with pytest.raises(EngineLoadError, match="model_path is not set"):
        load_engine("segment", EngineSpec("salient", {"preset": "u2net"}))
    with pytest.raises(EngineLoadError, match="takes 64x64 images, but size is 1024"):
        _salient(onnx_models["fixed"], preset="isnet-general-use")
    with pytest.raises(EngineLoadError, match="set the input side"):
        _salient(onnx_models["dynamic"])
    with pytest.raises(EngineLoadError, match="unknown preset 'rmbg'"):
        _salient(onnx_models["fixed"], preset="rmbg")
    with pytest.raises(EngineLoadError, match="not available here"):
        _salient(onnx_models["fixed"], providers=["NoSuchExecutionProvider"])
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x01garbage")
    with pytest.raises(EngineLoadError, match="cannot load .* as an ONNX model"):
        _salient(broken, size=64)


# --------------------------------------------------------------------------- parse: segformer

ATR = ["Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Belt", "Left-shoe",
       "Right-shoe", "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Bag", "Scarf"]
LIP = ["Background", "Hat", "Hair", "Glove", "Sunglasses", "Upper-clothes", "Dress", "Coat", "Socks", "Pants",
       "Jumpsuits", "Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe",
       "Right-shoe", "Torso-skin", "Neck"]


def _save_segformer(folder: Path, labels: list[str], forced: str | None = None) -> Path:
    """A tiny SegFormer saved with ``save_pretrained`` (config.json with id2label, model.safetensors,
    preprocessor_config.json). With ``forced`` the classifier ignores its input and always says that label."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    torch.manual_seed(0)
    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                             decoder_hidden_size=16, id2label=dict(enumerate(labels)),
                             label2id={n: i for i, n in enumerate(labels)})
    model = SegformerForSemanticSegmentation(config)
    if forced is not None:
        with torch.no_grad():
            model.decode_head.classifier.weight.zero_()
            model.decode_head.classifier.bias.fill_(-5.0)
            model.decode_head.classifier.bias[labels.index(forced)] = 5.0
    model.save_pretrained(folder)
    SegformerImageProcessor(size={"height": 512, "width": 512}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def atr_dir(tmp_path_factory) -> Path:
    return _save_segformer(tmp_path_factory.mktemp("atr"), ATR, forced="Upper-clothes")


@pytest.fixture
def hub_refuses(monkeypatch):
    """Every Hugging Face download function fails the test if called; offline mode on."""
    import huggingface_hub
    import transformers.utils.hub as transformers_hub

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download from the Hugging Face hub: {args} {kwargs}")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for module in (huggingface_hub, transformers_hub):
        for name in ("hf_hub_download", "snapshot_download"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)


def _parser(folder: Path, **options):
    return load_engine("parse", EngineSpec("segformer", {"model_dir": str(folder), **options}))


def test_segformer_parses_at_the_photo_size_without_network(atr_dir, hub_refuses, no_network):
    parsing = _parser(atr_dir, work_side=64).parse(_photo(90, 130))
    assert isinstance(parsing, Parsing)
    assert parsing.labels.shape == (90, 130) and parsing.labels.dtype == np.uint8
    assert parsing.scores.shape == (90, 130) and parsing.scores.dtype == np.float32
    assert (parsing.labels == PARTS.index("upper_clothes")).all()   # the forced label, mapped
    assert parsing.mask("garment").all() and not parsing.has_person
    expected = np.exp(5.0) / (np.exp(5.0) + (len(ATR) - 1) * np.exp(-5.0))  # softmax of the forced logits
    assert np.allclose(parsing.scores, expected, atol=1e-4)


def test_segformer_logits_land_where_they_were_in_the_photo(atr_dir, monkeypatch):
    """Left half of the model's output says Face, right half Pants: after upsampling to the
    photo's own size the left columns are face and the right ones pants."""
    parser = _parser(atr_dir, work_side=64)
    calls = []

    def halves(pixel_values):
        calls.append(tuple(pixel_values.shape))
        h, w = pixel_values.shape[2] // 4, pixel_values.shape[3] // 4
        logits = torch.full((1, len(ATR), h, w), -4.0)
        logits[0, ATR.index("Face"), :, : w // 2] = 4.0
        logits[0, ATR.index("Pants"), :, w // 2:] = 4.0
        return type("Out", (), {"logits": logits})()

    monkeypatch.setattr(parser, "_model", halves)
    parsing = parser.parse(_photo(100, 160))
    assert calls == [(1, 3, 40, 64)]                            # aspect kept, longer side = work_side
    assert parsing.labels.shape == (100, 160)
    assert (parsing.labels[:, :70] == PARTS.index("face")).all()
    assert (parsing.labels[:, 90:] == PARTS.index("pants")).all()
    assert parsing.mask("face").any() and parsing.has_person


@pytest.mark.parametrize("forced, part", [("Torso-skin", "torso_skin"), ("Jumpsuits", "dress"), ("Socks", "sock")])
def test_segformer_lip_labels_map_onto_parts(tmp_path, forced, part):
    folder = _save_segformer(tmp_path / "lip", LIP, forced=forced)
    parsing = _parser(folder, work_side=48).parse(_photo(60, 80))
    assert (parsing.labels == PARTS.index(part)).all()


def test_segformer_unknown_label_names_the_ones_understood(tmp_path):
    folder = _save_segformer(tmp_path / "odd", ["Background", "Upper-clothes", "Tail"])
    with pytest.raises(EngineLoadError, match=r"\['Tail'\].*upperclothes"):
        _parser(folder)


def test_segformer_missing_files_are_named(tmp_path, atr_dir):
    with pytest.raises(EngineLoadError, match="does not exist"):
        _parser(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EngineLoadError) as error:
        _parser(empty)
    for expected in (str(empty), "config.json", "preprocessor_config.json", "model.safetensors", "save_pretrained"):
        assert expected in str(error.value)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (no_weights / name).write_bytes((atr_dir / name).read_bytes())
    with pytest.raises(EngineLoadError, match="missing model.safetensors or"):
        _parser(no_weights)


# ----------------------------------------------------------------- config, registry, helpers

def _config_with(tmp_path: Path, parse: str = "", segment: str = "{name: classical}") -> Path:
    """The shipped pipeline.yaml with its engines section replaced (``parse`` a YAML line or none)."""
    default = Path(load_pipeline_config().path).read_text(encoding="utf-8")
    head, tail = default.split("\nengines:\n", 1)
    rest = tail[tail.index("\nclean:"):]
    engines = (f"  ocr: {{name: rapidocr}}\n  inpaint: {{name: opencv}}\n  segment: {segment}\n"
               f"  generate: {{name: studio}}\n" + (f"  parse: {parse}\n" if parse else ""))
    path = tmp_path / "pipeline.yaml"
    path.write_text(f"{head}\nengines:\n{engines}{rest}", encoding="utf-8")
    return path


def test_parse_is_optional_and_built_with_the_others(tmp_path, atr_dir):
    cfg = load_pipeline_config(_config_with(tmp_path))
    assert "parse" not in cfg.engines and load_optional("parse", cfg.engines) is None
    cfg = load_pipeline_config(_config_with(tmp_path, parse="{name: none}"))
    assert "parse" not in cfg.engines
    cfg = load_pipeline_config(_config_with(tmp_path, parse=f"{{name: segformer, options: {{model_dir: {atr_dir}}}}}"))
    built = load_all(cfg.engines)
    assert built["parse"] is load_optional("parse", cfg.engines)   # built once, shared
    assert built["parse"].parse(_photo(40, 50)).labels.shape == (40, 50)


def test_required_engines_cannot_be_none_and_model_paths_resolve(tmp_path):
    with pytest.raises(ConfigError, match="engines.segment cannot be 'none'"):
        load_pipeline_config(_config_with(tmp_path, segment="{name: none}"))
    cfg = load_pipeline_config(_config_with(tmp_path, parse="{name: segformer, options: {model_dir: models/clothes}}"))
    assert cfg.engines["parse"].options["model_dir"] == str(tmp_path / "models" / "clothes")
    cfg = load_pipeline_config(_config_with(tmp_path, segment="{name: sam, options: {checkpoint: sam.pth}}"))
    assert cfg.engines["segment"].options["checkpoint"] == str(tmp_path / "sam.pth")


def test_parsing_product_mask_with_and_without_the_person():
    labels = np.array([[PARTS.index(p) for p in ("background", "dress", "bag", "face", "hair", "left_shoe")]],
                      dtype=np.uint8)
    parsing = Parsing(labels)
    assert parsing.product_mask().tolist() == [[False, True, True, False, False, True]]
    assert parsing.product_mask(with_person=True).tolist() == [[False, True, True, True, True, True]]
