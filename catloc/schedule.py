"""Done by morning: when to stop starting new SKUs.

A run with a deadline measures how long SKUs take as it goes. Before starting the next SKU
it asks :meth:`NightBudget.fits` (or, for a task taking several SKUs in a row,
:meth:`NightBudget.fitting_skus`): will a SKU started now (taking about as long as the ones
so far, plus a safety margin) finish before the deadline, leaving ``reserve_s`` to write the
sheets? When it will not, the run stops starting SKUs, exports what is done and marks the
rest ``deferred``.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_deadline(hhmm: str, tz: str | None = None, now: dt.datetime | None = None) -> dt.datetime:
    """The next ``HH:MM`` in time zone ``tz`` (default: local) after ``now``, as an aware datetime."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", (hhmm or "").strip())
    if not match:
        raise ValueError(f"deadline must be HH:MM (24 h), got {hhmm!r}")
    try:
        zone = ZoneInfo(tz) if tz else dt.datetime.now().astimezone().tzinfo
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name such as Asia/Riyadh)") from None
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(zone)
    at = now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
    return at if at > now else at + dt.timedelta(days=1)


@dataclass
class NightBudget:
    """Tracks SKU durations against an optional deadline (monotonic clock inside a run)."""

    deadline: dt.datetime | None = None
    reserve_s: float = 60.0        # kept free at the end for the export
    prior_s: float = 60.0          # assumed SKU duration before any SKU has finished
    safety: float = 1.25           # margin on the measured duration
    durations: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_config(cls, run_cfg: dict, deadline: str | None, tz: str | None) -> "NightBudget":
        """The budget for ``--deadline``/``--tz`` with the ``run:`` section of pipeline.yaml."""
        return cls(deadline=parse_deadline(deadline, tz) if deadline else None,
                   reserve_s=float(run_cfg.get("deadline_reserve_s", 60)),
                   prior_s=float(run_cfg.get("deadline_prior_s", 60)))

    def observe(self, seconds: float) -> None:
        self.durations.append(float(seconds))

    def expected_sku_s(self) -> float:
        if not self.durations:
            return self.prior_s
        recent = self.durations[-20:]
        return self.safety * sum(recent) / len(recent)

    def seconds_left(self, now: dt.datetime | None = None) -> float | None:
        if self.deadline is None:
            return None
        now = now or dt.datetime.now(dt.timezone.utc)
        return (self.deadline - now).total_seconds()

    def fits(self, now: dt.datetime | None = None) -> bool:
        """Whether one more SKU started now would finish before the deadline."""
        return self.fitting_skus(1, now) == 1

    def fitting_skus(self, most: int, now: dt.datetime | None = None) -> int:
        """How many SKUs (at most ``most``) one task may still take one after the other and finish
        before the deadline, ``reserve_s`` kept free; 0 when not even one fits."""
        left = self.seconds_left(now)
        if left is None:
            return most
        return max(0, min(most, int((left - self.reserve_s) // self.expected_sku_s())))

    def skus_per_hour(self) -> float:
        elapsed = time.monotonic() - self.started
        return 3600.0 * len(self.durations) / elapsed if elapsed > 0 else 0.0
