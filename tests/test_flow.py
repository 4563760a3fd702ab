"""The nightly flow end to end on a small catalog, and the CLI around it."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from catloc.records import REVIEW_COLUMNS, STATUS_COLUMNS

pytestmark = pytest.mark.slow


def test_nightly_flow_end_to_end(small_catalog, tmp_path, prefect_harness):
    from catloc.flows.nightly import nightly
    out = tmp_path / "exports"
    result = nightly(str(small_catalog), "us", out=str(out), run_id="t1", candidates=6)
    run = out / "t1"
    status = pd.read_parquet(run / "status.parquet")
    review = pd.read_parquet(run / "review.parquet")
    assert list(status.columns) == STATUS_COLUMNS and list(review.columns) == REVIEW_COLUMNS
    by_sku = status.set_index("sku")
    # every SKU is accounted for: two done, the broken image and the bad row failed with reasons
    assert by_sku.loc["SHIRT-1", "status"] == "done" and by_sku.loc["PLAIN-2", "status"] == "done"
    assert by_sku.loc["BROKEN-3", "status"] == "failed" and by_sku.loc["BROKEN-3", "stage"] == "ingest"
    assert "broken image" in by_sku.loc["BROKEN-3", "error"]
    assert by_sku.loc["row-5", "status"] == "failed" and "empty sku" in by_sku.loc["row-5", "error"]
    assert result["counts"] == {"done": 2, "failed": 2}
    # >= 6 candidates per done SKU, ranked 1..n, every image opens from the run folder
    for sku in ("SHIRT-1", "PLAIN-2"):
        rows = review[review["sku"] == sku]
        assert len(rows) == 6 and sorted(rows["rank"]) == list(range(1, 7))
        for rel in rows["image"]:
            with Image.open(run / rel) as im:
                im.verify()
    assert (review["pick"] == "").all() and (review["market"] == "us").all()
    # the product pixels of every candidate are the cleaned source's
    shirt = status.set_index("sku").loc["SHIRT-1"]
    cleaned = np.asarray(Image.open(run / shirt["cleaned_image"]).convert("RGB"))
    mask = np.asarray(Image.open(run / "skus" / "SHIRT-1" / "product_mask.png")) > 127
    import json
    metas = json.loads((run / "skus" / "SHIRT-1" / "candidates.json").read_text())
    ys, xs = np.nonzero(mask)
    for meta in metas:
        cand = np.asarray(Image.open(run / "skus" / "SHIRT-1" / "candidates" / f"{meta['candidate_id']}.png"))
        ox, oy = meta["offset"]
        assert np.array_equal(cand[ys + oy, xs + ox], cleaned[ys, xs])
    assert (review["product_fidelity"] == 1.0).all()
    assert by_sku.loc["SHIRT-1", "text_kept"] == 1 and by_sku.loc["SHIRT-1", "qr_removed"] == 1
    assert (run / "index.html").exists() and (run / "review.csv").exists()


def test_limit_defers_the_rest(small_catalog, tmp_path, prefect_harness):
    from catloc.flows.nightly import nightly
    nightly(str(small_catalog), "sa", out=str(tmp_path), run_id="t2", limit=1, candidates=6)
    status = pd.read_csv(tmp_path / "t2" / "status.csv", keep_default_na=False).set_index("sku")
    assert status.loc["SHIRT-1", "status"] == "done"  # priority 1 goes first
    assert status.loc["PLAIN-2", "status"] == "deferred" and "--limit 1" in status.loc["PLAIN-2", "error"]
    assert status.loc["BROKEN-3", "status"] == "deferred"


def _cli(*args, home):
    """``catloc ARGS`` run from a folder that is not the checkout (the default config must still load)."""
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    env.pop("CATLOC_CONFIG", None)
    Path(home).mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "catloc.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=home)


def test_cli_run_and_status(small_catalog, tmp_path):
    out = tmp_path / "exp"
    proc = _cli("run", str(small_catalog), "--market", "sa", "--out", str(out), "--run-id", "cli1",
                "--candidates", "6", home=tmp_path / "ph")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 done" in proc.stderr and "2 failed" in proc.stderr
    assert "BROKEN-3" in proc.stderr and "review.parquet" in proc.stderr
    proc = _cli("status", "cli1", "--out", str(out), home=tmp_path / "ph")
    assert proc.returncode == 0 and "2 done" in proc.stderr
    proc = _cli("rerun", "cli1", "--out", str(out), "--failed", home=tmp_path / "ph")
    assert proc.returncode == 0 and "reran 1 SKUs" in proc.stderr and "2 done" in proc.stderr
    proc = _cli("rerun", "cli1", "--out", str(out), "--stage", "paint", home=tmp_path / "ph")
    assert proc.returncode == 2 and "--stage must be one of" in proc.stderr
    proc = _cli("status", "nope", "--out", str(out), home=tmp_path / "ph")
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr
    proc = _cli("run", str(small_catalog), "--market", "xx", "--out", str(out), home=tmp_path / "ph")
    assert proc.returncode == 2 and "unknown market 'xx'" in proc.stderr
