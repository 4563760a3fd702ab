"""Boring nights: resume after kill -9, reruns that converge, deadlines that defer."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from catloc.schedule import NightBudget, parse_deadline
from tests.conftest import copy_config, make_catalog, write_jpeg
from tests.synth import supplier_photo

REPO = Path(__file__).resolve().parent.parent


def test_parse_deadline_rolls_to_the_next_day():
    now = dt.datetime(2026, 11, 21, 22, 30, tzinfo=dt.timezone.utc)  # 01:30 in Riyadh (UTC+3)
    at = parse_deadline("06:00", "Asia/Riyadh", now)
    assert at.isoformat() == "2026-11-22T06:00:00+03:00"
    assert parse_deadline("01:00", "Asia/Riyadh", now).date() == dt.date(2026, 11, 23)
    for bad, tz in (("25:00", None), ("6am", None), ("06:00", "Mars/Olympus")):
        with pytest.raises(ValueError):
            parse_deadline(bad, tz, now)


def test_budget_stops_when_the_next_sku_would_not_fit():
    now = dt.datetime.now(dt.timezone.utc)
    budget = NightBudget(deadline=now + dt.timedelta(seconds=300), reserve_s=60, prior_s=30)
    assert budget.fits(now)                       # 300 - 60 >= 30
    budget.observe(150)
    assert budget.expected_sku_s() == pytest.approx(187.5)  # measured mean x 1.25 safety
    assert budget.fits(now)                       # 240 s usable >= 187.5
    assert not budget.fits(now + dt.timedelta(seconds=60))  # 180 s usable < 187.5
    assert NightBudget().fits() and NightBudget().seconds_left() is None  # no deadline: always


def _files_are_whole(root: Path) -> None:
    """Every file under its real name is whole: every JSON parses, every PNG/JPEG decodes, every
    Parquet reads. (A kill can leave a hidden ``.name.tmp-*`` temporary; never a partial real file.)"""
    for path in root.rglob("*"):
        if ".tmp-" in path.name:
            assert path.name.startswith(".")
            continue
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix in (".png", ".jpg"):
            with Image.open(path) as im:
                im.load()
        elif path.suffix == ".parquet":
            pd.read_parquet(path)


def _sheet(run: Path, name: str) -> pd.DataFrame:
    frame = pd.read_parquet(run / f"{name}.parquet").drop(columns=["run_id"])
    return frame.drop(columns=["seconds"]) if "seconds" in frame else frame


def _catloc(args, env_home, **kw):
    env = dict(os.environ, PREFECT_HOME=str(env_home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    return [sys.executable, "-m", "catloc.cli", *args], dict(env=env, cwd=REPO, **kw)


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_gives_the_same_sheets(tmp_path):
    catalog = make_catalog(tmp_path / "cat", 6)
    config = copy_config(tmp_path / "configs", progress_export_s=0)
    out = tmp_path / "out"
    common = [str(catalog), "--market", "us", "--out", str(out), "--config", str(config), "--candidates", "6"]

    cmd, kw = _catloc(["run", *common, "--run-id", "whole"], tmp_path / "ph1")
    assert subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw).returncode == 0

    cmd, kw = _catloc(["run", *common, "--run-id", "killed", "--workers", "1"], tmp_path / "ph2")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **kw)
    progress = out / "killed" / "progress.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if progress.exists() and json.loads(progress.read_text())["finished"] >= 2:
            break
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and Prefect's temporary server with it
    proc.wait(timeout=30)

    run = out / "killed"
    _files_are_whole(run)
    partial = pd.read_parquet(run / "status.parquet")  # a usable partial sheet
    assert len(partial) == 6 and set(partial["status"]) <= {"done", "failed", "deferred"}
    assert (partial["status"] == "done").sum() >= 1 and (partial["status"] == "deferred").sum() >= 1
    records = {p.parent.name: json.loads(p.read_text()) for p in (run / "skus").glob("*/record.json")}
    done_before = {sku for sku, rec in records.items() if rec["status"] == "done"}
    assert len(done_before) >= 2
    stamps = {sku: (run / "skus" / sku / "record.json").stat().st_mtime_ns for sku in done_before}

    cmd, kw = _catloc(["run", *common, "--run-id", "killed"], tmp_path / "ph2")
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    for sku, stamp in stamps.items():  # completed SKUs were not recomputed
        assert (run / "skus" / sku / "record.json").stat().st_mtime_ns == stamp
    _files_are_whole(run)
    assert not list(run.rglob("*.tmp-*"))  # the resumed run swept what the killed one left
    whole = out / "whole"
    pd.testing.assert_frame_equal(_sheet(run, "review"), _sheet(whole, "review"))
    pd.testing.assert_frame_equal(_sheet(run, "status"), _sheet(whole, "status"))
    for rel in pd.read_parquet(whole / "review.parquet")["image"]:
        assert (run / rel).read_bytes() == (whole / rel).read_bytes()


@pytest.mark.slow
def test_rerun_failed_and_chosen_skus(small_catalog, tmp_path, prefect_harness):
    from catloc.flows.nightly import nightly
    from catloc.flows.prepare import RerunError
    from catloc.flows.rerun import rerun
    out = str(tmp_path / "out")
    nightly(str(small_catalog), "sa", out=out, run_id="r1", candidates=6)
    run = tmp_path / "out" / "r1"
    first = pd.read_parquet(run / "review.parquet")
    assert pd.read_parquet(run / "status.parquet").set_index("sku").loc["BROKEN-3", "status"] == "failed"
    shirt_manifest = run / "skus" / "SHIRT-1" / "clean.manifest.json"
    shirt_stamp = shirt_manifest.stat().st_mtime_ns

    # the supplier sends a good image: rerun only what failed
    image, _, _ = supplier_photo(320, overlay=False, garment=(20, 120, 60))
    write_jpeg(small_catalog.parent / "images" / "broken.jpg", image)
    result = rerun("r1", out=out, failed=True)
    assert result["rerun"] == ["BROKEN-3"]
    status = pd.read_parquet(run / "status.parquet").set_index("sku")
    assert status.loc["BROKEN-3", "status"] == "done" and status.loc["row-5", "status"] == "failed"
    review = pd.read_parquet(run / "review.parquet")
    kept = review[review["sku"] != "BROKEN-3"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first.reset_index(drop=True))  # other SKUs' rows untouched
    assert (review["sku"] == "BROKEN-3").sum() == 6
    assert shirt_manifest.stat().st_mtime_ns == shirt_stamp

    # a chosen SKU: every still-valid stage output is reused ...
    rerun("r1", out=out, skus=["SHIRT-1"])
    assert shirt_manifest.stat().st_mtime_ns == shirt_stamp
    # ... unless asked to recompute from a stage on
    localize_manifest = run / "skus" / "SHIRT-1" / "localize.manifest.json"
    before = localize_manifest.stat().st_mtime_ns
    rerun("r1", out=out, skus=["SHIRT-1"], stage="localize")
    assert localize_manifest.stat().st_mtime_ns > before and shirt_manifest.stat().st_mtime_ns == shirt_stamp
    # the sheets converge: same rows as after the first rerun
    pd.testing.assert_frame_equal(pd.read_parquet(run / "review.parquet"), review)
    with pytest.raises(RerunError, match="not in the catalog: NOPE"):
        rerun("r1", out=out, skus=["NOPE"])
    with pytest.raises(RerunError, match="no run 'zz'"):
        rerun("zz", out=out)


@pytest.mark.slow
def test_deadline_defers_what_would_not_fit(tmp_path, prefect_harness, monkeypatch):
    from catloc.flows.nightly import nightly
    catalog = make_catalog(tmp_path / "cat", 4)
    starts = []

    def one_sku_fits(self, most, now=None):  # the deadline arrives after the first SKU has started
        starts.append(1)
        return min(most, 1) if len(starts) <= 1 else 0
    monkeypatch.setattr(NightBudget, "fitting_skus", one_sku_fits)
    out = tmp_path / "out"
    nightly(str(catalog), "us", out=str(out), run_id="d1", candidates=6, deadline="06:00", tz="Asia/Riyadh",
            workers=1)
    status = pd.read_csv(out / "d1" / "status.csv", keep_default_na=False)
    assert list(status["status"]).count("done") == 1 and list(status["status"]).count("deferred") == 3
    assert status.loc[status["status"] == "done", "priority"].item() == 1  # most urgent first
    deferred = status[status["status"] == "deferred"]
    assert deferred["error"].str.contains("deadline 06:00 Asia/Riyadh: not started").all()
    assert (out / "d1" / "review.parquet").exists() and (out / "d1" / "index.html").exists()
