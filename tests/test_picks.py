"""``catloc picks apply``: both picks formats, every validation error, the publish layout and
manifest, idempotent publishing, a changed pick replacing exactly that SKU's images."""
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from catloc.history import PickHistory
from catloc.picks import PicksError
from catloc.records import PICK_HISTORY_COLUMNS, PUBLISHED_COLUMNS
from catloc.runfolder import RunFolder
from catloc.tasks.review.publish import apply_picks
from tests.review_run import make_review_run

HEADER = "run_id,market,sku,attempt,candidate_id,decision,image\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return make_review_run(tmp_path_factory.mktemp("made") / "out", n_skus=6)


@pytest.fixture
def run(made, tmp_path):
    """A finished run 'rv' of SKU-000..SKU-005 (SKU-004 failed; SKU-000's and SKU-003's c07 failed QC)."""
    shutil.copytree(made.out, tmp_path / "out")
    return RunFolder(str(tmp_path / "out"), "rv")


def _picks(tmp_path, *rows, name="picks.csv", run_id="rv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{run_id},sa,{r}\n" for r in rows), encoding="utf-8")
    return path


def _files(root):
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_page_picks_are_published_with_stable_names_and_a_manifest(run, tmp_path):
    picks = _picks(tmp_path, "SKU-000,0,c03,pick,", "SKU-000,0,c01,pick,", "SKU-000,0,c02,reject,",
                   "SKU-001,0,c02,pick,", "SKU-002,0,,regenerate,", "SKU-002,0,c01,reject,")
    shop = tmp_path / "shop"
    result = apply_picks("rv", str(picks), str(shop), out=run.out)
    assert (result["skus"], result["picks"], result["images"], result["written"]) == (3, 3, 3, 3)
    assert result["regenerate"] == ["SKU-002"]
    assert sorted(_files(shop)) == ["SKU-000/sa_1.jpg", "SKU-000/sa_2.jpg", "SKU-001/sa_1.jpg"]
    manifest = pd.read_parquet(f"{run.uri}/published.parquet")
    assert list(manifest.columns) == PUBLISHED_COLUMNS
    first = manifest.set_index(["sku", "position"]).loc[("SKU-000", 1)]
    assert first["candidate_id"] == "c01"   # best rank first: sa_1 is the main image
    assert first["published_uri"] == str(shop / "SKU-000" / "sa_1.jpg")
    assert first["checksum"] == hashlib.sha256((shop / "SKU-000" / "sa_1.jpg").read_bytes()).hexdigest()
    assert first["source_image"] == "skus/SKU-000/source-0.png" and first["seed"] == 0
    with Image.open(shop / "SKU-000" / "sa_1.jpg") as im:  # the market's publish profile: JPEG, <= 1600 px
        assert im.format == "JPEG" and im.size == (first["width"], first["height"]) == (320, 320)
    applied = json.loads(Path(run.uri, "picks", "applied.json").read_text(encoding="utf-8"))
    assert applied["SKU-000"]["picks"] == ["c01", "c03"] and applied["SKU-002"]["regenerate"] is True
    history = PickHistory(f"{run.out}/_history", "sa").read()
    assert list(history.columns) == PICK_HISTORY_COLUMNS
    assert len(history) == 21 and history["picked"].sum() == 3  # 3 decided SKUs x 7 candidates shown
    assert history[history["sku"] == "SKU-002"]["regenerate"].all()


def test_a_spreadsheet_filled_review_csv_is_accepted(run, tmp_path):
    sheet = pd.read_csv(f"{run.uri}/review.csv", keep_default_na=False, dtype=str)
    marks = {("SKU-000", "c02"): "1", ("SKU-001", "c01"): "TRUE", ("SKU-001", "c04"): "x",
             ("SKU-003", "c05"): "✓", ("SKU-005", "c01"): "regenerate", ("SKU-005", "c02"): "regenerate"}
    sheet["pick"] = [marks.get((s, c), "") for s, c in zip(sheet["sku"], sheet["candidate_id"])]
    path = tmp_path / "review.csv"
    sheet.to_csv(path, index=False, encoding="utf-8-sig")  # as a spreadsheet saves 'CSV UTF-8'
    result = apply_picks("rv", str(path), str(tmp_path / "shop"), out=run.out)
    assert (result["skus"], result["picks"], result["regenerate"]) == (4, 4, ["SKU-005"])
    assert sorted(_files(tmp_path / "shop")) == ["SKU-000/sa_1.jpg", "SKU-001/sa_1.jpg", "SKU-001/sa_2.jpg",
                                                 "SKU-003/sa_1.jpg"]
    # semicolon-separated (a spreadsheet in a comma-decimal locale) reads the same
    path.write_text(sheet.to_csv(index=False, sep=";"), encoding="utf-8")
    assert apply_picks("rv", str(path), str(tmp_path / "shop"), out=run.out)["written"] == 0


def test_every_problem_is_listed_and_nothing_is_published(run, tmp_path):
    picks = _picks(tmp_path,
                   "NOPE-1,0,c01,pick,",                                            # unknown SKU
                   "SKU-001,0,c09,pick,",                                           # unknown candidate
                   "SKU-001,0,c01,pick,", "SKU-001,0,c02,pick,", "SKU-001,0,c03,pick,", "SKU-001,0,c04,pick,",
                   "SKU-000,0,c07,pick,",                                           # failed QC
                   "SKU-002,0,c01,pick,", "SKU-002,0,c01,reject,",                   # picked and rejected
                   "SKU-003,0,c01,pick,", "SKU-003,0,,regenerate,",                 # picks and regenerate
                   "SKU-005,1,,regenerate,",                                        # an attempt the run never made
                   "SKU-005,0,c02,maybe,")                                          # not a decision
    foreign = tmp_path / "other.csv"
    foreign.write_text(picks.read_text(encoding="utf-8") + "old-run,sa,SKU-005,0,c01,pick,\n", encoding="utf-8")
    with pytest.raises(PicksError) as caught:
        apply_picks("rv", str(foreign), str(tmp_path / "shop"), out=run.out)
    message = str(caught.value)
    for expected in ["cannot apply other.csv to run rv: 9 problems, nothing was published",
                     "line 2: SKU 'NOPE-1' is not in run rv", "line 3: SKU 'SKU-001' has no candidate 'c09'",
                     "SKU 'SKU-001': 4 picks (c01, c02, c03, c04), at most 3 allowed",
                     "line 8: SKU 'SKU-000' c07 failed QC (residual text outside the product",
                     "pass --allow-failed", "line 10: SKU 'SKU-002' c01 is rejected here but picked on line 9",
                     "SKU 'SKU-003' is marked regenerate but also has picks (c01)",
                     "line 13: SKU 'SKU-005' is marked regenerate for attempt 1, but run rv shows attempt 0",
                     "line 14: decision 'maybe' for SKU 'SKU-005' is not one of pick, reject, regenerate",
                     "1 row come from run 'old-run', not 'rv' (line 15): this is another run's picks file"]:
        assert expected in message, expected
    assert not (tmp_path / "shop").exists()
    assert not any(Path(run.uri, name).exists() for name in ("published.parquet", "picks"))
    assert not (tmp_path / "out" / "_history").exists()
    # the QC-failed winner goes through with --allow-failed
    ok = _picks(tmp_path, "SKU-000,0,c07,pick,", name="ok.csv")
    with pytest.raises(PicksError, match="failed QC"):
        apply_picks("rv", str(ok), str(tmp_path / "shop"), out=run.out)
    assert apply_picks("rv", str(ok), str(tmp_path / "shop"), out=run.out, allow_failed=True)["written"] == 1


def test_bad_files_are_clear_errors(run, tmp_path):
    other = tmp_path / "catalog.csv"
    other.write_text("sku,image\nA,a.jpg\n", encoding="utf-8")
    with pytest.raises(PicksError, match="catalog.csv is not a picks file.*columns are sku, image"):
        apply_picks("rv", str(other), str(tmp_path / "shop"), out=run.out)
    with pytest.raises(PicksError, match="it decides nothing"):
        apply_picks("rv", str(_picks(tmp_path)), str(tmp_path / "shop"), out=run.out)
    with pytest.raises(ValueError, match="picks file not found"):
        apply_picks("rv", str(tmp_path / "missing.csv"), str(tmp_path / "shop"), out=run.out)
    with pytest.raises(ValueError, match="no finished run 'zz'"):
        apply_picks("zz", str(other), str(tmp_path / "shop"), out=run.out)


def test_publishing_twice_changes_nothing_and_a_changed_pick_replaces_only_its_sku(run, tmp_path):
    shop = tmp_path / "shop"
    first = _picks(tmp_path, "SKU-000,0,c01,pick,", "SKU-000,0,c02,pick,", "SKU-001,0,c03,pick,")
    apply_picks("rv", str(first), str(shop), out=run.out)
    files, manifest = _files(shop), pd.read_parquet(f"{run.uri}/published.parquet")
    again = apply_picks("rv", str(first), str(shop), out=run.out)
    assert (again["written"], again["removed"]) == (0, 0) and _files(shop) == files
    pd.testing.assert_frame_equal(pd.read_parquet(f"{run.uri}/published.parquet"), manifest)  # times kept too
    changed = _picks(tmp_path, "SKU-000,0,c05,pick,", name="changed.csv")
    result = apply_picks("rv", str(changed), str(shop), out=run.out)
    assert (result["written"], result["removed"]) == (1, 1)
    now = _files(shop)
    assert sorted(now) == ["SKU-000/sa_1.jpg", "SKU-001/sa_1.jpg"] and now["SKU-001/sa_1.jpg"] == files["SKU-001/sa_1.jpg"]
    published = pd.read_parquet(f"{run.uri}/published.parquet").set_index("sku")
    assert published.loc["SKU-000", "candidate_id"] == "c05" and published.loc["SKU-001", "candidate_id"] == "c03"
    # the history counts SKU-000 once, with its latest decision
    history = PickHistory(f"{run.out}/_history", "sa").read()
    assert list(history[history["picked"]].sort_values("sku")["candidate_id"]) == ["c05", "c03"]


def test_cli_picks_apply_and_stats(run, tmp_path):
    from catloc.cli import app
    picks = _picks(tmp_path, "SKU-000,0,c01,pick,", "SKU-001,0,c02,pick,", "SKU-002,0,,regenerate,")
    result = CliRunner().invoke(app, ["picks", "apply", "rv", str(picks), "--publish", str(tmp_path / "shop"),
                                      "--out", run.out])
    assert result.exit_code == 0, result.output
    assert "3 SKUs decided, 2 winners; 2 images written" in result.output
    assert "catloc rerun rv --rejected" in result.output
    result = CliRunner().invoke(app, ["picks", "stats", "--market", "sa", "--out", run.out], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "white_main" in result.output and "next_share" in result.output
    bad = _picks(tmp_path, "SKU-001,0,c42,pick,", name="bad.csv")
    result = CliRunner().invoke(app, ["picks", "apply", "rv", str(bad), "--publish", str(tmp_path / "shop"),
                                      "--out", run.out])
    assert result.exit_code == 2 and "has no candidate 'c42'" in result.output
