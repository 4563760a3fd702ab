"""Per-SKU orchestration shared by the nightly and rerun flows.

``process_sku`` takes one SKU through the stage tasks; ``run_skus`` feeds SKUs to the task
runner in priority order, at most ``workers`` at a time, and stops starting new ones when the
night's budget says the next one would not finish before the deadline.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import deque
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from catloc import stageclock
from catloc.records import CatalogItem, SkuError, SkuRecord
from catloc.schedule import NightBudget
from catloc.flows.prepare import RunPlan, RunSettings
from catloc.flows.review import RunProgress
from catloc.flows.stages import analyse, clean, export, fetch_source, localize, qc
from catloc.tasks.review.attempts import finish_record

QUEUED = "queued: not processed yet (run in progress, or interrupted: resume with the same --run-id)"


@task(name="process-sku", task_run_name="sku-{item.sku}", cache_policy=NO_CACHE)
def process_sku(item: CatalogItem, run: RunSettings, input_key: str = "") -> SkuRecord:
    """One SKU through every stage; a failure at any stage is recorded, never raised.

    Stage outputs still valid from an earlier attempt are reused (``catloc.cache``).
    """
    started, stage_seconds = time.monotonic(), stageclock.start()
    cfg, folder, mix = run.config, run.folder.sku(item.sku), run.mix.for_sku(item.sku, item.category)
    record = SkuRecord.of(item, "failed", input_key=input_key)
    source = cleaned = None
    try:
        source = fetch_source.with_options(retries=int(cfg.ingest.get("fetch_retries", 2)))(item, folder, cfg.ingest)
        cleaned = clean(source, folder, cfg.engines, run.clean, force=run.forces("clean"))
        analysis = analyse(cleaned, folder, cfg.engines, force=run.forces("analyse"))
        candidates = localize(cleaned, analysis, item.sku, folder, run.market, run.n_candidates, cfg.engines,
                              force=run.forces("localize"), mix=mix,
                              min_mask_confidence=float(cfg.qc.get("min_mask_confidence", 0.8)))
        record.finish(source, cleaned, qc(candidates, cleaned, analysis, folder, cfg.engines, cfg.qc,
                                          run.clean.policy, force=run.forces("qc")), analysis)
    except SkuError as exc:
        record.fail(exc, source, cleaned)
    record.seconds = time.monotonic() - started
    run.folder.write_record(finish_record(run.folder, record, mix.attempt, stage_seconds, cfg.review))
    return record


def run_skus(plan: RunPlan, logger: Any = None) -> tuple[list[SkuRecord], list[CatalogItem]]:
    """Process the plan's SKUs in order, ``plan.workers`` at a time, while the budget allows.

    Returns the finished records and the items never started (for the caller to defer).
    Writes ``progress.json`` after every SKU and the review/status sheets every
    ``progress_export_s`` seconds, so a killed run still leaves a usable partial sheet.
    """
    folder, budget = plan.folder, plan.budget
    queue, in_flight, finished = deque(plan.todo), {}, []
    export_every = float(plan.settings.config.run.get("progress_export_s", 60))
    last_export = time.monotonic()
    tracker = RunProgress(plan.settings.market.code, folder.run_id, len(plan.todo))
    while queue or in_flight:
        while queue and len(in_flight) < plan.workers and budget.fits():
            item = queue.popleft()
            in_flight[process_sku.submit(item, plan.settings, plan.keys.get(item.sku, ""))] = item
        if not in_flight:
            break  # the deadline leaves no room for another SKU
        future = next(as_completed(list(in_flight)))
        in_flight.pop(future)
        finished.append(future.result())
        budget.observe(finished[-1].seconds)
        if time.monotonic() - last_export >= export_every and queue:  # the sheet first, then the count
            export(folder, plan.settings.market.code)
            last_export = time.monotonic()
        folder.write_progress(progress(len(plan.todo), finished, budget))
        tracker.update(finished)
    if queue and logger is not None:
        logger.warning("deadline: %d SKUs not started (expected %.0f s per SKU, %.0f s left)", len(queue),
                       budget.expected_sku_s(), budget.seconds_left() or 0)
    return finished, list(queue)


def progress(total: int, finished: list[SkuRecord], budget: NightBudget) -> dict[str, Any]:
    """The content of ``progress.json``: how far the run is and how fast it goes."""
    return {"total": total, "finished": len(finished), "done": sum(r.status == "done" for r in finished),
            "failed": sum(r.status == "failed" for r in finished), "skus_per_hour": round(budget.skus_per_hour(), 1),
            "expected_sku_s": round(budget.expected_sku_s(), 1),
            "deadline": budget.deadline.isoformat() if budget.deadline else None,
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
