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

from catloc import storage
from catloc.cache import stable_hash
from catloc.config import MarketProfile, PipelineConfig
from catloc.records import STAGES, CatalogItem, SkuError, SkuRecord, sku_key
from catloc.schedule import NightBudget
from tasks.analyse import analyse_task
from tasks.clean import clean_task
from tasks.export import export_task
from tasks.ingest import fetch_source_task
from tasks.localize import localize_task
from tasks.qc import qc_task

QUEUED = "queued: not processed yet (run in progress, or interrupted: resume with the same --run-id)"


def sku_dir(run_uri: str, sku: str) -> str:
    return storage.join(run_uri, "skus", sku_key(sku))


def input_key(item: CatalogItem, cfg: PipelineConfig, market: MarketProfile, n_candidates: int) -> str:
    """What a finished SKU record depends on: its catalog row (not its priority) and the config."""
    payload = {"sku": item.sku, "images": item.images, "title": item.title, "category": item.category,
               "cfg": {"engines": cfg.engines, "ingest": cfg.ingest, "clean": cfg.clean, "qc": cfg.qc},
               "market": market, "n": n_candidates}
    return stable_hash(payload)


def read_record(run_uri: str, sku: str) -> SkuRecord | None:
    uri = storage.join(sku_dir(run_uri, sku), "record.json")
    try:
        return SkuRecord.from_dict(storage.read_json(uri)) if storage.exists(uri) else None
    except (ValueError, OSError, TypeError):
        return None  # unreadable: treat as never finished


def write_record(run_uri: str, record: SkuRecord) -> None:
    storage.write_json(storage.join(sku_dir(run_uri, record.sku), "record.json"), record.to_dict())


def mark_deferred(run_uri: str, items: list[CatalogItem], reason: str) -> None:
    """Record ``items`` as deferred, except those this run folder already has done."""
    for item in items:
        existing = read_record(run_uri, item.sku)
        if existing is not None and existing.status == "done":
            continue
        write_record(run_uri, SkuRecord(sku=item.sku, status="deferred", row=item.row, title=item.title,
                                        category=item.category, priority=item.priority, error=reason))


def save_rejected(run_uri: str, rejected: list[SkuRecord]) -> None:
    """Replace the run's rejected catalog rows with this reading of the catalog."""
    folder = storage.join(run_uri, "rejected")
    for uri in storage.list_files(folder, "*.json"):
        storage.remove(uri)
    for record in rejected:
        storage.write_json(storage.join(folder, f"row-{record.row}.json"), record.to_dict())


@task(name="process-sku", task_run_name="sku-{item.sku}", cache_policy=NO_CACHE)
def process_sku(item: CatalogItem, run_uri: str, market: MarketProfile, cfg: PipelineConfig,
                n_candidates: int, key: str = "", force_from: str | None = None) -> SkuRecord:
    """One SKU through every stage; any stage's failure is recorded, never raised.

    Stage outputs still valid from an earlier attempt are reused (``catloc.cache``);
    ``force_from`` recomputes that stage and every later one.
    """
    started = time.monotonic()
    folder = sku_dir(run_uri, item.sku)
    engines = cfg.engines
    policy = market.clean_policy or cfg.clean.get("policy", "keep_product_text")
    first_forced = STAGES.index(force_from) if force_from in STAGES else len(STAGES)
    force = {stage: STAGES.index(stage) >= first_forced for stage in STAGES}
    record = SkuRecord(sku=item.sku, status="failed", row=item.row, title=item.title,
                       category=item.category, priority=item.priority, input_key=key)
    stage = "ingest"
    try:
        fetched = fetch_source_task.with_options(retries=int(cfg.ingest.get("fetch_retries", 2)))(
            item, folder, cfg.ingest)
        record.source_image = fetched["source_image"]
        stage = "clean"
        cleaned = clean_task(record.source_image, folder, engines, cfg.clean, policy, force["clean"])
        record.cleaned_image, record.clean_report = cleaned["cleaned_image"], cleaned["report"]
        stage = "analyse"
        analysis = analyse_task(record.cleaned_image, folder, engines, force["analyse"])
        stage = "localize"
        candidates = localize_task(record.cleaned_image, analysis["product_mask"], item.sku, folder, market,
                                   n_candidates, engines, force["localize"])
        stage = "qc"
        record.candidates = qc_task(candidates, record.cleaned_image, analysis, folder, engines, cfg.qc, policy,
                                    force["qc"])
        record.status, record.stage = "done", ""
    except SkuError as exc:
        record.stage, record.error = exc.stage, exc.message
    except Exception as exc:  # an engine or I/O fault: still one SKU, still explained
        record.stage, record.error = stage, f"{type(exc).__name__}: {exc}"
    record.seconds = time.monotonic() - started
    write_record(run_uri, record)
    return record


def run_skus(items: list[CatalogItem], *, run_uri: str, run_id: str, market: MarketProfile, cfg: PipelineConfig,
             n_candidates: int, budget: NightBudget, workers: int, keys: dict[str, str] | None = None,
             force_from: str | None = None, logger: Any = None) -> tuple[list[SkuRecord], list[CatalogItem]]:
    """Process ``items`` in order, ``workers`` at a time, while the budget allows.

    Returns the finished records and the items never started (for the caller to defer).
    Writes ``progress.json`` after every SKU and the review/status sheets every
    ``progress_export_s`` seconds, so a killed run still leaves a usable partial sheet.
    """
    queue, in_flight, finished = deque(items), {}, []
    export_every = float(cfg.run.get("progress_export_s", 60))
    last_export = time.monotonic()
    total = len(items)
    while queue or in_flight:
        while queue and len(in_flight) < workers and budget.fits():
            item = queue.popleft()
            future = process_sku.submit(item, run_uri, market, cfg, n_candidates, (keys or {}).get(item.sku, ""),
                                        force_from)
            in_flight[future] = item
        if not in_flight:
            break  # the deadline leaves no room for another SKU
        future = next(as_completed(list(in_flight)))
        in_flight.pop(future)
        record = future.result()
        finished.append(record)
        budget.observe(record.seconds)
        if time.monotonic() - last_export >= export_every and queue:  # the sheet first, then the count
            export_task(run_uri, run_id, market.code, contact_sheet=False)
            last_export = time.monotonic()
        storage.write_json(storage.join(run_uri, "progress.json"), {
            "total": total, "finished": len(finished), "done": sum(r.status == "done" for r in finished),
            "failed": sum(r.status == "failed" for r in finished), "skus_per_hour": round(budget.skus_per_hour(), 1),
            "expected_sku_s": round(budget.expected_sku_s(), 1),
            "deadline": budget.deadline.isoformat() if budget.deadline else None,
            "updated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    if queue and logger is not None:
        logger.warning("deadline: %d SKUs not started (expected %.0f s per SKU, %.0f s left)", len(queue),
                       budget.expected_sku_s(), budget.seconds_left() or 0)
    return finished, list(queue)
