"""The candidate mix: which scene and framing each of a SKU's candidates uses.

Candidate *i* of a SKU (counted over all its attempts: ``c01``-``c07`` first, ``c08``... for the
next attempt) always gets the seed ``recipe_seed(market, sku, i)``, so a new attempt never
repeats a seed. Which scene and framing it gets:

- **First attempt, no pick history** for the market: scene *i* in the market's order, framings
  (placement x fill) rotating, as catloc always did.
- **First attempt with pick history**: each scene has a share of the mix
  (:func:`catloc.pickrates.scene_shares`, at least ``learning.min_share``). The SKU's *n*
  candidates are spread over the scenes by systematic sampling: the points ``(u + j) / n``,
  ``j = 0..n-1``, fall on the scenes' shares laid end to end, ``u`` drawn from market + SKU. A
  scene thus gets ``floor`` or ``ceil`` of ``n x share`` candidates of each SKU, and exactly
  ``n x share`` on average over SKUs; the most picked scene comes first (``c01``). A scene's
  repeated candidates take the next framings.
- **A regeneration** (attempt ``a > 0``, reviewers rejected every candidate): scenes the SKU has
  not shown come first (the most picked first), then the others; candidates go round these
  scenes, each taking a framing the SKU has not shown with that scene. Only when every
  scene x framing was shown do pairs repeat (with new seeds).
"""
from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from catloc.config import MarketProfile
from catloc.outputs import Candidate
from catloc.pickrates import scene_shares

ALL_CATEGORIES = "*"


def candidate_index(candidate_id: str) -> int:
    """0-based position of a candidate id over all attempts (``c08`` -> 7)."""
    return int(candidate_id.lstrip("c")) - 1


def unit(salt: str) -> float:
    """A number in [0, 1) drawn deterministically from ``salt``."""
    return int(hashlib.sha256(salt.encode()).hexdigest()[:12], 16) / float(16 ** 12)


def systematic_counts(shares: list[float], n: int, u: float) -> list[int]:
    """How many of ``n`` slots each share gets: the points ``(u + j) / n`` over the shares laid end
    to end (``shares`` sum to 1; ``u`` in [0, 1))."""
    ends, total = [], 0.0
    for share in shares:
        total += share
        ends.append(total)
    counts = [0] * len(shares)
    for j in range(n):
        counts[min(bisect.bisect_right(ends, (u + j) / n), len(shares) - 1)] += 1
    return counts


@dataclass(frozen=True)
class CandidateMix:
    """How one SKU's candidates are chosen (see the module docstring)."""

    scene_shares: dict[str, float] = field(default_factory=dict)   # scene id -> share; {}: the market's order
    attempt: int = 0
    first_index: int = 0                                           # the first candidate's index (c01: 0)
    shown: tuple[tuple[str, str], ...] = ()                        # (scene id, framing) of earlier attempts

    def slots(self, scene_ids: list[str], framings: list[str], n: int, salt: str) -> list[tuple[int, int]]:
        """(scene position, framing position) of each of the ``n`` candidates."""
        k, f = len(scene_ids), len(framings)
        if self.attempt > 0:
            return self._unshown_slots(scene_ids, framings, n)
        if not self.scene_shares:
            return [(i % k, (i + i // k) % f) for i in range(self.first_index, self.first_index + n)]
        shares = [self.scene_shares.get(s, 0.0) for s in scene_ids]
        counts = systematic_counts(shares, n, unit(salt))
        order = sorted(range(k), key=lambda s: (-shares[s], s))
        return [(s, (s + m) % f) for s in order for m in range(counts[s])]

    def _unshown_slots(self, scene_ids: list[str], framings: list[str], n: int) -> list[tuple[int, int]]:
        k, f = len(scene_ids), len(framings)
        shown_scenes = {scene for scene, _ in self.shown}
        order = sorted(range(k), key=lambda s: (scene_ids[s] in shown_scenes, -self.scene_shares.get(scene_ids[s], 0.0),
                                                (s - self.first_index) % k))
        used, slots = set(self.shown), []
        while len(slots) < n:
            before = len(slots)
            for s in order:
                c = next((c % f for c in range(s, s + f) if (scene_ids[s], framings[c % f]) not in used), None)
                if c is not None and len(slots) < n:
                    used.add((scene_ids[s], framings[c]))
                    slots.append((s, c))
            if len(slots) == before:  # every scene x framing was shown: repeat them (the seeds are new)
                used = set()
        return slots


@dataclass
class RunMix:
    """The candidate mix of one run: scene shares per category and the SKUs on a new attempt.

    Recorded in ``run.json`` (``mix``), so a resumed or rerun run makes the same candidates
    whatever picks were applied since.
    """

    scene_shares: dict[str, dict[str, float]] = field(default_factory=dict)  # category ('*': all) -> shares
    attempts: dict[str, dict[str, Any]] = field(default_factory=dict)        # sku -> attempt, first_index, shown

    def for_sku(self, sku: str, category: str) -> CandidateMix:
        shares = self.scene_shares.get(category) or self.scene_shares.get(ALL_CATEGORIES) or {}
        attempt = self.attempts.get(sku, {})
        return CandidateMix(scene_shares=shares, attempt=int(attempt.get("attempt", 0)),
                            first_index=int(attempt.get("first_index", 0)),
                            shown=tuple(tuple(p) for p in attempt.get("shown", [])))

    def with_new_attempt(self, sku: str, earlier: list[Candidate]) -> "RunMix":
        """This mix with ``sku`` on its next attempt, after the candidates ``earlier`` (and any
        this mix already knew it had shown)."""
        before = self.attempts.get(sku, {})
        shown = {tuple(p) for p in before.get("shown", [])} | {(c.scene, c.framing) for c in earlier}
        attempt = max([int(before.get("attempt", 0))] + [c.attempt for c in earlier]) + 1
        first = max([int(before.get("first_index", 0))] + [candidate_index(c.candidate_id) + 1 for c in earlier])
        return RunMix(self.scene_shares, {**self.attempts, sku: {"attempt": attempt, "first_index": first,
                                                                  "shown": [list(p) for p in sorted(shown)]}})

    def to_dict(self) -> dict[str, Any]:
        return {"scene_shares": self.scene_shares, "attempts": self.attempts}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RunMix":
        data = data or {}
        return cls(dict(data.get("scene_shares") or {}), dict(data.get("attempts") or {}))


def mix_from_history(history: pd.DataFrame, regenerate: pd.DataFrame, market: MarketProfile) -> RunMix:
    """The mix of a new run of ``market``: scene shares per category of the pick ``history``
    (and over all categories, for categories without history yet), and a new attempt for every
    SKU in ``regenerate`` (its history rows: :meth:`catloc.history.PickHistory.to_regenerate`)."""
    if not len(history):
        return RunMix()
    scene_ids = [s["id"] for s in market.scenes]
    categories = [ALL_CATEGORIES] + sorted(history["category"].unique())
    shares = {c: scene_shares(history, None if c == ALL_CATEGORIES else c, scene_ids, market.learning)
              for c in categories}
    mix = RunMix(shares)
    for sku, rows in regenerate.groupby("sku"):
        earlier = [Candidate(candidate_id=r.candidate_id, image="", scene=r.scene, framing=r.framing,
                             attempt=int(r.attempt)) for r in rows.itertuples()]
        mix = mix.with_new_attempt(str(sku), earlier)
    return mix
