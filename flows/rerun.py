"""Rerun chosen SKUs of an existing run, in place.

Only the chosen SKUs are processed; every stage output that is still valid (same input
bytes, same stage config) is reused, and the review/status sheets are rebuilt from every
SKU record of the run folder, so the other SKUs' rows are kept as they were.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from catloc.flows.prepare import RunPlan, prepare_rerun
from catloc.flows.runners import open_runner
from catloc.flows.skus import QUEUED, finish, run_skus


@flow(name="catloc-rerun")
def rerun(run_id: str, out: str = "review_exports", failed: bool = False, deferred: bool = False,
          skus: list[str] | None = None, stage: str | None = None, deadline: str | None = None,
          tz: str | None = None, workers: int | None = None, rejected: bool = False, cluster: str | None = None,
          plan: RunPlan | None = None) -> dict[str, Any]:
    """Process the chosen SKUs of run ``run_id`` again and rebuild its sheets.

    ``stage`` recomputes from that stage on even where stored outputs are still valid
    (e.g. ``clean`` after installing a better inpainting model). ``rejected``: new candidates
    for the SKUs reviewers marked "reject all — regenerate" (their earlier ones are kept).
    ``cluster``: as for the nightly flow.
    """
    logger = get_run_logger()
    plan = plan or prepare_rerun(run_id, out, failed, deferred, skus, stage, deadline, tz, workers, rejected,
                                 cluster=cluster)
    folder = plan.folder
    with open_runner(plan.cluster, plan.workers, plan.settings.config, logger) as runner:
        folder.sweep_temp_files()  # what a killed run may have left half-written
        folder.write_info(plan.info)  # the candidate mix, with any new attempts
        folder.save_rejected(plan.rejected)
        folder.mark_deferred(plan.todo, QUEUED)  # a SKU done before keeps its record until replaced
        logger.info("rerunning %d SKUs of %s", len(plan.todo), run_id)
        finished, not_started = run_skus(plan, runner, logger)
        folder.mark_deferred(not_started, f"deadline {deadline}: not started in rerun")
        result = finish(runner, plan)
    return {"run_id": run_id, "run_uri": folder.uri, "rerun": [r.sku for r in finished], **result}
