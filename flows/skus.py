"""Per-SKU orchestration shared by the nightly and rerun flows.

SKUs travel in **batches**: one task takes a batch through one *group* of consecutive stages
(:class:`~catloc.flows.runners.StageGroup`: the stages placed on the same kind of worker, e.g.
ingest+clean+analyse on CPU workers, localize on GPU workers, qc on CPU workers; without a cluster,
all five in one task). The batch's tasks are chained by their futures, so a batch's data moves from
worker to worker without passing through the flow. Records stay per SKU: a SKU's record is written
by the task in which it stops (failed) or passes the last stage, so reruns and resumes stay per SKU.

:func:`run_skus` feeds batches in priority order, keeps at most ``runner.in_flight`` of them
submitted, sizes them so the end of the queue still spreads over every worker, and stops starting
new ones when the night's budget says they would not finish before the deadline. A batch whose
task is lost (a killed worker, a crashed process) leaves no SKU missing: each SKU without a
record from this run gets a ``failed`` record saying so (:func:`settle`).
"""
from __future__ import annotations

import datetime as dt
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed

from catloc.outputs import Analysis, Candidate, Cleaned, Source
from catloc.records import CatalogItem, SkuError, SkuRecord
from catloc.runfolder import RunFolder
from catloc.schedule import NightBudget
from catloc.flows.prepare import RunPlan, RunSettings
from catloc.flows.review import RunProgress, finish_run
from catloc.flows.runners import SkuRunner, StageGroup
from catloc.flows.stages import analyse, clean, export, fetch_source, localize, qc
from catloc.tasks.review.attempts import finish_record

QUEUED = "queued: not processed yet (run in progress, or interrupted: resume with the same --run-id)"
MIN_BATCHES_PER_SLOT = 2   # batches shrink so that every worker thread still has this many to take


@dataclass
class SkuWork:
    """One SKU between stage tasks: its record so far and the URIs of what its stages stored."""

    item: CatalogItem
    record: SkuRecord
    source: Source | None = None
    cleaned: Cleaned | None = None
    analysis: Analysis | None = None
    candidates: list[Candidate] | None = None
    stopped: bool = False             # failed at a stage, or past the last one: its record is written

    @classmethod
    def start(cls, item: CatalogItem, input_key: str) -> "SkuWork":
        return cls(item, SkuRecord.of(item, "failed", input_key=input_key))


def _ingest(work: SkuWork, run: RunSettings) -> None:
    work.source = fetch_source(work.item, run.folder.sku(work.item.sku), run.config.ingest)


def _clean(work: SkuWork, run: RunSettings) -> None:
    work.cleaned = clean(work.source, run.folder.sku(work.item.sku), run.config.engines, run.clean,
                         force=run.forces("clean"))


def _analyse(work: SkuWork, run: RunSettings) -> None:
    work.analysis = analyse(work.cleaned, run.folder.sku(work.item.sku), run.config.engines,
                            force=run.forces("analyse"))


def _localize(work: SkuWork, run: RunSettings) -> None:
    work.candidates = localize(work.cleaned, work.analysis, work.item.sku, run.folder.sku(work.item.sku), run.market,
                               run.n_candidates, run.config.engines, force=run.forces("localize"),
                               mix=run.mix.for_sku(work.item.sku, work.item.category),
                               min_mask_confidence=float(run.config.qc.get("min_mask_confidence", 0.8)),
                               category=work.item.category, pose_templates=run.config.pose_templates)


def _qc(work: SkuWork, run: RunSettings) -> None:
    scored = qc(work.candidates, work.cleaned, work.analysis, run.folder.sku(work.item.sku), run.config.engines,
                run.config.qc, run.clean.policy, force=run.forces("qc"), market=run.market)
    work.record.finish(work.source, work.cleaned, scored, work.analysis)


STEPS = {"ingest": _ingest, "clean": _clean, "analyse": _analyse, "localize": _localize, "qc": _qc}


def advance(work: SkuWork, stages: Iterable[str], run: RunSettings, worker: str, last: bool) -> None:
    """Take ``work`` through ``stages`` in order, timing each (``stage_seconds``, ``seconds``) and
    noting where it ran (``workers``); write its record when it fails at one of them, or passes
    them and ``last`` (they end the pipeline)."""
    if work.stopped:
        return
    record = work.record
    for stage in stages:
        started = time.monotonic()
        try:
            STEPS[stage](work, run)
        except SkuError as exc:
            record.fail(exc, work.source, work.cleaned)
            work.stopped = True
        spent = time.monotonic() - started
        record.seconds += spent
        record.stage_seconds[stage] = round(record.stage_seconds.get(stage, 0.0) + spent, 3)
        record.workers[stage] = worker
        if work.stopped:
            break
    if work.stopped or last:
        work.stopped = True
        attempt = run.mix.for_sku(work.item.sku, work.item.category).attempt
        run.folder.write_record(finish_record(run.folder, record, attempt, record.stage_seconds, run.config.review))


def worker_name() -> str:
    """Where this code runs: the Dask worker's name (its address if it has none), else the host name."""
    from distributed import get_worker
    try:
        worker = get_worker()
    except ValueError:  # not on a Dask worker: a thread of the flow's own process
        return socket.gethostname()
    return worker.name if isinstance(worker.name, str) and worker.name else worker.address


@task(name="skus", task_run_name="{label}", cache_policy=NO_CACHE, cache_result_in_memory=False)
def run_stages(works: list[SkuWork], stages: tuple[str, ...], run: RunSettings, last: bool,
               label: str = "") -> list[SkuWork]:
    """Take a batch of SKUs, one after the other, through ``stages`` on the worker running this task.

    A SKU that fails at a stage is recorded (with the stage and reason) and skipped by later
    stages; ``last``: these stages end the pipeline, so every SKU's record is written here.
    """
    worker = worker_name()
    for work in works:
        advance(work, stages, run, worker, last)
    return works


@dataclass(frozen=True, slots=True)
class SkuOutcome:
    """What the flow keeps of a finished SKU (not its record: a night may hold thousands)."""

    sku: str
    status: str
    seconds: float = 0.0

    @classmethod
    def of(cls, record: SkuRecord) -> "SkuOutcome":
        return cls(record.sku, record.status, float(record.seconds))


@dataclass
class Batch:
    """SKUs submitted together: one future per stage group, each feeding the next."""

    items: list[CatalogItem]
    groups: list[StageGroup]
    futures: list[PrefectFuture] = field(default_factory=list)

    def label(self, group: StageGroup) -> str:
        first, last = self.items[0].sku, self.items[-1].sku
        return "+".join(group.stages) + f" {first}" + (f"..{last} ({len(self.items)} SKUs)" if len(self.items) > 1 else "")


def submit_batch(runner: SkuRunner, items: list[CatalogItem], plan: RunPlan) -> Batch:
    """Submit ``items`` through every stage group, each group's task taking the previous one's future."""
    batch = Batch(items, runner.groups)
    works: Any = [SkuWork.start(item, plan.keys.get(item.sku, "")) for item in items]
    for i, group in enumerate(batch.groups):
        works = runner.submit(run_stages, group.resources, {"works": works, "stages": group.stages,
                                                            "run": plan.settings, "last": i == len(batch.groups) - 1,
                                                            "label": batch.label(group)})
        batch.futures.append(works)
    return batch


def settle(batch: Batch, folder: RunFolder) -> list[SkuOutcome]:
    """The outcomes of a finished batch. If one of its tasks was lost (its worker killed, a crash),
    every SKU of the batch its tasks did not record gets a ``failed`` record naming the stage and
    why, so no SKU is ever missing from the sheets."""
    try:
        return [SkuOutcome.of(work.record) for work in batch.futures[-1].result()]
    except Exception as exc:  # the task itself was lost, not a SKU failure (those are records)
        stage = lost_stage(batch)
        return [record_lost(folder, item, stage, exc) for item in batch.items]


def lost_stage(batch: Batch) -> str:
    """The first stage of the first group whose task did not finish (each group needs the previous)."""
    for group, future in zip(batch.groups, batch.futures):
        try:
            future.result()
        except Exception:
            return group.stages[0]
    return batch.groups[-1].stages[0]


WORKER_LOST = ("KilledWorker", "CommClosedError", "CancelledError", "FutureCancelledError")


def record_lost(folder: RunFolder, item: CatalogItem, stage: str, exc: BaseException) -> SkuOutcome:
    """``item``'s outcome after its batch's task was lost at ``stage``: its record if a task wrote one in
    this run (done, or failed at a stage), else a new ``failed`` record saying what happened."""
    record = folder.read_record(item.sku)
    if record is None or record.status == "deferred":  # still the run's "queued" placeholder
        what = "worker lost" if type(exc).__name__ in WORKER_LOST else "task failed"
        reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        record = SkuRecord.of(item, "failed", stage=stage,
                              error=f"{what} at {stage} ({reason}); rerun: catloc rerun {folder.run_id} --failed")
        folder.write_record(record)
    return SkuOutcome.of(record)


def batch_size(queued: int, slots: int, most: int) -> int:
    """SKUs for the next batch: at most ``most``, and few enough that the ``queued`` SKUs still make
    :data:`MIN_BATCHES_PER_SLOT` batches per worker thread (``slots``), so the tail of the queue
    spreads over every worker (the last SKUs of the queue: one per task)."""
    return max(1, min(most, queued // (MIN_BATCHES_PER_SLOT * max(1, slots))))


def run_skus(plan: RunPlan, runner: SkuRunner, logger: Any = None) -> tuple[list[SkuOutcome], list[CatalogItem]]:
    """Process the plan's SKUs in order, in batches, while the budget allows.

    Returns the finished SKUs' outcomes and the items never started (for the caller to defer).
    Writes ``progress.json`` after every batch and the review/status sheets every
    ``progress_export_s`` seconds, so a killed run still leaves a usable partial sheet.
    """
    folder, budget = plan.folder, plan.budget
    queue, in_flight, finished = deque(plan.todo), {}, []
    sheets = SheetRefresh(float(plan.settings.config.run.get("progress_export_s", 60)))
    most = plan.settings.config.cluster.skus_per_task
    tracker = RunProgress(plan.settings.market.code, folder.run_id, len(plan.todo))
    while queue or in_flight:
        while queue and len(in_flight) < runner.in_flight:
            n = budget.fitting_skus(batch_size(len(queue), runner.slots, most))
            if not n:
                break  # the deadline leaves no room for another SKU
            batch = submit_batch(runner, [queue.popleft() for _ in range(min(n, len(queue)))], plan)
            in_flight[batch.futures[-1]] = batch
        if not in_flight:
            break
        outcomes = settle(in_flight.pop(next(as_completed(list(in_flight)))), folder)
        finished += outcomes
        for outcome in outcomes:
            if outcome.seconds > 0:
                budget.observe(outcome.seconds)
        if queue:  # the sheet first, then the count
            sheets.maybe_refresh(runner, folder, plan.settings.market.code)
        folder.write_progress(progress(len(plan.todo), finished, budget))
        tracker.update(finished)
    if queue and logger is not None:
        logger.warning("deadline: %d SKUs not started (expected %.0f s per SKU, %.0f s left)", len(queue),
                       budget.expected_sku_s(), budget.seconds_left() or 0)
    return finished, list(queue)


finish_run_task = task(finish_run, name="finish-run", cache_policy=NO_CACHE)


def finish(runner: SkuRunner, plan: RunPlan) -> dict[str, Any]:
    """The run's end (:func:`catloc.flows.review.finish_run`: the sheets, the review page and the
    summary and link artifacts), where ``runner`` runs work that reads every record of the run."""
    return runner.call(finish_run_task, {"plan": plan})


class SheetRefresh:
    """Rewrites the review/status sheets while a run goes on: every ``every_s`` seconds, but never
    spending more than a tenth of the time on it (a 10,000-SKU sheet takes a while to build)."""

    def __init__(self, every_s: float):
        self.every_s, self.took_s, self.last = every_s, 0.0, time.monotonic()

    def maybe_refresh(self, runner: SkuRunner, folder: RunFolder, market: str) -> bool:
        if time.monotonic() - self.last < max(self.every_s, 10 * self.took_s):
            return False
        started = time.monotonic()
        runner.call(export, {"folder": folder, "market": market})
        self.last = time.monotonic()
        self.took_s = self.last - started
        return True


def progress(total: int, finished: list[Any], budget: NightBudget) -> dict[str, Any]:
    """The content of ``progress.json``: how far the run is and how fast it goes (``finished``: outcomes
    or records, anything with a ``status``)."""
    return {"total": total, "finished": len(finished), "done": sum(r.status == "done" for r in finished),
            "failed": sum(r.status == "failed" for r in finished), "skus_per_hour": round(budget.skus_per_hour(), 1),
            "expected_sku_s": round(budget.expected_sku_s(), 1),
            "deadline": budget.deadline.isoformat() if budget.deadline else None,
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
