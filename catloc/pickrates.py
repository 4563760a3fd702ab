"""Pick rates: what reviewers pick, and the share of the next runs' candidates each option gets.

An *option* is one way of making a candidate: ``(recipe, persona, scene)``. Today every
candidate is a ``studio`` recipe without persona, so options differ by scene; the rule is the
same for any dimension. The counts come from the pick history (:mod:`catloc.history`): for
every candidate of a SKU a reviewer decided, one *show*, and one *pick* if it was a winner.

The rule (per market and category; see :func:`option_shares`)::

    mean     = (P + 1) / (S + 2)                      P, S: picks and shows of all options
    rate_o   = (p_o + prior * mean) / (s_o + prior)    smoothed towards the mean
    share_o  = floor + (1 - k * floor) * rate_o / sum(rate)
    floor    = min(min_share, 1 / k)                   k: number of options

An option never shown gets the mean rate; with no history at all every option gets 1/k. No
option ever falls below ``min_share`` of the mix, so every recipe keeps being tried and can
win its share back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from catloc.config import LearningBounds

OPTION_KEYS = ("recipe", "persona", "scene")


@dataclass(frozen=True)
class Option:
    """One way of making a candidate."""

    recipe: str
    persona: str
    scene: str


@dataclass(frozen=True)
class Counts:
    """How often an option was shown to reviewers and picked."""

    shown: int = 0
    picked: int = 0


def pick_counts(history: pd.DataFrame, category: str | None = None) -> dict[Option, Counts]:
    """Shows and picks per option in ``history`` (rows of :data:`catloc.records.PICK_HISTORY_COLUMNS`),
    of one ``category`` (``None``: all categories together)."""
    rows = history if category is None else history[history["category"] == category]
    counts: dict[Option, Counts] = {}
    for key, group in rows.groupby(list(OPTION_KEYS), sort=True):
        counts[Option(*key)] = Counts(shown=len(group), picked=int(group["picked"].astype(bool).sum()))
    return counts


def option_shares(counts: dict[Option, Counts], options: Iterable[Option],
                  bounds: LearningBounds) -> dict[Option, float]:
    """The share of the next candidates each of ``options`` gets (the module's rule); sums to 1.

    Options in ``counts`` that are not in ``options`` (a scene since removed from the market)
    count towards the mean only.
    """
    options = list(options)
    if not options:
        return {}
    total_shown = sum(c.shown for c in counts.values())
    mean = (sum(c.picked for c in counts.values()) + 1) / (total_shown + 2)
    rates = {o: smoothed_rate(counts.get(o, Counts()), mean, bounds.prior) for o in options}
    floor = min(bounds.min_share, 1.0 / len(options))
    total = sum(rates.values())
    return {o: floor + (1.0 - len(options) * floor) * rate / total for o, rate in rates.items()}


def smoothed_rate(seen: Counts, mean: float, prior: float) -> float:
    """``seen``'s pick rate pulled towards ``mean`` as if ``prior`` more shows had had that rate."""
    if seen.shown + prior == 0:
        return mean
    return (seen.picked + prior * mean) / (seen.shown + prior)


def scene_shares(history: pd.DataFrame, category: str | None, scene_ids: list[str], bounds: LearningBounds,
                 recipe: str = "studio", persona: str = "") -> dict[str, float]:
    """:func:`option_shares` over the scene dimension (one ``recipe`` and ``persona``), keyed by scene id."""
    counts = pick_counts(history, category)
    shares = option_shares(counts, [Option(recipe, persona, s) for s in scene_ids], bounds)
    return {option.scene: share for option, share in shares.items()}


def pick_rate_table(history: pd.DataFrame, scene_ids: list[str], bounds: LearningBounds) -> pd.DataFrame:
    """One row per category x option the market offers (``scene_ids``, as studio recipes) or
    ``history`` holds: shown, picked, raw pick rate and the share the next run gives it (none
    for an option the market no longer offers)."""
    rows = []
    categories = sorted(history["category"].unique()) if len(history) else []
    offered = [Option("studio", "", s) for s in scene_ids]
    for category in categories:
        counts = pick_counts(history, category)
        shares = option_shares(counts, offered, bounds)
        for option in offered + sorted(set(counts) - set(offered), key=lambda o: (o.recipe, o.persona, o.scene)):
            seen = counts.get(option, Counts())
            rows.append({"category": category, "recipe": option.recipe, "persona": option.persona,
                         "scene": option.scene, "shown": seen.shown, "picked": seen.picked,
                         "pick_rate": round(seen.picked / seen.shown, 3) if seen.shown else None,
                         "next_share": round(shares[option], 3) if option in shares else None})
    return pd.DataFrame(rows, columns=["category", "recipe", "persona", "scene", "shown", "picked",
                                       "pick_rate", "next_share"])

