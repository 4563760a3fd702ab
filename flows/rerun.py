"""Rerun chosen SKUs of an existing run, in place.

Only the chosen SKUs are processed; every stage output that is still valid (same input
bytes, same stage config) is reused, and the review/status sheets are rebuilt from every
SKU record of the run folder, so the other SKUs' rows are kept as they were.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from catloc import storage
from catloc.config import load_market, load_pipeline_config
from catloc.engines import load_all
from catloc.records import STAGES
from catloc.schedule import NightBudget
from flows.skus import input_key, mark_deferred, run_skus, save_rejected
from tasks.clean import clean_options
from tasks.export import collect_records, export_task
from tasks.ingest import ingest_catalog


class RerunError(ValueError):
    """The rerun cannot start (no such run, unknown SKUs or stage)."""


def select_skus(items, records, *, failed: bool, deferred: bool, skus: list[str] | None):
    """The catalog items to rerun: named ``skus``, else failed and/or deferred ones (default both),
    plus catalog SKUs the run has no record of."""
    by_sku = {r.sku: r for r in records}
    if skus:
        wanted = set(skus)
        unknown = sorted(wanted - {it.sku for it in items})
        if unknown:
            raise RerunError(f"not in the catalog: {', '.join(unknown)}")
        return [it for it in items if it.sku in wanted]
    statuses = ({"failed"} if failed else set()) | ({"deferred"} if deferred else set()) or {"failed", "deferred"}
    return [it for it in items if it.sku not in by_sku or by_sku[it.sku].status in statuses]


@flow(name="catloc-rerun", task_runner=ThreadPoolTaskRunner(max_workers=8))
def rerun(run_id: str, out: str = "review_exports", failed: bool = False, deferred: bool = False,
          skus: list[str] | None = None, stage: str | None = None, deadline: str | None = None,
          tz: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Process the chosen SKUs of run ``run_id`` again and rebuild its sheets.

    ``stage`` recomputes from that stage on even where stored outputs are still valid
    (e.g. ``clean`` after installing a better inpainting model).
    """
    logger = get_run_logger()
    run_uri = storage.join(str(out), run_id)
    manifest = storage.join(run_uri, "run.json")
    if not storage.exists(manifest):
        raise RerunError(f"no run {run_id!r} under {out} (missing run.json)")
    if stage is not None and stage not in STAGES[1:-1]:
        raise RerunError(f"--stage must be one of {', '.join(STAGES[1:-1])}, got {stage!r}")
    info = storage.read_json(manifest)
    storage.sweep_temp_files(run_uri)  # what a killed run may have left half-written
    cfg = load_pipeline_config(info.get("config"))
    mkt = load_market(info["market"], cfg)
    storage.configure(cfg.storage_options)
    load_all(cfg.engines)
    clean_options(cfg.clean)  # an unknown clean: option fails the run here
    n_candidates = int(info.get("candidates") or cfg.candidates_per_sku)

    items, rejected = ingest_catalog(info["catalog"])
    save_rejected(run_uri, rejected)
    chosen = sorted(select_skus(items, collect_records(run_uri), failed=failed, deferred=deferred, skus=skus),
                    key=lambda it: (it.priority, it.row))
    logger.info("rerunning %d SKUs of %s", len(chosen), run_id)
    budget = NightBudget.from_config(cfg.run, deadline, tz)
    keys = {it.sku: input_key(it, cfg, mkt, n_candidates) for it in chosen}
    finished, not_started = run_skus(chosen, run_uri=run_uri, run_id=run_id, market=mkt, cfg=cfg,
                                     n_candidates=n_candidates, budget=budget,
                                     workers=workers or cfg.max_workers, keys=keys, force_from=stage,
                                     logger=logger)
    if not_started:
        mark_deferred(run_uri, not_started, f"deadline {deadline}: not started in rerun")
    exported = export_task(run_uri, run_id, mkt.code)
    return {"run_id": run_id, "run_uri": run_uri, "rerun": [r.sku for r in finished], **exported}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Rerun SKUs of a catloc run.")
    parser.add_argument("run_id")
    parser.add_argument("--out", default="review_exports")
    parser.add_argument("--failed", action="store_true")
    parser.add_argument("--skus")
    parser.add_argument("--stage")
    args = parser.parse_args()
    print(rerun(args.run_id, args.out, failed=args.failed,
                skus=args.skus.split(",") if args.skus else None, stage=args.stage))
