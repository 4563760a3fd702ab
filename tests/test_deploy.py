"""The production topology end to end: ``catloc stack up`` starts PostgreSQL (on loopback), a Prefect
server on it, the work pool with every deployment of prefect.yaml, a Prefect worker and a Dask
scheduler with a CPU and a GPU worker; the nightly and rerun deployments run through that worker;
``catloc stack down`` stops it all (and the test does, whatever happens)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from catloc import stack
from catloc.config import REPO_ROOT
from tests.conftest import make_catalog, write_jpeg
from tests.synth import supplier_photo

pytestmark = pytest.mark.slow


@pytest.fixture
def stack_dir():
    """A stack folder the ``postgres`` user can reach (pytest's own tmp folders are private to root)."""
    try:
        stack.postgres_bin()
    except stack.StackError as exc:
        pytest.skip(f"{exc}")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root needs runuser to start PostgreSQL as the postgres user")
    folder = Path(tempfile.mkdtemp(prefix="catloc-stack-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        stack.down(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _catloc_stack(*args: str, folder: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PREFECT_WORKER_QUERY_SECONDS="2", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    for name in ("PREFECT_API_URL", "CATLOC_CLUSTER", "CATLOC_STACK_DIR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "catloc.cli", "stack", *args, "--dir", str(folder)], env=env,
                          capture_output=True, text=True, timeout=900)


def _check_deployed(client, postgres_port: int) -> dict[str, str]:
    """Every deployment of prefect.yaml is on the server as written there (pool, entrypoint,
    parameters, cron schedules with their time zones), stored in PostgreSQL; returns name -> full name."""
    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployed = {d.name: d for d in client.read_deployments()}
    full_names = {}
    for wanted in spec["deployments"]:
        got = deployed[wanted["name"]]
        assert got.work_pool_name == wanted["work_pool"]["name"] and got.entrypoint == wanted["entrypoint"]
        assert all(got.parameters.get(k) == v for k, v in (wanted.get("parameters") or {}).items())
        assert sorted((s.schedule.cron, s.schedule.timezone) for s in got.schedules) == \
            sorted((s["cron"], s["timezone"]) for s in wanted.get("schedules") or [])
        full_names[wanted["name"]] = f"{client.read_flow(got.flow_id).name}/{got.name}"
    rows = subprocess.run([str(stack.postgres_bin() / "psql"), "-h", "127.0.0.1", "-p", str(postgres_port), "-U",
                           "postgres", "-d", "prefect", "-tAc", "SELECT count(*) FROM deployment"],
                          capture_output=True, text=True, check=True)
    assert int(rows.stdout) == len(spec["deployments"])
    return full_names


def _run(name: str, **parameters):
    from prefect.deployments import run_deployment
    flow_run = run_deployment(name, parameters=parameters, timeout=900)
    assert flow_run.state.is_completed(), f"{name}: {flow_run.state}"
    return flow_run


def test_the_deployments_run_through_a_worker_on_postgres(tmp_path, stack_dir):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings
    catalog = make_catalog(tmp_path / "cat", 3)
    broken = tmp_path / "cat" / "images" / "s01.jpg"
    broken.write_bytes(broken.read_bytes()[:300])
    out = tmp_path / "out"

    up = _catloc_stack("up", "--cpu-workers", "1", "--gpu-workers", "1", folder=stack_dir)
    assert up.returncode == 0, up.stderr[-4000:]
    exports = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines()
                   if line.startswith("export "))
    assert set(exports) == {"PREFECT_API_URL", "CATLOC_CLUSTER"}
    postgres = next(s for s in stack.StackState.load(stack_dir).services if s.name == "postgres")
    with temporary_settings({PREFECT_API_URL: exports["PREFECT_API_URL"]}):
        with get_client(sync_client=True) as client:
            names = _check_deployed(client, postgres.port)
        _run(names["nightly-sa"], catalog=str(catalog), out=str(out), run_id="night", deadline=None)
        run = out / "night"
        status = pd.read_csv(run / "status.csv", keep_default_na=False).set_index("sku")
        assert list(status["status"]) == ["done", "failed", "done"] and "broken image" in status.loc["SKU-01", "error"]
        localized = json.loads((run / "skus" / "SKU-00" / "record.json").read_text())["workers"]
        assert localized["localize"] == "gpu-0" and localized["clean"] == "cpu-0"  # ran on the stack's Dask workers

        image, _, _ = supplier_photo(320, garment=(20, 120, 60))  # the supplier sends a good image
        write_jpeg(broken, image)
        _run(names["rerun"], run_id="night", out=str(out), failed=True)
        status = pd.read_csv(run / "status.csv", keep_default_na=False)
        assert list(status["status"]) == ["done", "done", "done"]

    down = _catloc_stack("down", folder=stack_dir)
    assert down.returncode == 0, down.stderr[-2000:]
    assert not any(alive for _, alive in stack.status(stack_dir))
    assert "prefect-worker" in down.stderr and "postgres" in down.stderr
