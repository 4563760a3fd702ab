"""The pick history of a market, across runs: what reviewers were shown and what they picked.

``<root>/<market>/picks.parquet`` (``root``: ``review.history`` of pipeline.yaml, default
``<out>/_history``), one row per candidate of every SKU a reviewer decided
(:data:`catloc.records.PICK_HISTORY_COLUMNS`). ``catloc picks apply`` writes it; the next runs
read it for their candidate mix (:mod:`catloc.pickrates`) and for SKUs to regenerate;
``catloc picks stats`` prints it. Applying the same SKU's decision again replaces that SKU's
rows of that run and attempt, so re-applying a picks file never counts twice.

The file is rewritten whole, atomically (:mod:`catloc.storage`); two ``picks apply`` of the
same market at the very same moment could lose one's rows (apply again to restore them).
"""
from __future__ import annotations

import io

import pandas as pd

from catloc import storage
from catloc.config import ReviewOptions
from catloc.records import PICK_HISTORY_COLUMNS

REPLACED_TOGETHER = ["run_id", "sku", "attempt"]


def history_root(out: str, review: ReviewOptions) -> str:
    """Where pick histories live: ``review.history``, or ``<out>/_history``."""
    return review.history or storage.join(str(out), "_history")


class PickHistory:
    """The pick history of one market under ``root``."""

    def __init__(self, root: str, market: str):
        self.market = market
        self.uri = storage.join(str(root), market, "picks.parquet")

    def read(self) -> pd.DataFrame:
        """Every row so far (an empty frame with the columns when there is no history yet)."""
        if not storage.exists(self.uri):
            return pd.DataFrame(columns=PICK_HISTORY_COLUMNS).astype({"attempt": "int64", "picked": "bool"})
        return pd.read_parquet(io.BytesIO(storage.read_bytes(self.uri)))

    def record(self, rows: pd.DataFrame) -> int:
        """Add ``rows``, replacing any earlier rows of the same run, SKU and attempt; returns how
        many rows the history holds now."""
        old = self.read()
        if not len(rows):
            return len(old)
        if len(old):
            replaced = old.set_index(REPLACED_TOGETHER).index.isin(rows.set_index(REPLACED_TOGETHER).index)
            old = old[~replaced]
        merged = pd.concat([old, rows[PICK_HISTORY_COLUMNS]], ignore_index=True) if len(old) else \
            rows[PICK_HISTORY_COLUMNS].reset_index(drop=True)
        buf = io.BytesIO()
        merged.to_parquet(buf, index=False)
        storage.write_bytes(self.uri, buf.getvalue())
        return len(merged)

    def to_regenerate(self) -> pd.DataFrame:
        """Every row (all runs and attempts) of the SKUs whose latest decision is "regenerate": the
        next nightly run makes new candidates for them, unlike any they have shown."""
        history = self.read()
        if not len(history):
            return history
        latest = history.sort_values(["applied_at", "attempt"]).groupby("sku").tail(1)
        return history[history["sku"].isin(latest.loc[latest["regenerate"].astype(bool), "sku"])]
