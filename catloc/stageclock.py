"""Seconds spent in each stage of the SKU being processed, without threading a timer through
every stage call.

The per-SKU code calls :func:`start` once; every stage function run after it in the same
context (the same thread, or a context copied from it: Prefect runs a task called inside
another task with a copy) adds its wall time with :func:`add`. The dictionary :func:`start`
returned then holds ``{stage: seconds}`` (retries add up), for the SKU record.
"""
from __future__ import annotations

import contextvars

_seconds: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("catloc_stage_seconds",
                                                                                   default=None)


def start() -> dict[str, float]:
    """A fresh ``{stage: seconds}`` that the stages run from now on in this context add to."""
    seconds: dict[str, float] = {}
    _seconds.set(seconds)
    return seconds


def add(stage: str, seconds: float) -> None:
    """Count ``seconds`` for ``stage``; a no-op outside a :func:`start`."""
    current = _seconds.get()
    if current is not None:
        current[stage] = round(current.get(stage, 0.0) + float(seconds), 3)
