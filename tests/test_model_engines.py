"""The model-backed engines (easyocr OCR, diffusers inpainting) loaded through their real code
paths from tiny random-weight models that these tests build and save themselves: nothing is
downloaded, and loading must not even try to open a network connection."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from catloc.config import EngineSpec
from catloc.engines import load_engine
from catloc.engines.base import EngineLoadError, TextRegion


# ---------------------------------------------------------------------------------- easyocr

def _easyocr_md5_table() -> dict[str, str]:
    from easyocr.config import detection_models, recognition_models

    table = {m["filename"]: m["md5sum"] for m in detection_models.values()}
    table.update({m["filename"]: m["md5sum"] for gen in recognition_models.values() for m in gen.values()})
    return table


@pytest.fixture(scope="module")
def easyocr_dir(tmp_path_factory) -> Path:
    """craft_mlt_25k.pth + zh_sim_g2.pth with random weights, in the format of the released files:
    plain state dicts saved from ``torch.nn.DataParallel`` (every key starts with ``module.``;
    easyocr's CPU loader strips it: ``copyStateDict`` for CRAFT, ``key[7:]`` for the recognizer)."""
    from easyocr.craft import CRAFT
    from easyocr.model import vgg_model
    from easyocr.utils import CTCLabelConverter

    from catloc.engines.ocr_easyocr import expected_model_files, recognition_model

    folder = tmp_path_factory.mktemp("easyocr_models")
    detector_file, recognizer_file = expected_model_files(["ch_sim", "en"])
    assert (detector_file, recognizer_file) == ("craft_mlt_25k.pth", "zh_sim_g2.pth")
    torch.manual_seed(0)

    craft = CRAFT(pretrained=False, freeze=False)  # vgg16_bn(weights=None): no download
    # make the text/link score maps 1 everywhere, so the detector finds one box (the whole
    # image) and the recognizer runs on it: the full detect path is exercised
    last = craft.conv_cls[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, 1.0)
    torch.save({f"module.{k}": v for k, v in craft.state_dict().items()}, folder / detector_file)

    generation, entry = recognition_model(["ch_sim", "en"])
    assert generation == "gen2"  # easyocr.Reader: gen2 -> vgg_model, 256 channels, hidden 256
    num_class = len(CTCLabelConverter(entry["characters"]).character)
    recognizer = vgg_model.Model(input_channel=1, output_channel=256, hidden_size=256, num_class=num_class)
    torch.save({f"module.{k}": v for k, v in recognizer.state_dict().items()}, folder / recognizer_file)
    return folder


@pytest.fixture
def md5_accepts_random_weights(monkeypatch):
    """easyocr checks each weight file's MD5 against the released file; random weights can't
    match, so report the expected checksum for the known file names (everything else in the
    load -- torch.load, prefix stripping, load_state_dict, quantization -- runs for real)."""
    import easyocr.easyocr

    table = _easyocr_md5_table()
    monkeypatch.setattr(easyocr.easyocr, "calculate_md5", lambda path: table[os.path.basename(path)])


def _sign(height: int = 120, width: int = 200) -> np.ndarray:
    import cv2

    image = np.full((height, width, 3), 245, np.uint8)
    cv2.putText(image, "SALE 50%", (10, 70), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 3)
    return image


def test_easyocr_loads_real_weight_files_and_detects(easyocr_dir, md5_accepts_random_weights, no_network):
    engine = load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(easyocr_dir), "min_score": 0.0}))
    assert engine.name == "easyocr"
    assert load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(easyocr_dir), "min_score": 0.0})) is engine

    image = _sign()
    regions = engine.detect(image)
    assert isinstance(regions, list) and regions  # the all-ones score map gives a box
    for region in regions:
        assert isinstance(region, TextRegion)
        assert region.polygon.shape == (4, 2) and region.polygon.dtype == np.float32
        assert isinstance(region.text, str)
        assert isinstance(region.score, float) and 0.0 <= region.score <= 1.0
        xs, ys = region.polygon[:, 0], region.polygon[:, 1]  # image coordinates (plus margin)
        assert xs.max() > image.shape[1] / 2 and ys.max() > image.shape[0] / 2
        assert xs.min() < image.shape[1] / 2 and ys.min() < image.shape[0] / 2
        region.to_dict()
    assert engine.detect(image)[0].text == regions[0].text  # repeatable

    # the two halves of detect: boxes without reading, then reading given boxes
    boxes = engine.find(image)
    assert boxes and all(b.shape == (4, 2) for b in boxes)
    assert [r.text for r in engine.read(image, boxes)] == [r.text for r in regions]

    strict = load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(easyocr_dir), "min_score": 1.01}))
    assert strict is not engine and strict.detect(image) == [] and strict.read(image, boxes) == []


def test_easyocr_missing_files_named_in_one_error(tmp_path, easyocr_dir):
    (tmp_path / "craft_mlt_25k.pth").write_bytes((easyocr_dir / "craft_mlt_25k.pth").read_bytes()[:10])
    with pytest.raises(EngineLoadError) as info:
        load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(tmp_path)}))
    message = str(info.value)
    assert str(tmp_path) in message and "zh_sim_g2.pth" in message
    assert "is missing zh_sim_g2.pth " in message  # the detector file is there
    assert "~/.EasyOCR/model" in message and "model_dir" in message

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EngineLoadError, match=r"missing craft_mlt_25k\.pth, english_g2\.pth") as info:
        load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(empty), "languages": ["en"]}))
    assert str(empty) in str(info.value)

    gone = tmp_path / "does-not-exist"
    with pytest.raises(EngineLoadError, match="does not exist") as info:
        load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(gone)}))
    assert str(gone) in str(info.value) and "craft_mlt_25k.pth" in str(info.value)
    assert not gone.exists()  # nothing created

    with pytest.raises(EngineLoadError, match="model_dir is not set.*craft_mlt_25k.pth, zh_sim_g2.pth"):
        load_engine("ocr", EngineSpec("easyocr", {}))


def test_easyocr_checksum_mismatch_is_a_load_error(easyocr_dir):
    # the random-weight files are not the released ones: easyocr's MD5 check refuses them
    with pytest.raises(EngineLoadError, match="MD5") as info:
        load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(easyocr_dir), "min_score": 0.5}))
    assert str(easyocr_dir) in str(info.value)


@pytest.mark.parametrize("languages", [
    ["ch_sim", "en"], ["en"], ["en", "fr", "de"], ["ja", "en"], ["ko"], ["th", "en"], ["ch_tra", "en"],
    ["ru", "en"], ["ar", "fa"], ["hi", "en"], ["bn"], ["ta"], ["te"], ["kn"], ["vi", "id"],
])
def test_easyocr_file_names_match_what_easyocr_reader_opens(tmp_path, languages):
    """expected_model_files mirrors easyocr.Reader's model choice: ask the Reader itself which
    recognition file it wants (it raises naming it: the folder is empty and downloads are off)."""
    import easyocr

    from catloc.engines.ocr_easyocr import expected_model_files

    with pytest.raises(FileNotFoundError) as info:
        easyocr.Reader(languages, gpu=False, model_storage_directory=str(tmp_path),
                       user_network_directory=str(tmp_path), download_enabled=False,
                       detector=False, verbose=False)
    wanted = str(info.value).split("Missing ", 1)[1].split(" and downloads disabled")[0]
    assert [os.path.basename(wanted)] == expected_model_files(languages)[1:]

    with pytest.raises(FileNotFoundError) as info:
        easyocr.Reader(languages, gpu=False, model_storage_directory=str(tmp_path),
                       user_network_directory=str(tmp_path), download_enabled=False,
                       recognizer=False, verbose=False)
    assert os.path.basename(str(info.value).split()[1]) == expected_model_files(languages)[0]


def test_easyocr_bad_language_sets_are_load_errors(tmp_path):
    with pytest.raises(EngineLoadError, match="unsupported language"):
        load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(tmp_path), "languages": ["xx"]}))
    with pytest.raises(EngineLoadError, match="cannot be read by one model"):
        load_engine("ocr", EngineSpec("easyocr", {"model_dir": str(tmp_path), "languages": ["ch_sim", "ja"]}))


# ---------------------------------------------------------------------------------- diffusers

def _tiny_clip_tokenizer(folder: Path):
    """A CLIP BPE tokenizer from a vocab.json + merges.txt written here: the 256 byte-level
    symbols, each also as a word end (``</w>``), the two special tokens, a few merges."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    symbols = sorted(ByteLevel.alphabet())
    merges = ["c l", "cl e", "cle a", "t e", "x t</w>", "te xt</w>"]
    vocab: dict[str, int] = {}
    for token in symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges]:
        vocab.setdefault(token, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), model_max_length=77, local_files_only=True)
    assert len(tokenizer) == len(vocab) < 1000
    return tokenizer


@pytest.fixture(scope="module")
def diffusers_dir(tmp_path_factory) -> Path:
    """A tiny Stable Diffusion inpainting pipeline (9-channel UNet), saved with save_pretrained."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    root = tmp_path_factory.mktemp("diffusers_tiny")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4), norm_num_groups=8)
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), sample_size=64)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        max_position_embeddings=77, projection_dim=32, bos_token_id=0, eos_token_id=2, pad_token_id=1))
    tokenizer = _tiny_clip_tokenizer(root / "tokenizer-src")
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionInpaintPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    folder = root / "sd-inpaint-tiny"
    pipe.save_pretrained(str(folder))
    for part in ("model_index.json", "unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / part).exists()
    return folder


def _photo(height: int = 96, width: int = 80) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) % 256], axis=-1).astype(np.uint8)
    image[20:70, 15:60] = (200, 40, 60)
    return image


def _diffusers_spec(folder: Path, **options) -> EngineSpec:
    return EngineSpec("diffusers", {"model_dir": str(folder), "steps": 2, "work_size": 64, **options})


def test_diffusers_inpaints_only_the_mask_repeatably(diffusers_dir, no_network):
    engine = load_engine("inpaint", _diffusers_spec(diffusers_dir))
    assert engine.name == "diffusers"
    assert load_engine("inpaint", _diffusers_spec(diffusers_dir)) is engine  # built once

    image = _photo()
    before = image.copy()
    masks = []
    block = np.zeros(image.shape[:2], bool)
    block[30:50, 20:60] = True                   # a caption box in the middle
    masks.append(block)
    corner = np.zeros(image.shape[:2], bool)
    corner[85:96, 0:30] = True                   # a watermark touching two edges
    corner[2:5, 70:79] = True                    # and a thin stroke far away (one crop)
    masks.append(corner)
    for mask in masks:
        out = engine.inpaint(image, mask)
        assert out.shape == image.shape and out.dtype == image.dtype == np.uint8
        assert np.array_equal(out[~mask], image[~mask])   # bit-for-bit outside the mask
        assert (out[mask] != image[mask]).any(axis=-1).mean() > 0.5
        again = engine.inpaint(image, mask)
        assert np.array_equal(again, out)                # same seed, same pixels
        assert np.array_equal(image, before)             # input not modified

    other_seed = load_engine("inpaint", _diffusers_spec(diffusers_dir, seed=1))
    assert not np.array_equal(other_seed.inpaint(image, block), engine.inpaint(image, block))

    empty = np.zeros(image.shape[:2], bool)
    copy = engine.inpaint(image, empty)
    assert np.array_equal(copy, image) and copy is not image


def test_diffusers_missing_or_incomplete_model_dir(tmp_path, diffusers_dir):
    gone = tmp_path / "no-such-model"
    with pytest.raises(EngineLoadError) as info:
        load_engine("inpaint", _diffusers_spec(gone))
    message = str(info.value)
    assert str(gone) in message and "does not exist" in message
    for part in ("model_index.json", "unet/", "vae/", "text_encoder/", "tokenizer/", "scheduler/",
                 "save_pretrained", "HF_HUB_OFFLINE"):
        assert part in message

    not_a_pipeline = tmp_path / "weights"
    not_a_pipeline.mkdir()
    with pytest.raises(EngineLoadError, match="has no model_index.json"):
        load_engine("inpaint", _diffusers_spec(not_a_pipeline))

    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model_index.json").write_text((diffusers_dir / "model_index.json").read_text())
    for part in ("vae", "text_encoder", "tokenizer", "scheduler"):
        (partial / part).symlink_to(diffusers_dir / part, target_is_directory=True)
    with pytest.raises(EngineLoadError, match=r"is incomplete, missing unet/ ") as info:
        load_engine("inpaint", _diffusers_spec(partial))
    assert str(partial) in str(info.value)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text((diffusers_dir / "model_index.json").read_text())
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (broken / part).mkdir()  # folders without weights
    with pytest.raises(EngineLoadError, match="cannot load the pipeline from") as info:
        load_engine("inpaint", _diffusers_spec(broken))
    assert str(broken) in str(info.value)

    with pytest.raises(EngineLoadError, match="model_dir is not set"):
        load_engine("inpaint", EngineSpec("diffusers", {}))
    with pytest.raises(EngineLoadError, match="multiple of 8"):
        load_engine("inpaint", _diffusers_spec(diffusers_dir, work_size=60))
