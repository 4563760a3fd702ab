"""Where a run's SKU tasks execute: threads in the flow's own process, or a Dask cluster.

The cluster setting (``catloc run --cluster``, a flow's ``cluster`` parameter, ``$CATLOC_CLUSTER``,
``cluster.address`` in pipeline.yaml, in that order) is one of:

- none: a :class:`~prefect.task_runners.ThreadPoolTaskRunner` with ``workers`` threads (engines shared);
- ``local:N``: prefect-dask's :class:`~prefect_dask.DaskTaskRunner` on a temporary
  ``distributed.LocalCluster`` of N one-thread worker processes, each declaring ``CPU=1``;
- ``tcp://HOST:PORT``: a ``DaskTaskRunner`` on a running scheduler (``dask worker`` processes on
  any number of hosts, CPU workers started with ``--resources CPU=N``, GPU workers with
  ``--resources GPU=1``).

On a cluster, each stage's task holds the Dask resources pipeline.yaml's ``resources:`` give it
(:func:`place_stages`), set with ``dask.annotate`` at submission, so generation runs only on GPU
workers, one task per GPU, and the other stages stay on CPU workers. A worker plugin
(:class:`EngineWarmup`) builds the engines of the stages a worker can run when it joins, once per
worker process. Tasks on other processes must all report to one real Prefect server: a cluster
run refuses Prefect's temporary server (:func:`require_real_server`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Iterator

import dask
import yaml
from distributed.diagnostics.plugin import WorkerPlugin
from prefect.futures import PrefectFuture
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from catloc.config import DASK_SETTINGS, PLACED_STAGES, ConfigError, EngineSpec, PipelineConfig
from catloc.engines import load_engine
from catloc.flows.stages import STAGE_ENGINES
from catloc.threads import library_threads, set_library_threads

LOCAL_WORKER_RESOURCES = {"CPU": 1.0}   # what each worker of a local:N cluster declares


class ClusterError(RuntimeError):
    """The cluster cannot run this run's tasks (no worker, a worker without the Prefect server...)."""


def require_real_server(cluster: str | None) -> None:
    """Refuse Prefect's temporary server when tasks run in other processes (any cluster): each
    worker process would start its own temporary server on the same database."""
    if cluster is None or PREFECT_API_URL.value():
        return
    raise ConfigError(
        f"--cluster {cluster} runs tasks in other processes, and PREFECT_API_URL is not set: each of them would "
        "start its own temporary Prefect server on the same database (several times slower, runs may fail). "
        "Start a real server (`catloc stack up`, or `prefect server start`) and point every process at it: "
        "export PREFECT_API_URL=http://HOST:4200/api")


@dataclass(frozen=True)
class StageGroup:
    """Consecutive stages one task runs, and the Dask resources the task holds ({}: any worker)."""

    stages: tuple[str, ...]
    resources: dict[str, float]


def offers(worker_resources: dict[str, float], wanted: dict[str, float]) -> bool:
    """Whether a worker declaring ``worker_resources`` can run a task holding ``wanted``."""
    return all(worker_resources.get(name, 0) >= amount for name, amount in wanted.items())


def place_stages(wanted: dict[str, dict[str, float]], offered: list[dict[str, float]] | None,
                 stages: tuple[str, ...] = PLACED_STAGES) -> list[StageGroup]:
    """Each stage's resources, resolved against what the workers offer, grouped into tasks.

    ``wanted``: pipeline.yaml's ``resources:`` (a stage, else ``default``). ``offered``: each worker's
    declared resources, ``None`` without a cluster (no resources at all). A stage whose resources no
    worker offers gets the default ones, or none when no worker offers those either (so a cluster
    without GPU workers still runs generation). Consecutive stages with equal resources share a task.
    """
    def available(resources: dict[str, float]) -> bool:
        return not resources or any(offers(worker, resources) for worker in offered or [])

    default = wanted.get("default", {})
    groups: list[StageGroup] = []
    for stage in stages:
        resources = wanted.get(stage, default) if offered is not None else {}
        if not available(resources):
            resources = default if available(default) else {}
        if groups and groups[-1].resources == resources:
            groups[-1] = StageGroup(groups[-1].stages + (stage,), resources)
        else:
            groups.append(StageGroup((stage,), dict(resources)))
    return groups


class EngineWarmup(WorkerPlugin):
    """Builds, on every worker that joins, the engines of the stage groups it can run (once per process)."""

    idempotent = False

    def __init__(self, groups: list[StageGroup], engines: dict[str, EngineSpec]):
        self.groups, self.engines = groups, engines

    def kinds_for(self, worker_resources: dict[str, float]) -> list[str]:
        kinds = [kind for group in self.groups if offers(worker_resources, group.resources)
                 for stage in group.stages for kind in STAGE_ENGINES.get(stage, ()) if kind in self.engines]
        return list(dict.fromkeys(kinds))

    async def setup(self, worker: Any) -> None:
        if not library_threads():            # a worker declaring CPU=k: its libraries use k threads
            set_library_threads(int(worker.state.total_resources.get("CPU", 0)))
        kinds = self.kinds_for(worker.state.total_resources)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: [load_engine(kind, self.engines[kind]) for kind in kinds])


@dataclass
class SkuRunner:
    """A started task runner, the stage groups its tasks run as, and how much to keep in flight."""

    task_runner: TaskRunner
    groups: list[StageGroup]
    slots: int            # tasks that can run at once (threads, or the cluster's worker threads)
    in_flight: int        # batches to keep submitted at once
    remote: bool = False  # tasks run in other processes (a Dask cluster)

    def submit(self, task: Any, resources: dict[str, float], parameters: dict[str, Any]) -> PrefectFuture:
        """``task`` with ``parameters``, holding ``resources`` on a cluster ({}: any worker)."""
        with dask.annotate(resources=resources) if resources else contextlib.nullcontext():
            return self.task_runner.submit(task, parameters)

    def call(self, task: Any, parameters: dict[str, Any]) -> Any:
        """``task(**parameters)`` for work that reads the whole run (the sheets, the review page): on a
        cluster, a task on a worker holding the last stage's resources, so the flow's process never
        holds every record of a big night; in threads, here."""
        if not self.remote:
            return task(**parameters)
        return self.submit(task, self.groups[-1].resources, parameters).result()


def dask_task_runner(cluster: str) -> DaskTaskRunner:
    """prefect-dask's runner for ``local:N`` (a temporary local cluster, its workers spawned with
    configs/dask.yaml's settings) or a scheduler address."""
    if cluster.startswith("local:"):
        return DaskTaskRunner(cluster_kwargs={"n_workers": int(cluster.split(":", 1)[1]), "threads_per_worker": 1,
                                              "processes": True, "resources": LOCAL_WORKER_RESOURCES,
                                              "dashboard_address": ":0"})  # any free port
    return DaskTaskRunner(address=cluster)


@contextlib.contextmanager
def open_runner(cluster: str | None, workers: int, cfg: PipelineConfig, logger: Any = None) -> Iterator[SkuRunner]:
    """The runner for ``cluster`` (see the module docstring), started; stopped (a local cluster torn
    down) on exit. Without a cluster, ``workers`` threads. On a cluster: waits for a first worker
    (``cluster.wait_for_workers_s``), checks every worker reports to a real Prefect server, places the
    stages (``resources:``) and registers the engine warm-up."""
    logger = logger or logging.getLogger(__name__)
    if cluster is None:
        with ThreadPoolTaskRunner(max_workers=max(1, workers)) as runner:
            yield SkuRunner(runner, place_stages(cfg.resources, None), slots=max(1, workers), in_flight=max(1, workers))
        return
    require_real_server(cluster)
    with dask.config.set(dask_settings()), dask_task_runner(cluster) as runner:
        client = runner.client
        workers_info = connected_workers(client, cluster, cfg.cluster.wait_for_workers_s)
        groups = place_stages(cfg.resources, [dict(w.get("resources") or {}) for w in workers_info])
        register_warmup(client, EngineWarmup(groups, cfg.engines))
        slots = sum(int(w.get("nthreads", 1)) for w in workers_info)
        for group in groups:
            logger.info("%s: %s", "+".join(group.stages), describe_placement(group, workers_info))
        yield SkuRunner(runner, groups, slots=slots, in_flight=slots * cfg.cluster.batches_per_thread, remote=True)


def register_warmup(client: Any, warmup: EngineWarmup, name: str = "catloc-engine-warmup") -> None:
    """Register ``warmup`` on every worker (and on those that join later); if a worker cannot build an
    engine, take it back off (a worker restarting later must not fail on it) and raise the error."""
    try:
        client.register_plugin(warmup, name=name)
    except Exception:
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(name)
        raise


def dask_settings() -> dict[str, Any]:
    """configs/dask.yaml, the Dask settings catloc's worker processes start with, as the dotted keys
    ``dask.config.set`` takes (a nested mapping would replace whole sections)."""
    def dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                flat.update(dotted(value, f"{prefix}{key}."))
            else:
                flat[f"{prefix}{key}"] = value
        return flat
    return dotted(yaml.safe_load(DASK_SETTINGS.read_text(encoding="utf-8")) or {})


def connected_workers(client: Any, cluster: str, wait_s: float) -> list[dict[str, Any]]:
    """The scheduler's workers (at least one, waiting up to ``wait_s``), each checked to report to a
    real Prefect server; raises :class:`ClusterError` saying what to fix."""
    try:
        client.wait_for_workers(1, timeout=wait_s)
    except TimeoutError as exc:  # distributed's WorkerStartTimeoutError is one
        raise ClusterError(f"no Dask worker joined the scheduler {cluster} within {wait_s:g} s "
                           "(cluster.wait_for_workers_s): start workers with "
                           f"`dask worker {cluster} --resources CPU=1` (GPU hosts: --resources GPU=1)") from exc
    urls = client.run(prefect_api_url)
    without = sorted(name for name, url in urls.items() if not url)
    if without:
        raise ClusterError(f"Dask workers {', '.join(without)} have no PREFECT_API_URL: each would start its own "
                           "temporary Prefect server. Start them with PREFECT_API_URL set to the server the flow "
                           f"uses ({PREFECT_API_URL.value()}).")
    return list(client.scheduler_info(n_workers=-1)["workers"].values())


def prefect_api_url() -> str:
    """The Prefect API this process reports to ('' for the temporary server): run on each worker."""
    return PREFECT_API_URL.value() or ""


def describe_placement(group: StageGroup, workers_info: list[dict[str, Any]]) -> str:
    names = [str(w.get("name")) for w in workers_info if offers(dict(w.get("resources") or {}), group.resources)]
    held = ", ".join(f"{k}={v:g}" for k, v in group.resources.items()) or "no resources"
    return f"holds {held}; runs on {', '.join(names)}"
