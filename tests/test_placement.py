"""Running beyond one process, the parts that need no cluster: cluster settings, stage placement by
resource, batch sizes, engine warm-up per worker kind, and what a lost batch leaves in the run folder."""
import os

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from catloc.config import ConfigError, load_cluster, load_pipeline_config, load_resources, parse_cluster
from catloc.records import CatalogItem, SkuError, SkuRecord
from catloc.runfolder import RunFolder
from catloc.schedule import NightBudget
from catloc.flows.prepare import choose_cluster
from catloc.flows.runners import EngineWarmup, StageGroup, place_stages
from catloc.flows.skus import QUEUED, Batch, batch_size, settle

WANTED = {"default": {"CPU": 1.0}, "localize": {"GPU": 1.0}}
CPU, GPU = {"CPU": 1.0}, {"GPU": 1.0}


def _stages(groups):
    return [(g.stages, g.resources) for g in groups]


def test_generation_goes_to_gpu_workers_and_the_rest_to_cpu_workers():
    assert _stages(place_stages(WANTED, [CPU, CPU, GPU])) == [
        (("ingest", "clean", "analyse"), CPU), (("localize",), GPU), (("qc",), CPU)]


def test_resources_no_worker_offers_fall_back_to_the_default_then_to_any_worker():
    everything = ("ingest", "clean", "analyse", "localize", "qc")
    assert _stages(place_stages(WANTED, [CPU, CPU])) == [(everything, CPU)]   # no GPU worker: one task per batch
    assert _stages(place_stages(WANTED, [{}])) == [(everything, {})]           # plain workers: anywhere
    assert _stages(place_stages(WANTED, None)) == [(everything, {})]           # threads: no resources at all
    assert _stages(place_stages(WANTED, [{"CPU": 0.5}, GPU])) == [(("ingest", "clean", "analyse"), {}),
                                                                   (("localize",), GPU), (("qc",), {})]


def test_a_stage_configured_for_the_gpu_gets_its_own_task():
    wanted = {**WANTED, "clean": {"GPU": 1.0}}  # e.g. diffusers inpainting
    assert _stages(place_stages(wanted, [CPU, GPU])) == [
        (("ingest",), CPU), (("clean",), GPU), (("analyse",), CPU), (("localize",), GPU), (("qc",), CPU)]


def test_each_worker_warms_up_only_the_engines_of_the_stages_it_can_run(cfg):
    warmup = EngineWarmup(place_stages(WANTED, [CPU, GPU]), cfg.engines)
    assert warmup.kinds_for(GPU) == ["generate"]
    assert sorted(warmup.kinds_for({"CPU": 2.0})) == ["inpaint", "ocr", "segment"]
    assert warmup.kinds_for({}) == []


def test_batches_shrink_as_the_queue_empties():
    assert batch_size(10_000, 3, 8) == 8          # a big night: full batches
    assert batch_size(13, 2, 8) == 3              # the sample catalog: a few SKUs per task...
    assert batch_size(3, 2, 8) == 1               # ...and one at a time at the end of the queue
    assert [batch_size(q, 2, 8) for q in (64, 40, 16, 8, 1)] == [8, 8, 4, 2, 1]


def test_a_task_takes_as_many_skus_in_a_row_as_the_deadline_allows():
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    budget = NightBudget(deadline=now + dt.timedelta(seconds=400), reserve_s=60, prior_s=100)
    assert budget.fitting_skus(8, now) == 3 and budget.fitting_skus(2, now) == 2
    assert budget.fitting_skus(8, now + dt.timedelta(seconds=300)) == 0 and not budget.fits(now + dt.timedelta(seconds=300))
    assert NightBudget().fitting_skus(8) == 8


class KilledWorker(Exception):
    """What Dask raises when the workers running a task kept dying (distributed.KilledWorker)."""


class _Lost:
    """A future whose task was lost with its worker."""

    def result(self, *args, **kwargs):
        raise KilledWorker("Attempted to run task 'skus-1' on 4 different workers, but all those workers died")


class _Done:
    def __init__(self, value=None):
        self.value = value

    def result(self, *args, **kwargs):
        return self.value


def _item(sku, row):
    return CatalogItem(sku=sku, images=[f"{sku}.jpg"], row=row)


def test_a_lost_batch_leaves_no_sku_missing_and_keeps_what_its_tasks_recorded(tmp_path):
    folder = RunFolder(str(tmp_path), "night")
    items = [_item("A", 2), _item("B", 3), _item("C", 4)]
    folder.mark_deferred(items, QUEUED)
    failed_early = SkuRecord.of(items[1], "failed")
    failed_early.fail(SkuError("clean", "OCR engine crashed"))
    folder.write_record(failed_early)  # B stopped at clean, in the first task, before the loss
    groups = [StageGroup(("ingest", "clean", "analyse"), CPU), StageGroup(("localize",), GPU),
              StageGroup(("qc",), CPU)]
    outcomes = settle(Batch(items, groups, [_Done(), _Lost(), _Lost()]), folder)
    assert [(o.sku, o.status) for o in outcomes] == [("A", "failed"), ("B", "failed"), ("C", "failed")]
    a = folder.read_record("A")
    assert a.stage == "localize" and a.error.startswith("worker lost at localize (KilledWorker: Attempted to run")
    assert "catloc rerun night --failed" in a.error and a.row == 2
    assert folder.read_record("B").error == "OCR engine crashed"   # its own reason stays
    assert {r.sku for r in folder.records()} == {"A", "B", "C"}
    assert all(r.status == "failed" and r.error for r in folder.records())


def test_a_task_that_fails_for_another_reason_says_so(tmp_path):
    folder = RunFolder(str(tmp_path), "night")
    items = [_item("A", 2)]
    folder.mark_deferred(items, QUEUED)

    class _Broken:
        def result(self, *args, **kwargs):
            raise TypeError("cannot pickle '_thread.lock' object")
    settle(Batch(items, [StageGroup(("ingest", "clean"), {})], [_Broken()]), folder)
    assert folder.read_record("A").error.startswith("task failed at ingest (TypeError: cannot pickle")


def test_cluster_settings_are_checked_with_clear_errors(tmp_path):
    assert parse_cluster("local:2") == "local:2" and parse_cluster("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert parse_cluster("none") is None and parse_cluster(None) is None
    for bad in ("local:0", "local", "http://x:8786", "gpu-box"):
        with pytest.raises(ConfigError, match="expected local:N"):
            parse_cluster(bad)
    with pytest.raises(ConfigError, match=r"p.yaml: unknown key\(s\) in cluster: adress"):
        load_cluster({"adress": "local:2"}, "p.yaml")
    with pytest.raises(ConfigError, match="cluster.skus_per_task must be a whole number >= 1, got 0"):
        load_cluster({"skus_per_task": 0}, "p.yaml")
    with pytest.raises(ConfigError, match="resources.localise: not a stage"):
        load_resources({"localise": {"GPU": 1}}, "p.yaml")
    with pytest.raises(ConfigError, match="resources.localize.GPU must be a positive number"):
        load_resources({"localize": {"GPU": 0}}, "p.yaml")
    shipped = load_pipeline_config()
    assert shipped.cluster.address is None and shipped.resources == WANTED


def test_the_cluster_comes_from_the_option_then_the_environment_then_the_config(cfg, monkeypatch):
    import dataclasses
    configured = dataclasses.replace(cfg, cluster=dataclasses.replace(cfg.cluster, address="local:3"))
    monkeypatch.delenv("CATLOC_CLUSTER", raising=False)
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert choose_cluster(None, configured) == "local:3"
        monkeypatch.setenv("CATLOC_CLUSTER", "tcp://10.0.0.5:8786")
        assert choose_cluster(None, configured) == "tcp://10.0.0.5:8786"
        assert choose_cluster("local:2", configured) == "local:2" and choose_cluster("none", configured) is None
        monkeypatch.setenv("CATLOC_CLUSTER", "nope")
        with pytest.raises(ConfigError, match=r"\$CATLOC_CLUSTER: expected local:N"):
            choose_cluster(None, configured)


def test_a_cluster_run_refuses_the_temporary_server(cfg, monkeypatch):
    monkeypatch.delenv("CATLOC_CLUSTER", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not PREFECT_API_URL.value() and not os.environ.get("CATLOC_CLUSTER")
        assert choose_cluster(None, cfg) is None      # threads: the temporary server is fine
        with pytest.raises(ConfigError, match="PREFECT_API_URL is not set.*export PREFECT_API_URL="):
            choose_cluster("local:2", cfg)


def test_the_cli_refuses_a_cluster_on_the_temporary_server(small_catalog, tmp_path):
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "CATLOC_CLUSTER")}
    env["PREFECT_HOME"] = str(tmp_path / "ph")
    proc = subprocess.run([sys.executable, "-m", "catloc.cli", "run", str(small_catalog), "--market", "sa",
                           "--out", str(tmp_path / "out"), "--cluster", "local:2"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    message = " ".join(proc.stderr.split())  # the console wraps long lines
    assert proc.returncode == 2 and message.startswith("error: --cluster local:2 runs tasks in other processes")
    assert "PREFECT_API_URL is not set" in message and "catloc stack up" in message
    assert not (tmp_path / "out").exists()
