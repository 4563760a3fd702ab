"""`catloc run` with a generative config, end to end: a tiny random SD 1.5 inpainting pipeline and
openpose + canny ControlNets saved in the released layout, a parse engine for the drawn photos, a
catalog mixing a model photo, a mannequin shot, a still life and a model photo without a category.
Every SKU gets the market's recipe mix, the product pixels each candidate kept are the cleaned
photo's, and QC measures each one in what it kept."""
from __future__ import annotations

import json
import shutil
import socket
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from catloc.config import load_pipeline_config
from catloc.engines import REGISTRY
from catloc.random_models import build_controlnet, build_inpaint_pipeline
from tests.synth import supplier_photo
from tests.synth_person import mannequin_photo, person_photo

pytestmark = pytest.mark.slow

SA_MIX = {"model_swap": 4, "scene_swap": 2, "studio": 1, "original": 1}   # configs/markets/sa.yaml
EXPECTED = {
    "MODEL-1": {"original": 1, "model_swap": 4, "scene_swap": 2, "studio": 1},
    "DRESSFORM-2": {"original": 1, "mannequin_to_model": 4, "scene_swap": 2, "studio": 1},
    "VASE-3": {"original": 1, "scene_swap": 6, "studio": 1},
    "NOCAT-4": {"original": 1, "model_swap": 4, "scene_swap": 2, "studio": 1},   # the parse engine sees a person
}


@pytest.fixture
def local_network_only(monkeypatch):
    """Sockets may reach this machine (the test's Prefect server) and nothing else; Hugging Face
    hub downloads fail the test."""
    import huggingface_hub
    import transformers.utils.hub

    connect = socket.socket.connect

    def local_only(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and "/" not in host:
            raise AssertionError(f"tried to reach the network: {address}")
        return connect(self, address, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download from the hub: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", local_only)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for module in (huggingface_hub, transformers.utils.hub):
        for name in ("hf_hub_download", "snapshot_download"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)


def _catalog(folder: Path) -> Path:
    model, _ = person_photo(320, 192)
    dressform, _ = mannequin_photo(320, 192)
    vase, _, _ = supplier_photo(256, overlay=False, product_text=None, garment=(150, 40, 60))
    rows = []
    for sku, category, image in (("MODEL-1", "on_model", model), ("DRESSFORM-2", "mannequin", dressform),
                                 ("VASE-3", "still_life", vase), ("NOCAT-4", "", model)):
        (folder / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / "images" / f"{sku}.png")
        rows.append({"sku": sku, "title": sku.title(), "category": category, "image": f"images/{sku}.png",
                     "priority": "1"})
    pd.DataFrame(rows).to_csv(folder / "catalog.csv", index=False)
    return folder / "catalog.csv"


def _config(folder: Path) -> Path:
    """pipeline.yaml with the diffusers engine on tiny models saved here, and the palette parser."""
    torch.manual_seed(0)
    models = folder / "models"
    build_inpaint_pipeline("sd15", "tiny", tokenizer_dir=models / "tokenizers").save_pretrained(str(models / "inpaint"))
    build_controlnet("sd15", "tiny", seed=1).save_pretrained(str(models / "openpose"))
    build_controlnet("sd15", "tiny", seed=2).save_pretrained(str(models / "canny"))
    data = yaml.safe_load(Path(load_pipeline_config().path).read_text(encoding="utf-8"))
    data["engines"]["generate"] = {"name": "diffusers", "options": {
        "model_dir": "models/inpaint", "controlnet_dirs": {"openpose": "models/openpose", "canny": "models/canny"},
        "size": [64, 96], "steps": 2, "batch_size": 8, "device": "cpu"}}
    data["engines"]["parse"] = {"name": "palette", "options": {}}
    data["qc"]["min_output_side"] = 64
    shutil.copytree(Path(load_pipeline_config().path).parent / "markets", folder / "markets")
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _mask(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)) > 127


def test_catloc_run_makes_the_market_mix_and_keeps_the_product(tmp_path, prefect_harness, local_network_only,
                                                               monkeypatch):
    from catloc.cli import app

    monkeypatch.setitem(REGISTRY["parse"], "palette", "tests.synth_person:PaletteParser")
    catalog, config, out = _catalog(tmp_path / "catalog"), _config(tmp_path), tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(catalog), "--market", "sa", "--out", str(out), "--run-id", "gen",
                                      "--candidates", str(sum(SA_MIX.values())), "--config", str(config)])
    assert result.exit_code == 0, result.output[-3000:]
    run = out / "gen"
    status = pd.read_parquet(run / "status.parquet").set_index("sku")
    assert (status["status"] == "done").all(), status[["status", "stage", "error"]]
    review = pd.read_parquet(run / "review.parquet")
    for sku, mix in EXPECTED.items():
        folder = run / "skus" / sku
        records = json.loads((folder / "candidates.json").read_text())
        assert Counter(c["kind"] for c in records) == mix, sku
        rows = review[review["sku"] == sku].set_index("candidate_id")
        cleaned = np.asarray(Image.open(run / status.loc[sku, "cleaned_image"]).convert("RGB"))
        product = _mask(folder / "product_mask.png")
        for c in records:
            row = rows.loc[c["candidate_id"]]
            generative = c["kind"] in ("scene_swap", "model_swap", "mannequin_to_model")
            assert row["engine"] == ("diffusers" if generative else c["kind"])          # what made it
            assert row["recipe"] == c["recipe"] and (not generative or row["recipe"].startswith(c["kind"] + "|"))
            kept = _mask(folder / "kept" / f"{c['candidate_id']}.png") if generative else product
            if c["kind"] == "scene_swap":
                assert np.array_equal(kept, product)
            elif generative:
                assert 0 < kept.sum() < product.sum() and c["persona"]                  # the garment only
            image = np.asarray(Image.open(folder / "candidates" / f"{c['candidate_id']}.png").convert("RGB"))
            ys, xs = np.nonzero(kept)
            ox, oy = c["offset"]
            assert c["scale"] == 1.0 and np.array_equal(image[ys + oy, xs + ox], cleaned[ys, xs])
            assert row["product_fidelity"] == 1.0 or (not row["qc_pass"] and row["qc_reasons"])
            if generative:
                assert c["meta"]["seed"] == c["seed"] and "seam_colour_shift" in c["meta"]
                nets = set(c["meta"]["controlnets"])
                assert nets == ({"openpose"} if c["kind"] == "model_swap" else
                                {"openpose", "canny"} if c["kind"] == "mannequin_to_model" else {"canny"})
        assert len({c["seed"] for c in records}) == len(records)
        assert (rows["qc_pass"] | (rows["qc_reasons"] != "")).all()
    _regenerate_model_photo(run, out, config, cleaned_of=lambda sku: run / status.loc[sku, "cleaned_image"])


def _regenerate_model_photo(run: Path, out: Path, config: Path, cleaned_of) -> None:
    """A reviewer rejects all of MODEL-1's candidates: ``catloc rerun --rejected`` makes new ones with
    numbering continued, no second original, new seeds and personas, the product kept byte-equal."""
    from catloc.cli import app

    before = json.loads((run / "skus" / "MODEL-1" / "candidates.json").read_text())
    picks = run.parent / "regen.csv"
    picks.write_text("run_id,market,sku,attempt,candidate_id,decision,image\ngen,sa,MODEL-1,0,,regenerate,\n",
                     encoding="utf-8")
    result = CliRunner().invoke(app, ["picks", "apply", "gen", str(picks), "--publish", str(out / "shop"),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output[-3000:]
    untouched = (run / "skus" / "VASE-3" / "candidates.json").read_text()
    result = CliRunner().invoke(app, ["rerun", "gen", "--rejected", "--out", str(out)])
    assert result.exit_code == 0, result.output[-3000:]
    record = json.loads((run / "skus" / "MODEL-1" / "record.json").read_text())
    new = [c for c in record["candidates"] if c["attempt"] == 1]
    assert [c["candidate_id"] for c in new] == [f"c{i:02d}" for i in range(9, 17)]           # 8 more, none an original
    assert "original" not in {c["kind"] for c in new} and {"model_swap", "scene_swap"} <= {c["kind"] for c in new}
    assert not {c["seed"] for c in new} & {c["seed"] for c in before}
    swaps_before = [c["persona"] for c in before if c["kind"] == "model_swap"]
    swaps_now = [c["persona"] for c in new if c["kind"] == "model_swap"]
    assert swaps_now and swaps_now != swaps_before                      # the personas rotate on
    cleaned = np.asarray(Image.open(cleaned_of("MODEL-1")).convert("RGB"))
    folder = run / "skus" / "MODEL-1"
    for c in new:
        if c["kind"] in ("model_swap", "scene_swap"):
            kept = _mask(folder / "kept" / f"{c['candidate_id']}.png")
            image = np.asarray(Image.open(folder / "candidates" / f"{c['candidate_id']}.png").convert("RGB"))
            ys, xs = np.nonzero(kept)
            assert np.array_equal(image[ys + c["offset"][1], xs + c["offset"][0]], cleaned[ys, xs])
    assert (run / "skus" / "VASE-3" / "candidates.json").read_text() == untouched
