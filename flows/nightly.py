"""The nightly flow: supplier catalog in, review sheets out.

    catalog ──ingest──▶ sources ──clean──▶ cleaned ──analyse──▶ masks
            ──localize──▶ 6-8 candidates ──qc──▶ scored, ranked ──export──▶ review sheets

Each arrow is a task; tasks pass URIs of stored artifacts, never pixels. SKUs run in
parallel (at most ``workers`` at once) in priority order; a SKU that fails at any stage
becomes a ``failed`` row with the stage and the reason, and the others go on. Starting the
same ``run_id`` again resumes: SKUs already done with the same inputs and config are kept.

Run it with ``catloc run`` or ``python flows/nightly.py CATALOG --market sa``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from catloc import storage
from catloc.config import load_market, load_pipeline_config
from catloc.engines import load_all
from catloc.schedule import NightBudget
from flows.skus import QUEUED, input_key, mark_deferred, read_record, run_skus, save_rejected
from tasks.clean import clean_options
from tasks.export import export_task
from tasks.ingest import ingest_catalog


def default_run_id(market: str) -> str:
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{market}"


@flow(name="catloc-nightly", task_runner=ThreadPoolTaskRunner(max_workers=8))
def nightly(catalog: str, market: str, out: str = "review_exports", run_id: str | None = None,
            limit: int | None = None, candidates: int | None = None, config: str | None = None,
            deadline: str | None = None, tz: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Localize every SKU of ``catalog`` for ``market``; write review sheets under ``out/run_id``.

    ``deadline`` (``HH:MM`` in ``tz``): stop starting SKUs that would not finish by then, export
    what is done and mark the rest ``deferred``.
    """
    logger = get_run_logger()
    # 0. configuration and engines: a bad config or a missing model fails here, not per SKU
    cfg = load_pipeline_config(config)
    mkt = load_market(market, cfg)
    storage.configure(cfg.storage_options)
    load_all(cfg.engines)
    clean_options(cfg.clean)  # an unknown clean: option fails the run here
    budget = NightBudget.from_config(cfg.run, deadline, tz)
    run_id = run_id or default_run_id(mkt.code)
    run_uri = storage.join(str(out), run_id)
    storage.sweep_temp_files(run_uri)  # what a killed run may have left half-written
    n_candidates = int(candidates or cfg.candidates_per_sku)
    storage.write_json(storage.join(run_uri, "run.json"), {
        "run_id": run_id, "catalog": str(catalog), "market": mkt.code, "out": str(out), "limit": limit,
        "candidates": n_candidates, "config": cfg.path, "deadline": deadline, "tz": tz,
        "started": dt.datetime.now().isoformat(timespec="seconds")})

    # 1. ingest: valid items (most urgent first) and a failed record per bad row
    items, rejected = ingest_catalog(str(catalog))
    save_rejected(run_uri, rejected)
    items = sorted(items, key=lambda it: (it.priority, it.row))
    todo, over_limit = (items, []) if limit is None else (items[:limit], items[limit:])

    # resume: SKUs this run folder already finished from the same row and config are kept
    keys = {it.sku: input_key(it, cfg, mkt, n_candidates) for it in todo}
    kept = {it.sku for it in todo if _already_done(run_uri, it.sku, keys[it.sku])}
    todo = [it for it in todo if it.sku not in kept]
    mark_deferred(run_uri, todo, QUEUED)
    logger.info("%d SKUs to process, %d already done, %d rejected rows, %d over --limit",
                len(todo), len(kept), len(rejected), len(over_limit))

    # 2-5. per SKU: fetch, clean, analyse, localize, qc
    _, not_started = run_skus(todo, run_uri=run_uri, run_id=run_id, market=mkt, cfg=cfg,
                              n_candidates=n_candidates, budget=budget, workers=workers or cfg.max_workers,
                              keys=keys, logger=logger)
    if not_started:
        mark_deferred(run_uri, not_started, f"deadline {deadline} {tz or ''}".rstrip() +
                      f": not started, about {budget.expected_sku_s():.0f} s per SKU would not fit")
    mark_deferred(run_uri, over_limit, f"not started: beyond --limit {limit}")

    # 6. export every SKU record of the run folder
    exported = export_task(run_uri, run_id, mkt.code)
    return {"run_id": run_id, "run_uri": run_uri, **exported}


def _already_done(run_uri: str, sku: str, key: str) -> bool:
    record = read_record(run_uri, sku)
    return record is not None and record.status == "done" and record.input_key == key


if __name__ == "__main__":  # spawned workers re-import this module: keep the guard
    import argparse

    parser = argparse.ArgumentParser(description="Run the catloc nightly flow once.")
    parser.add_argument("catalog")
    parser.add_argument("--market", required=True)
    parser.add_argument("--out", default="review_exports")
    parser.add_argument("--run-id")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--deadline")
    parser.add_argument("--tz")
    args = parser.parse_args()
    print(nightly(args.catalog, args.market, args.out, args.run_id, args.limit, deadline=args.deadline, tz=args.tz))
