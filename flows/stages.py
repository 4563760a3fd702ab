"""The stage tasks: each a thin Prefect task around one stage function of ``tasks/``.

The stage functions know nothing of Prefect; here they become tasks (names in the Prefect UI,
retries) and any fault inside one becomes a :class:`~catloc.records.SkuError` naming its stage,
so a SKU's record always says where and why it stopped.
"""
from __future__ import annotations

import functools
import time
from typing import Any, Callable

from prefect import task
from prefect.cache_policies import NO_CACHE

from catloc import stageclock
from catloc.records import SkuError
from catloc.tasks.analyse import analyse_cleaned
from catloc.tasks.clean import clean_source
from catloc.tasks.export import export_sheets
from catloc.tasks.ingest import TransientFetchError, fetch_source as fetch_source_fn
from catloc.tasks.localize import make_candidates
from catloc.tasks.qc import score_candidates


def stage_task(stage: str, fn: Callable[..., Any], name: str | None = None, **options: Any):
    """``fn`` as a Prefect task whose failures are :class:`SkuError` at ``stage``; its wall time
    goes to the SKU's :mod:`~catloc.stageclock`."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        except SkuError:
            raise
        except Exception as exc:  # an engine or I/O fault: still one SKU, still explained
            raise SkuError(stage, f"{type(exc).__name__}: {exc}") from exc
        finally:
            stageclock.add(stage, time.monotonic() - started)
    return task(run, name=name or stage, cache_policy=NO_CACHE, **options)


def retry_transient(task, task_run, state) -> bool:
    """Retry only what may succeed next time (network), never a bad image."""
    try:
        state.result()
    except Exception as exc:  # the stage task wraps the fetch error: look at its cause
        return isinstance(exc, TransientFetchError) or isinstance(exc.__cause__, TransientFetchError)
    return False


fetch_source = stage_task("ingest", fetch_source_fn, name="fetch-source", retries=2, retry_delay_seconds=[2, 10],
                          retry_condition_fn=retry_transient)
clean = stage_task("clean", clean_source)
analyse = stage_task("analyse", analyse_cleaned)
localize = stage_task("localize", make_candidates)
qc = stage_task("qc", score_candidates)
export = task(export_sheets, name="export", cache_policy=NO_CACHE)
