"""The stages as a SKU task calls them, and the export task.

Each stage is a stage function of ``tasks/`` (which knows nothing of Prefect) whose faults become a
:class:`~catloc.records.SkuError` naming the stage, so a SKU's record always says where and why it
stopped. They are plain calls, not Prefect tasks of their own: a task takes a batch of SKUs
through one or more stages (:mod:`catloc.flows.skus`), so a 10,000-SKU night is not 60,000 task
runs. :data:`STAGE_ENGINES` names the engines each stage uses (loaded once per worker process).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from prefect import task
from prefect.cache_policies import NO_CACHE

from catloc.records import SkuError
from catloc.tasks.analyse import analyse_cleaned
from catloc.tasks.clean import ENGINES as CLEAN_ENGINES, clean_source
from catloc.tasks.export import export_sheets
from catloc.tasks.ingest import fetch_source as fetch_source_fn
from catloc.tasks.localize import make_candidates
from catloc.tasks.qc import score_candidates

STAGE_ENGINES: dict[str, tuple[str, ...]] = {
    "ingest": (), "clean": tuple(CLEAN_ENGINES), "analyse": ("segment",), "localize": ("generate", "parse", "pose"),
    "qc": ("ocr", "parse"),
}


def in_stage(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` whose failures are :class:`SkuError` at ``stage``."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SkuError:
            raise
        except Exception as exc:  # an engine or I/O fault: still one SKU, still explained
            raise SkuError(stage, f"{type(exc).__name__}: {exc}") from exc
    return run


fetch_source = in_stage("ingest", fetch_source_fn)  # transient fetch errors are retried inside (fetch_retries)
clean = in_stage("clean", clean_source)
analyse = in_stage("analyse", analyse_cleaned)
localize = in_stage("localize", make_candidates)
qc = in_stage("qc", score_candidates)
export = task(export_sheets, name="export", cache_policy=NO_CACHE)
