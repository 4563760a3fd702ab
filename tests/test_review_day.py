"""The review day end to end, on the sample catalog: open the run's index.html, decide every SKU
with the keyboard only, download picks.csv, apply it, find the published images and manifest;
then regenerate the rejected SKUs (rerun, and the next nightly run) and read the run's artifacts.

Set ``CATLOC_SCREENSHOT=docs/review-page.png`` to save the README's screenshot of the page."""
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from catloc.config import REPO_ROOT
from catloc.records import PUBLISHED_COLUMNS
from catloc.runfolder import RunFolder
from tests.browser import chromium, needs_chromium

pytestmark = pytest.mark.slow
REGENERATE = ("DRESS-002", "MUG-010")     # the SKUs the reviewer rejects whole


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, prefect_harness):
    """The sample catalog (catalogs/make_sample.py) run for market sa: run 'day' under out/."""
    from catloc.flows.nightly import nightly
    root = tmp_path_factory.mktemp("day")
    subprocess.run([sys.executable, str(REPO_ROOT / "catalogs" / "make_sample.py"), "--out", str(root / "sample")],
                   check=True, capture_output=True)
    result = nightly(str(root / "sample" / "catalog.csv"), "sa", out=str(root / "out"), run_id="day")
    assert result["counts"] == {"done": 13, "failed": 2}
    return root, RunFolder(str(root / "out"), "day")


def save_screenshot(png: bytes, path: Path) -> None:
    """The page's screenshot as a small PNG for the README (3/4 size, 64 colours: about 80 KB)."""
    from PIL import Image
    with Image.open(io.BytesIO(png)) as im:
        small = im.convert("RGB").resize((im.width * 3 // 4, im.height * 3 // 4), Image.Resampling.LANCZOS)
        small.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _decide_every_sku(page, regenerate: set[str]) -> None:
    """Keyboard only: pick the best one or two, reject one, mark ``regenerate`` whole; N to the next."""
    keys = page.keyboard
    for _ in range(40):
        sku = page.text_content("section.sku.current .name")
        if sku in regenerate:
            keys.press("r")
        else:
            keys.press("1")
            if sku.startswith(("T", "B")):            # a second winner for some
                keys.press("ArrowRight"); keys.press("p")
            keys.press("ArrowRight"); keys.press("x")  # and one rejected
        if "13 of 13 SKUs decided" in page.inner_text("#progress"):
            return
        keys.press("n")
    raise AssertionError(page.inner_text("#progress"))


def test_the_review_day(sample_run, tmp_path):
    needs_chromium()
    root, run = sample_run
    screenshot = os.environ.get("CATLOC_SCREENSHOT")
    # the reviewer rejects REGENERATE whole, and so every SKU whose candidates all failed QC
    # (drawn stickers over a skirt's hem, a blouse's shoulder, a handbag: what they hid is a guess)
    nothing_to_publish = {r.sku for r in run.records() if r.status == "done" and not any(c.qc_pass for c in r.candidates)}
    regenerate = set(REGENERATE) | nothing_to_publish
    with chromium(viewport=(1400, 860), downloads=str(tmp_path)) as context:
        page = context.new_page()
        page.goto(Path(run.review_page).resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        assert "0 of 13 SKUs decided" in page.inner_text("#progress")
        _decide_every_sku(page, regenerate)
        page.reload()                                   # decisions survive a reload
        page.wait_for_selector("body[data-ready='1']")
        assert "13 of 13 SKUs decided" in page.inner_text("#progress")
        if screenshot:
            page.evaluate("window.scrollTo(0, 0)")   # the reload restored the scroll position
            page.wait_for_function("[...document.querySelectorAll('section.sku')].slice(0, 4).every(s => "
                                   "[...s.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0))")
            save_screenshot(page.screenshot(), REPO_ROOT / screenshot)
        with page.expect_download() as download:
            page.keyboard.press("s")
        picks = tmp_path / "picks.csv"
        download.value.save_as(picks)
    rows = list(csv.DictReader(io.StringIO(picks.read_text(encoding="utf-8"))))
    winners = {(r["sku"], r["candidate_id"]) for r in rows if r["decision"] == "pick"}
    assert {r["sku"] for r in rows} == {r.sku for r in run.records() if r.status == "done"}
    assert {r["sku"] for r in rows if r["decision"] == "regenerate"} == regenerate
    best = sorted(run.read_record("TSHIRT-001").candidates, key=lambda c: c.rank)[:2]   # the page shows them by rank
    assert {("TSHIRT-001", c.candidate_id) for c in best} == {w for w in winners if w[0] == "TSHIRT-001"}

    from catloc.cli import app
    shop = tmp_path / "shop"
    result = CliRunner().invoke(app, ["picks", "apply", "day", str(picks), "--publish", str(shop), "--out", run.out])
    assert result.exit_code == 0, result.output
    manifest = pd.read_parquet(Path(run.uri) / "published.parquet")
    assert list(manifest.columns) == PUBLISHED_COLUMNS and len(manifest) == len(winners)
    assert {(r.sku, r.candidate_id) for r in manifest.itertuples()} == winners
    published = sorted(p.relative_to(shop).as_posix() for p in shop.rglob("*.jpg"))
    assert "TSHIRT-001/sa_1.jpg" in published and "TSHIRT-001/sa_2.jpg" in published
    assert len(published) == len(winners) and not any(p.startswith(tuple(regenerate)) for p in published)
    assert all(Path(u).is_file() for u in manifest["published_uri"])


def test_rejected_skus_get_new_candidates_and_keep_their_history(sample_run, tmp_path):
    from catloc.flows.rerun import rerun
    from catloc.flows.prepare import RerunError
    from catloc.tasks.review.publish import apply_picks
    root, run = sample_run
    picks = tmp_path / "regen.csv"
    picks.write_text("run_id,market,sku,attempt,candidate_id,decision,image\n" +
                     "".join(f"day,sa,{sku},0,,regenerate,\n" for sku in REGENERATE), encoding="utf-8")
    apply_picks("day", str(picks), str(tmp_path / "shop"), out=run.out)
    before = {sku: run.read_record(sku) for sku in REGENERATE}
    untouched = run.read_record("TSHIRT-001")
    result = rerun("day", out=run.out, rejected=True)
    applied = json.loads(Path(run.uri, "picks", "applied.json").read_text(encoding="utf-8"))
    marked = {sku for sku, decided in applied.items() if decided.get("regenerate")}   # the review day's too
    assert set(REGENERATE) <= marked and sorted(result["rerun"]) == sorted(marked)
    for sku in REGENERATE:
        record = run.read_record(sku)
        new = [c for c in record.candidates if c.attempt == 1]
        assert record.attempt == 1 and len(new) == 7 and len(record.candidates) == 14   # the first 7 are kept
        assert [c.candidate_id for c in new] == [f"c{i:02d}" for i in range(8, 15)]
        assert not {c.seed for c in new} & {c.seed for c in before[sku].candidates}
        shown = {(c.scene, c.framing) for c in before[sku].candidates}
        assert not {(c.scene, c.framing) for c in new} & shown           # nothing it has shown before
        assert all(Path(c.image).is_file() for c in record.candidates)
    assert run.read_record("TSHIRT-001").candidates == untouched.candidates
    review = pd.read_parquet(Path(run.uri) / "review.parquet")
    assert sorted(review[review["sku"] == "MUG-010"]["attempt"].unique()) == [0, 1]
    html = Path(run.review_page).read_text(encoding="utf-8")
    assert '"attempt":1' in html and "c14" in html
    with pytest.raises(RerunError, match="no SKU of run 'day' is marked 'regenerate'"):
        rerun("day", out=run.out, rejected=True)    # already regenerated: nothing marked any more


def test_the_next_nightly_run_regenerates_what_was_rejected_and_leans_on_picks(sample_run, tmp_path):
    from catloc.flows.nightly import nightly
    from catloc.tasks.review.publish import apply_picks
    root, run = sample_run
    picks = tmp_path / "p.csv"
    picks.write_text("run_id,market,sku,attempt,candidate_id,decision,image\nday,sa,TSHIRT-001,0,,regenerate,\n"
                     "day,sa,JEANS-003,0,c04,pick,\n", encoding="utf-8")
    apply_picks("day", str(picks), str(tmp_path / "shop"), out=run.out)
    nightly(str(root / "sample" / "catalog.csv"), "sa", out=run.out, run_id="night2", limit=1)  # TSHIRT-001 first
    night = RunFolder(run.out, "night2")
    mix = json.loads(Path(night.uri, "run.json").read_text())["mix"]
    assert mix["attempts"]["TSHIRT-001"]["attempt"] == 1 and mix["scene_shares"]
    shirt = night.read_record("TSHIRT-001")
    assert shirt.status == "done" and shirt.attempt == 1 and shirt.candidates[0].candidate_id == "c08"
    first = {(c.scene, c.framing) for c in run.read_record("TSHIRT-001").candidates}
    assert not {(c.scene, c.framing) for c in shirt.candidates} & first
    assert set(shirt.stage_seconds) == {"ingest", "clean", "analyse", "localize", "qc"}


def test_the_run_leaves_progress_summary_and_link_artifacts(sample_run):
    from prefect.client.orchestration import get_client
    _, run = sample_run
    with get_client(sync_client=True) as client:
        artifacts = {}
        for artifact in client.read_artifacts():
            artifacts.setdefault(artifact.key, []).append(artifact)
    assert {"catloc-sa-progress", "catloc-sa-summary", "catloc-sa-review"} <= set(artifacts)  # one per run
    assert all(a.data == pytest.approx(100.0) for a in artifacts["catloc-sa-progress"])
    page = Path(run.review_page).resolve().as_uri()
    assert any(page in a.data for a in artifacts["catloc-sa-review"])
    summaries = [json.loads(a.data) for a in artifacts["catloc-sa-summary"]]
    day = next(t for t in summaries if {"group": "SKUs by status", "item": "done", "value": 13} in t)
    assert {"SKUs by status", "seconds per SKU", "throughput"} <= {row["group"] for row in day}
    assert {row["item"] for row in day if row["group"] == "seconds per SKU"} == {"ingest", "clean", "analyse",
                                                                                 "localize", "qc"}
