"""Apply reviewers' picks: publish the winners of a run and record the picks (the deployment
``apply-picks`` of prefect.yaml; ``catloc picks apply`` runs the same code without Prefect)."""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from catloc.flows.review import artifact_key
from catloc.tasks.review.publish import apply_picks as apply_picks_file


@flow(name="catloc-apply-picks")
def apply_picks(run_id: str, picks: str, publish: str, out: str = "review_exports",
                allow_failed: bool = False) -> dict[str, Any]:
    """Check ``picks`` (the review page's picks.csv or a filled review.csv) against run ``run_id``,
    publish its winners to ``publish`` and record them; a problem fails the flow run with every
    problem listed and nothing published."""
    result = apply_picks_file(run_id, picks, publish, out, allow_failed)
    get_run_logger().info("run %s: %d SKUs decided, %d images published (%d written, %d removed)", run_id,
                          result["skus"], result["images"], result["written"], result["removed"])
    create_table_artifact([{k: v for k, v in result.items() if k != "regenerate"}],
                          key=artifact_key(result["market"], "published"),
                          description=f"run {run_id}: picks applied from {picks}")
    return result
