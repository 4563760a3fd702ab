"""The orchestration pieces on their own, without Prefect: rerun selection, input keys, the run
folder's records and deferral, stage forcing, preparation errors, progress."""
import dataclasses

import pytest

from catloc.config import ConfigError
from catloc.outputs import Cleaned, ScoredCandidate, Source
from catloc.records import CatalogItem, SkuError, SkuRecord
from catloc.runfolder import RunFolder
from catloc.schedule import NightBudget
from catloc.flows.prepare import (RerunError, RunSettings, by_priority, input_key, prepare_rerun, prepare_run,
                                  select_skus)
from catloc.flows.skus import progress


def _item(sku, row, priority=3, **kw):
    return CatalogItem(sku=sku, images=[f"{sku}.jpg"], row=row, priority=priority, **kw)


ITEMS = [_item("A", 2), _item("B", 3, priority=1), _item("C", 4), _item("D", 5, priority=1)]


def test_rerun_selects_failed_deferred_or_named_skus_and_unrecorded_ones():
    records = [SkuRecord("A", "done"), SkuRecord("B", "failed"), SkuRecord("C", "deferred")]  # D: no record
    pick = lambda **kw: [it.sku for it in select_skus(ITEMS, records, **kw)]  # noqa: E731
    assert pick(failed=False, deferred=False, skus=None) == ["B", "C", "D"]   # neither flag: both
    assert pick(failed=True, deferred=False, skus=None) == ["B", "D"]
    assert pick(failed=False, deferred=True, skus=None) == ["C", "D"]
    assert pick(failed=True, deferred=False, skus=["A"]) == ["A"]              # named: whatever its status
    with pytest.raises(RerunError, match="not in the catalog: X, Y"):
        pick(failed=False, deferred=False, skus=["A", "Y", "X"])


def test_priority_order_is_urgent_first_then_catalog_order():
    assert [it.sku for it in by_priority(ITEMS)] == ["B", "D", "A", "C"]


def test_input_key_follows_the_row_and_config_but_not_the_priority(cfg, market):
    item = _item("A", 2, title="Tee")
    key = input_key(item, cfg, market, 7)
    assert key == input_key(dataclasses.replace(item, priority=1), cfg, market, 7)
    assert key != input_key(dataclasses.replace(item, images=["other.jpg"]), cfg, market, 7)
    assert key != input_key(dataclasses.replace(item, title="Shirt"), cfg, market, 7)
    assert key != input_key(item, cfg, market, 6)
    assert key != input_key(item, dataclasses.replace(cfg, qc={**cfg.qc, "min_output_side": 1}), market, 7)


def test_deferral_never_overwrites_a_done_sku(tmp_path):
    folder = RunFolder(str(tmp_path), "r")
    folder.write_record(SkuRecord.of(ITEMS[0], "done", input_key="k"))
    folder.mark_deferred(ITEMS[:2], "deadline 07:00: not started")
    assert folder.read_record("A").status == "done" and folder.is_done("A", "k") and not folder.is_done("A", "x")
    b = folder.read_record("B")
    assert (b.status, b.error, b.priority, b.row) == ("deferred", "deadline 07:00: not started", 1, 3)
    assert [r.sku for r in folder.records()] == ["A", "B"]  # catalog order


def test_a_record_keeps_what_the_stages_before_a_failure_made(tmp_path):
    record = SkuRecord.of(ITEMS[0], "failed")
    record.fail(SkuError("analyse", "no product found"), Source("s.png"), Cleaned("c.png", "m.png", {"text_found": 2}))
    assert (record.stage, record.source_image, record.cleaned_image) == ("analyse", "s.png", "c.png")
    record.finish(Source("s.png"), Cleaned("c.png", "m.png"), [ScoredCandidate("c01", "c01.png", rank=1)])
    folder = RunFolder(str(tmp_path), "r")
    folder.write_record(record)
    back = folder.read_record("A")
    assert back.status == "done" and back.error == "" and back.candidates == record.candidates
    assert isinstance(back.candidates[0], ScoredCandidate)


def test_an_unreadable_record_counts_as_never_finished(tmp_path):
    folder = RunFolder(str(tmp_path), "r")
    (tmp_path / "r" / "skus" / "A").mkdir(parents=True)
    (tmp_path / "r" / "skus" / "A" / "record.json").write_text("{not json")
    assert folder.read_record("A") is None and not folder.is_done("A", "")


def test_forcing_a_stage_forces_every_later_one(cfg, market):
    settings = RunSettings(cfg, market, RunFolder("o", "r"), 7, clean=None, force_from="localize")
    assert [s for s in ("clean", "analyse", "localize", "qc") if settings.forces(s)] == ["localize", "qc"]
    assert not RunSettings(cfg, market, RunFolder("o", "r"), 7, clean=None).forces("qc")


def test_preparation_reports_what_is_wrong_before_anything_runs(tmp_path, small_catalog):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="unknown market 'zz'"):
        prepare_run(str(small_catalog), "zz", out=str(out))
    with pytest.raises(ValueError, match="deadline must be HH:MM"):
        prepare_run(str(small_catalog), "sa", out=str(out), deadline="7am")
    with pytest.raises(RerunError, match="--stage must be one of clean, analyse, localize, qc"):
        prepare_rerun("r1", out=str(out), stage="paint")
    with pytest.raises(RerunError, match="no run 'r1'"):
        prepare_rerun("r1", out=str(out))
    assert not out.exists()  # nothing was written


def test_prepare_reads_the_catalog_once_and_plans_by_priority(tmp_path, small_catalog):
    plan = prepare_run(str(small_catalog), "sa", out=str(tmp_path), run_id="p1", limit=2, candidates=6)
    assert [it.sku for it in plan.todo] == ["SHIRT-1", "PLAIN-2"] and [it.sku for it in plan.over_limit] == ["BROKEN-3"]
    assert [r.error for r in plan.rejected] == ["catalog row 5: empty sku"]
    assert plan.settings.n_candidates == 6 and plan.folder.uri == str(tmp_path / "p1")
    assert plan.settings.clean.policy == "keep_product_text"  # the market's clean_policy
    assert not (tmp_path / "p1").exists()  # preparing writes nothing


def test_progress_counts_and_rates():
    budget = NightBudget(prior_s=10)
    state = progress(5, [SkuRecord("A", "done"), SkuRecord("B", "failed")], budget)
    assert (state["total"], state["finished"], state["done"], state["failed"]) == (5, 2, 1, 1)
    assert state["expected_sku_s"] == 10 and state["deadline"] is None and state["updated"]


def test_stage_seconds_and_workers_are_counted_per_sku_and_old_records_still_load(tmp_path, cfg, market,
                                                                                   monkeypatch):
    import time

    from catloc.flows import skus

    def slow(work, run):
        time.sleep(0.05)

    def no_product(work, run):
        raise SkuError("analyse", "no product found")
    monkeypatch.setattr(skus, "STEPS", {"ingest": slow, "clean": slow, "analyse": no_product, "localize": slow,
                                        "qc": slow})
    folder = RunFolder(str(tmp_path), "r")
    settings = RunSettings(cfg, market, folder, 7, clean=None)
    work = skus.SkuWork.start(ITEMS[0], "key-a")
    skus.advance(work, ("ingest", "clean"), settings, "cpu-0", last=False)   # a first task, on a CPU worker
    assert not work.stopped and folder.read_record("A") is None             # no record between tasks
    skus.advance(work, ("analyse", "localize", "qc"), settings, "gpu-0", last=True)
    record = folder.read_record("A")
    assert (record.status, record.stage, record.error, record.input_key) == ("failed", "analyse", "no product found",
                                                                             "key-a")
    assert set(record.stage_seconds) == {"ingest", "clean", "analyse"} and record.stage_seconds["clean"] >= 0.05
    assert record.seconds >= 0.1 and record.workers == {"ingest": "cpu-0", "clean": "cpu-0", "analyse": "gpu-0"}
    old = SkuRecord("A", "done").to_dict()
    del old["stage_seconds"], old["attempt"], old["workers"]
    assert (SkuRecord.from_dict(old).stage_seconds, SkuRecord.from_dict(old).attempt) == ({}, 0)
