"""The nightly flow: supplier catalog in, review sheets out.

    catalog ──ingest──▶ sources ──clean──▶ cleaned ──analyse──▶ masks
            ──localize──▶ 6-8 candidates ──qc──▶ scored, ranked ──export──▶ review sheets

Each arrow is a task; tasks pass URIs of stored artifacts, never pixels. SKUs run in
parallel (bounded by ``max_workers``); a SKU that fails at any stage becomes a ``failed``
row with the stage and the reason, and the others go on.

Run it with ``catloc run`` or ``python flows/nightly.py CATALOG --market sa``.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from catloc import storage
from catloc.config import EngineSpec, MarketProfile, PipelineConfig, load_market, load_pipeline_config
from catloc.engines import load_all
from catloc.records import CatalogItem, SkuError, SkuRecord, sku_key
from tasks.analyse import analyse_task
from tasks.clean import clean_task
from tasks.export import export_task
from tasks.ingest import fetch_source_task, ingest_catalog
from tasks.localize import localize_task
from tasks.qc import qc_task


def default_run_id(market: str) -> str:
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{market}"


def sku_dir(run_uri: str, sku: str) -> str:
    return storage.join(run_uri, "skus", sku_key(sku))


@task(name="process-sku", task_run_name="sku-{item.sku}", cache_policy=NO_CACHE)
def process_sku(item: CatalogItem, run_uri: str, market: MarketProfile, cfg: PipelineConfig,
                n_candidates: int) -> SkuRecord:
    """One SKU through every stage; any stage's failure is recorded, never raised."""
    started = time.monotonic()
    folder = sku_dir(run_uri, item.sku)
    engines: dict[str, EngineSpec] = cfg.engines
    policy = market.clean_policy or cfg.clean.get("policy", "keep_product_text")
    record = SkuRecord(sku=item.sku, status="failed", row=item.row, title=item.title,
                       category=item.category, priority=item.priority)
    stage = "ingest"
    try:
        fetched = fetch_source_task.with_options(retries=int(cfg.ingest.get("fetch_retries", 2)))(
            item, folder, cfg.ingest)
        record.source_image = fetched["source_image"]
        stage = "clean"
        cleaned = clean_task(record.source_image, folder, engines, cfg.clean, policy)
        record.cleaned_image, record.clean_report = cleaned["cleaned_image"], cleaned["report"]
        stage = "analyse"
        analysis = analyse_task(record.cleaned_image, folder, engines)
        stage = "localize"
        candidates = localize_task(record.cleaned_image, analysis["product_mask"], item.sku, folder, market,
                                   n_candidates, engines)
        stage = "qc"
        record.candidates = qc_task(candidates, record.cleaned_image, analysis, engines, cfg.qc, policy)
        record.status, record.stage = "done", ""
    except SkuError as exc:
        record.stage, record.error = exc.stage, exc.message
    except Exception as exc:  # an engine or I/O fault: still one SKU, still explained
        record.stage, record.error = stage, f"{type(exc).__name__}: {exc}"
    record.seconds = time.monotonic() - started
    storage.write_json(storage.join(folder, "record.json"), record.to_dict())
    return record


@flow(name="catloc-nightly", task_runner=ThreadPoolTaskRunner(max_workers=2))
def nightly(catalog: str, market: str, out: str = "review_exports", run_id: str | None = None,
            limit: int | None = None, candidates: int | None = None, config: str | None = None) -> dict[str, Any]:
    """Localize every SKU of ``catalog`` for ``market``; write review sheets under ``out/run_id``."""
    logger = get_run_logger()
    # 0. configuration and engines: a bad config or a missing model fails here, not per SKU
    cfg = load_pipeline_config(config)
    mkt = load_market(market, cfg)
    storage.configure(cfg.storage_options)
    load_all(cfg.engines)
    run_id = run_id or default_run_id(mkt.code)
    run_uri = storage.join(str(out), run_id)
    n_candidates = int(candidates or cfg.candidates_per_sku)
    storage.write_json(storage.join(run_uri, "run.json"), {
        "run_id": run_id, "catalog": str(catalog), "market": mkt.code, "out": str(out), "limit": limit,
        "candidates": n_candidates, "config": cfg.path, "started": dt.datetime.now().isoformat(timespec="seconds")})

    # 1. ingest: valid items (most urgent first) and a failed record per bad row
    items, rejected = ingest_catalog(str(catalog))
    items = sorted(items, key=lambda it: (it.priority, it.row))
    todo, later = (items, []) if limit is None else (items[:limit], items[limit:])
    logger.info("%d SKUs to process, %d rejected rows, %d deferred by --limit", len(todo), len(rejected), len(later))

    # 2-5. per SKU: fetch, clean, analyse, localize, qc
    futures = process_sku.map(todo, run_uri=unmapped(run_uri), market=unmapped(mkt), cfg=unmapped(cfg),
                              n_candidates=unmapped(n_candidates))
    processed = [f.result() for f in futures]
    deferred = [SkuRecord(sku=it.sku, status="deferred", row=it.row, title=it.title, category=it.category,
                          priority=it.priority, error=f"not started: beyond --limit {limit}") for it in later]

    # 6. export, in catalog order
    records = sorted(rejected + processed + deferred, key=lambda r: (r.row or 0))
    exported = export_task(records, run_uri, run_id, mkt.code)
    return {"run_id": run_id, "run_uri": run_uri, **exported}


if __name__ == "__main__":  # spawned workers re-import this module: keep the guard
    import argparse

    parser = argparse.ArgumentParser(description="Run the catloc nightly flow once.")
    parser.add_argument("catalog")
    parser.add_argument("--market", required=True)
    parser.add_argument("--out", default="review_exports")
    parser.add_argument("--run-id")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    print(nightly(args.catalog, args.market, args.out, args.run_id, args.limit))
