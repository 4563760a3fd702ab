"""Beyond one process, end to end: a real Prefect server (started here, SQLite), a local cluster of two
worker processes, and a Dask scheduler with a GPU worker and two CPU workers (started here as
``catloc stack`` starts them). Everything is stopped at the end, also when a test fails."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from catloc import stack
from catloc.config import REPO_ROOT
from tests.conftest import copy_config, make_catalog

pytestmark = pytest.mark.slow


def _compare_runs():
    """scripts/compare_runs.py (not a package): its comparison of two run folders."""
    spec = importlib.util.spec_from_file_location("compare_runs", REPO_ROOT / "scripts" / "compare_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """One real Prefect server (SQLite) for the module; yields its API URL."""
    folder = tmp_path_factory.mktemp("prefect-server")
    server, api_url = stack.start_prefect_server(folder, "127.0.0.1", stack.free_port(), None, ui=False)
    try:
        stack.wait_healthy(server, api_url)
        yield api_url
    finally:
        stack.stop(server)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory, prefect_server):
    """A scheduler with workers gpu-0 (GPU=1), cpu-0 and cpu-1 (CPU=1), each its own process (with a
    nanny, as in production); yields the scheduler address."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler, address = stack.start_scheduler(folder, "127.0.0.1", stack.free_port())
    services = [scheduler]
    try:
        stack.wait_logged(scheduler, "Scheduler at:", "scheduler start")
        services += [stack.start_dask_worker(folder, "gpu-0", address, {"GPU": 1}, prefect_server)]
        services += [stack.start_dask_worker(folder, f"cpu-{i}", address, {"CPU": 1}, prefect_server) for i in (0, 1)]
        for worker in services[1:]:
            stack.wait_logged(worker, "Registered to:", "registration with the scheduler")
        yield address
    finally:
        for service in reversed(services):
            stack.stop(service)


def test_stack_services_log_at_info_whatever_the_caller_set(tmp_path, monkeypatch):
    """The stack waits for its services' INFO lines: a caller quietened by `catloc run` (which sets
    DASK_LOGGING__DISTRIBUTED=warning in its own environment) must not silence them."""
    monkeypatch.setenv("DASK_LOGGING__DISTRIBUTED", "warning")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")
    env = stack.service_env(tmp_path, "http://127.0.0.1:1/api")
    assert (env["DASK_LOGGING__DISTRIBUTED"], env["PREFECT_LOGGING_LEVEL"]) == ("info", "INFO")


def catloc(*args, api_url, home, wait=True):
    """``catloc ARGS`` in a process of its own, reporting to the Prefect server at ``api_url``."""
    env = dict(os.environ, PREFECT_API_URL=api_url, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("CATLOC_CLUSTER", None)
    Path(home).mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "catloc.cli", *args]
    if not wait:
        return subprocess.Popen(cmd, env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return subprocess.run(cmd, env=env, cwd=home, capture_output=True, text=True, timeout=900)


def records(run: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (run / "skus").glob("*/record.json")}


def test_the_sample_catalog_on_two_worker_processes_equals_the_single_process_run(tmp_path, prefect_server):
    sample = tmp_path / "sample"
    subprocess.run([sys.executable, str(REPO_ROOT / "catalogs" / "make_sample.py"), "--out", str(sample)], check=True,
                   capture_output=True)
    out = tmp_path / "out"
    common = [str(sample / "catalog.csv"), "--market", "sa", "--out", str(out)]
    single = catloc("run", *common, "--run-id", "single", api_url=prefect_server, home=tmp_path / "h1")
    assert single.returncode == 0, single.stderr[-3000:]
    spread = catloc("run", *common, "--run-id", "cluster", "--cluster", "local:2", api_url=prefect_server,
                    home=tmp_path / "h2")
    assert spread.returncode == 0, spread.stderr[-3000:]
    compare = _compare_runs()
    problems = compare.compare_files(out / "single", out / "cluster")
    problems += compare.compare_sheet(out / "single", out / "cluster", "review")
    problems += compare.compare_sheet(out / "single", out / "cluster", "status")
    assert not problems, "\n".join(problems)
    assert len(list((out / "cluster").rglob("candidates/*.png"))) >= 12 * 6
    ran_on = {w for rec in records(out / "cluster").values() for w in rec["workers"].values()}
    assert len(ran_on) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in ran_on)  # both worker processes
    assert {w for rec in records(out / "single").values() for w in rec["workers"].values()} == {os.uname().nodename}


def test_generation_runs_only_on_the_worker_that_declares_a_gpu(tmp_path, prefect_server, dask_cluster):
    catalog = make_catalog(tmp_path / "cat", 5)
    out = tmp_path / "out"
    proc = catloc("run", str(catalog), "--market", "us", "--out", str(out), "--run-id", "gpu", "--candidates", "6",
                  "--cluster", dask_cluster, api_url=prefect_server, home=tmp_path / "h")
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = records(out / "gpu")
    assert len(done) == 5 and all(rec["status"] == "done" for rec in done.values())
    for rec in done.values():
        assert rec["workers"]["localize"] == "gpu-0"
        assert {rec["workers"][s] for s in ("ingest", "clean", "analyse", "qc")} <= {"cpu-0", "cpu-1"}


def test_an_engine_a_worker_cannot_build_stops_the_run_before_any_sku(tmp_path, prefect_server, dask_cluster):
    import yaml
    config = copy_config(tmp_path / "configs")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["engines"]["ocr"]["options"]["det_side"] = 10  # the rapidocr engine refuses it when it is built
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    catalog, out = make_catalog(tmp_path / "cat", 2), tmp_path / "out"
    proc = catloc("run", str(catalog), "--market", "us", "--out", str(out), "--config", str(config),
                  "--cluster", dask_cluster, api_url=prefect_server, home=tmp_path / "h")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "det_side must be >= 64" in proc.stderr and not out.exists()  # built on the workers, at start


def _busy_cpu_worker(client) -> str:
    """The address of a CPU worker running a task now (waits for one)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        names = {addr: info["name"] for addr, info in client.scheduler_info(n_workers=-1)["workers"].items()}
        busy = [addr for addr, keys in client.processing().items() if keys and str(names.get(addr)).startswith("cpu")]
        if busy:
            return busy[0]
        time.sleep(0.2)
    raise AssertionError("no CPU worker picked up a task")


def test_a_worker_killed_mid_run_loses_no_sku(tmp_path, prefect_server, dask_cluster):
    from distributed import Client
    catalog = make_catalog(tmp_path / "cat", 8)
    config = copy_config(tmp_path / "configs", progress_export_s=0)
    out = tmp_path / "out"
    run = catloc("run", str(catalog), "--market", "us", "--out", str(out), "--run-id", "kill", "--candidates", "6",
                 "--config", str(config), "--cluster", dask_cluster, api_url=prefect_server, home=tmp_path / "h",
                 wait=False)
    try:
        with Client(dask_cluster, timeout=60) as client:
            victim = _busy_cpu_worker(client)
            name = client.scheduler_info(n_workers=-1)["workers"][victim]["name"]
            pid = client.run(os.getpid, workers=[victim])[victim]
            assert client.processing()[victim], "the worker must be running a task when it is killed"
            os.kill(pid, signal.SIGKILL)  # the worker process itself: its nanny starts a fresh one
        output, _ = run.communicate(timeout=900)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, output[-3000:]
    status = pd.read_csv(out / "kill" / "status.csv", keep_default_na=False)
    assert sorted(status["sku"]) == [f"SKU-{i:02d}" for i in range(8)]     # no SKU missing
    assert set(status["status"]) <= {"done", "failed"}                     # none left queued
    assert (status.loc[status["status"] == "failed", "error"] != "").all()  # every failure explained
    assert (status["status"] == "done").all(), status[["sku", "status", "error"]].to_string()  # retried elsewhere
    progress = json.loads((out / "kill" / "progress.json").read_text())
    assert progress["finished"] == progress["total"] == 8
    assert name.startswith("cpu-")
