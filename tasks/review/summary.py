"""What a run came to, in numbers catalog ops read at a glance (the Prefect summary artifact).

Counts of SKUs by status, of candidates by QC reason, seconds per stage and throughput, from
the run folder's SKU records and ``progress.json``.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from catloc.records import STAGES, SkuRecord

_DETAIL = re.compile(r"\s*\([^)]*\)")


def reason_kind(reason: str) -> str:
    """A QC reason without its figures: ``"residual text outside the product: 2 ('x')"`` ->
    ``"residual text outside the product"``; parenthesised details go too."""
    return _DETAIL.sub("", reason.split(":")[0]).strip()


@dataclass
class RunSummary:
    """The numbers of one run (see the module docstring)."""

    skus_by_status: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    candidates_passed: int = 0
    qc_reasons: dict[str, int] = field(default_factory=dict)   # reason kind -> candidates it concerns
    stage_seconds: dict[str, float] = field(default_factory=dict)   # stage -> mean seconds over the SKUs that ran it
    skus_per_hour: float | None = None

    def table(self) -> list[dict[str, Any]]:
        """Rows ``{group, item, value}`` for a table artifact."""
        rows = [{"group": "SKUs by status", "item": k, "value": v} for k, v in self.skus_by_status.items()]
        rows.append({"group": "candidates", "item": "made", "value": self.candidates})
        rows.append({"group": "candidates", "item": "passed QC", "value": self.candidates_passed})
        rows += [{"group": "candidates by QC reason", "item": k, "value": v} for k, v in self.qc_reasons.items()]
        rows += [{"group": "seconds per SKU", "item": k, "value": v} for k, v in self.stage_seconds.items()]
        if self.skus_per_hour is not None:
            rows.append({"group": "throughput", "item": "SKUs per hour", "value": self.skus_per_hour})
        return rows


def summarize(records: list[SkuRecord], progress: dict[str, Any]) -> RunSummary:
    """The :class:`RunSummary` of a run's ``records`` and its ``progress.json`` (SKUs per hour as
    the run measured it; none when the run processed no SKU)."""
    statuses = Counter(r.status for r in records)
    current = [c for r in records for c in r.candidates if c.attempt == r.attempt]
    reasons = Counter(reason_kind(part) for c in current for part in c.qc_reasons.split(";") if part.strip())
    seconds = {}
    for stage in STAGES:
        ran = [r.stage_seconds[stage] for r in records if stage in r.stage_seconds]
        if ran:
            seconds[stage] = round(sum(ran) / len(ran), 2)
    return RunSummary(skus_by_status=dict(sorted(statuses.items())), candidates=len(current),
                      candidates_passed=sum(bool(c.qc_pass) for c in current),
                      qc_reasons=dict(reasons.most_common()), stage_seconds=seconds,
                      skus_per_hour=progress.get("skus_per_hour") if progress.get("finished") else None)
