"""Rerun chosen SKUs of an existing run, in place.

Only the chosen SKUs are processed; every stage output that is still valid (same input
bytes, same stage config) is reused, and the review/status sheets are rebuilt from every
SKU record of the run folder, so the other SKUs' rows are kept as they were.
"""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from catloc.flows.prepare import RunPlan, prepare_rerun
from catloc.flows.review import finish_run
from catloc.flows.skus import run_skus


@flow(name="catloc-rerun", task_runner=ThreadPoolTaskRunner(max_workers=8))
def rerun(run_id: str, out: str = "review_exports", failed: bool = False, deferred: bool = False,
          skus: list[str] | None = None, stage: str | None = None, deadline: str | None = None,
          tz: str | None = None, workers: int | None = None, rejected: bool = False,
          plan: RunPlan | None = None) -> dict[str, Any]:
    """Process the chosen SKUs of run ``run_id`` again and rebuild its sheets.

    ``stage`` recomputes from that stage on even where stored outputs are still valid
    (e.g. ``clean`` after installing a better inpainting model). ``rejected``: new candidates
    for the SKUs reviewers marked "reject all — regenerate" (their earlier ones are kept).
    """
    logger = get_run_logger()
    plan = plan or prepare_rerun(run_id, out, failed, deferred, skus, stage, deadline, tz, workers, rejected)
    folder = plan.folder
    folder.sweep_temp_files()  # what a killed run may have left half-written
    folder.write_info(plan.info)  # the candidate mix, with any new attempts
    folder.save_rejected(plan.rejected)
    logger.info("rerunning %d SKUs of %s", len(plan.todo), run_id)
    finished, not_started = run_skus(plan, logger)
    folder.mark_deferred(not_started, f"deadline {deadline}: not started in rerun")
    return {"run_id": run_id, "run_uri": folder.uri, "rerun": [r.sku for r in finished],
            **finish_run(plan)}
