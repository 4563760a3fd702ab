"""The nightly flow: supplier catalog in, review sheets out.

    catalog ──ingest──▶ sources ──clean──▶ cleaned ──analyse──▶ masks
            ──localize──▶ 6-8 candidates ──qc──▶ scored, ranked ──export──▶ review sheets

Each arrow is a stage; tasks pass URIs of stored artifacts, never pixels. SKUs run in batches in
priority order, on threads of this process (at most ``workers`` at once) or on a Dask cluster
(``cluster``: ``local:N`` or a scheduler address; generation on GPU workers, the rest on CPU
workers); a SKU that fails at any stage becomes a ``failed`` row with the stage and the reason, and
the others go on. Starting the same ``run_id`` again resumes: SKUs already done with the same
inputs and config are kept.

Run it with ``catloc run``, a Prefect deployment (``prefect.yaml``), or from Python:
``from catloc.flows.nightly import nightly; nightly("catalog.csv", "sa")``.
"""
from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger

from catloc.flows.prepare import RunPlan, prepare_run
from catloc.flows.runners import open_runner
from catloc.flows.skus import QUEUED, finish, run_skus


@flow(name="catloc-nightly")
def nightly(catalog: str, market: str, out: str = "review_exports", run_id: str | None = None,
            limit: int | None = None, candidates: int | None = None, config: str | None = None,
            deadline: str | None = None, tz: str | None = None, workers: int | None = None,
            cluster: str | None = None, plan: RunPlan | None = None) -> dict[str, Any]:
    """Localize every SKU of ``catalog`` for ``market``; write review sheets under ``out/run_id``.

    ``deadline`` (``HH:MM`` in ``tz``): stop starting SKUs that would not finish by then, export
    what is done and mark the rest ``deferred``. ``cluster``: where the SKU tasks run (default
    ``$CATLOC_CLUSTER``, else pipeline.yaml's ``cluster.address``, else threads here). ``plan``: the
    run already prepared from these parameters (the CLI prepares it before starting Prefect).
    """
    logger = get_run_logger()
    # 0. config, market, engines, catalog, cluster: a bad one fails here, before any SKU
    plan = plan or prepare_run(catalog, market, out, run_id, limit, candidates, config, deadline, tz, workers, cluster)
    folder = plan.folder
    with open_runner(plan.cluster, plan.workers, plan.settings.config, logger) as runner:
        folder.sweep_temp_files()  # what a killed run may have left half-written
        folder.write_info(plan.info)
        # 1. ingest: bad catalog rows are failed SKUs; the rest are queued until processed
        folder.save_rejected(plan.rejected)
        folder.mark_deferred(plan.todo, QUEUED)
        logger.info("%d SKUs to process, %d already done, %d rejected rows, %d over --limit",
                    len(plan.todo), plan.kept, len(plan.rejected), len(plan.over_limit))
        # 2-5. per batch of SKUs: fetch, clean, analyse, localize, qc
        started = time.monotonic()
        _, not_started = run_skus(plan, runner, logger)
        sku_phase_s = time.monotonic() - started
        folder.mark_deferred(not_started, f"deadline {deadline} {tz or ''}".rstrip() +
                             f": not started, about {plan.budget.expected_sku_s():.0f} s per SKU would not fit")
        folder.mark_deferred(plan.over_limit, f"not started: beyond --limit {limit}")
        # 6. export every SKU record of the run folder: sheets, review page, Prefect artifacts (on a cluster: on a worker)
        finished = finish(runner, plan)
    return {"run_id": folder.run_id, "run_uri": folder.uri, "sku_phase_s": round(sku_phase_s, 2), **finished}
