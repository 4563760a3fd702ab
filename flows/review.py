"""A run's end as reviewers and catalog ops see it: the review page and Prefect artifacts.

Artifacts carry keys per market, so the Prefect UI (Artifacts) keeps each market's history:

- ``catloc-<market>-progress``: the share of the run's SKUs finished, updated after every SKU;
- ``catloc-<market>-summary``: a table of SKUs by status, candidates by QC reason, mean seconds
  per stage and SKUs per hour (:mod:`catloc.tasks.review.summary`);
- ``catloc-<market>-review``: a link to the run's ``index.html``.

An artifact that cannot be written (no API reachable) is a warning in the log, never a failed run.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable

from prefect import get_run_logger, task
from prefect.artifacts import (create_link_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from prefect.cache_policies import NO_CACHE

from catloc import storage
from catloc.config import ReviewOptions
from catloc.flows.prepare import RunPlan
from catloc.flows.stages import export
from catloc.records import SkuRecord
from catloc.runfolder import RunFolder
from catloc.tasks.review.page import write_review_page
from catloc.tasks.review.summary import summarize

review_page = task(write_review_page, name="review-page", cache_policy=NO_CACHE)


def artifact_key(market: str, what: str) -> str:
    """``catloc-<market>-<what>`` in the characters Prefect allows in keys (lowercase, digits, dashes)."""
    return re.sub(r"[^a-z0-9-]+", "-", f"catloc-{market}-{what}".lower()).strip("-")


def _safely(make: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return make(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - an artifact is a convenience; the run goes on
        try:
            logger = get_run_logger()
        except Exception:  # noqa: BLE001 - outside a flow run
            logger = logging.getLogger("catloc")
        logger.warning("artifact %s not written: %s", kwargs.get("key", ""), exc)
        return None


class RunProgress:
    """The run's progress artifact: created at 0 %, updated as SKUs finish."""

    def __init__(self, market: str, run_id: str, total: int):
        self.run_id, self.total = run_id, total
        self.artifact = _safely(create_progress_artifact, 0.0 if total else 100.0,
                                key=artifact_key(market, "progress"),
                                description=f"run {run_id}: 0 of {total} SKUs to process finished")

    def update(self, finished: list[SkuRecord]) -> None:
        """The run has ``finished`` these SKUs so far."""
        if self.artifact is not None:
            failed = sum(r.status == "failed" for r in finished)
            _safely(update_progress_artifact, self.artifact, 100.0 * len(finished) / max(self.total, 1),
                    description=f"run {self.run_id}: {len(finished)} of {self.total} SKUs finished "
                                f"({len(finished) - failed} done, {failed} failed)")


def page_link(folder: RunFolder, review: ReviewOptions) -> str:
    """Where a browser opens the run's page: under ``review.public_url`` if set, else its file URI."""
    if review.public_url:
        return f"{review.public_url.rstrip('/')}/{folder.run_id}/index.html"
    uri = folder.review_page
    return uri if storage.is_remote(uri) else Path(uri).resolve().as_uri()


def finish_run(plan: RunPlan) -> dict[str, Any]:
    """Export the sheets, write the review page and the run's summary and link artifacts."""
    folder, market, review = plan.folder, plan.settings.market, plan.settings.config.review
    sheets = export(folder, market.code)
    page = review_page(folder, market, review)
    summary = summarize(folder.records(), folder.read_progress())
    _safely(create_table_artifact, summary.table(), key=artifact_key(market.code, "summary"),
            description=f"run {folder.run_id} ({market.name}): SKUs, QC reasons, seconds per stage, throughput")
    _safely(create_link_artifact, page_link(folder, review), link_text=f"review page of {folder.run_id}",
            key=artifact_key(market.code, "review"), description=f"run {folder.run_id}: pick the winners")
    return {**sheets, "review_page": page, "summary": summary.table()}
