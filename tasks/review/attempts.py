"""Attempts: which candidates a run makes for which SKU (its candidate mix), new attempts for
SKUs reviewers rejected whole ("reject all — regenerate"), and the record keeping them all.

A SKU marked for regeneration gets a new attempt (see :mod:`catloc.tasks.mix`: new seeds,
scenes and framings it has not shown first) either by ``catloc rerun RUN_ID --rejected`` (in
the same run folder, where its earlier candidates stay in its record, review sheet and page)
or by the next nightly run of its market (from the pick history). The mix is kept in
``run.json`` so resuming or rerunning a run makes the same candidates again.
"""
from __future__ import annotations

from typing import Any

from catloc.config import MarketProfile, ReviewOptions
from catloc.history import PickHistory
from catloc.records import SkuRecord
from catloc.runfolder import RunFolder
from catloc.tasks.mix import RunMix, mix_from_history
from catloc.tasks.review.thumbs import ensure_thumbs


def run_mix(folder: RunFolder, history: PickHistory, market: MarketProfile, skus: list[str]) -> RunMix:
    """The mix of a nightly run: the one ``run.json`` recorded (a resumed run), else one made from
    the market's pick history, with a new attempt for each of ``skus`` marked for regeneration."""
    if folder.exists():
        stored = folder.read_info().get("mix")
        if stored is not None:
            return RunMix.from_dict(stored)
    regenerate = history.to_regenerate()
    if len(regenerate):
        regenerate = regenerate[regenerate["sku"].isin(skus)]
    return mix_from_history(history.read(), regenerate, market)


def marked_for_regeneration(applied: dict[str, dict[str, Any]], records: list[SkuRecord]) -> list[str]:
    """SKUs whose applied decision (``picks/applied.json``) is "regenerate" for the attempt their
    record shows now (a SKU already regenerated since is not marked again)."""
    attempts = {r.sku: r.attempt for r in records if r.candidates}
    return [sku for sku, d in applied.items()
            if d.get("regenerate") and sku in attempts and int(d.get("attempt", 0)) == attempts[sku]]


def mix_with_new_attempts(mix: RunMix, records: list[SkuRecord], skus: list[str]) -> RunMix:
    """``mix`` with the next attempt for each of ``skus``, after every candidate its record holds."""
    by_sku = {r.sku: r for r in records}
    for sku in skus:
        mix = mix.with_new_attempt(sku, by_sku[sku].candidates)
    return mix


def finish_record(folder: RunFolder, record: SkuRecord, attempt: int, stage_seconds: dict[str, float],
                  options: ReviewOptions) -> SkuRecord:
    """``record`` (just processed, not yet written) as the review day needs it: its attempt, the
    seconds of each stage, the candidates of its earlier attempts kept from the stored record,
    and its thumbnails (the export makes any this could not)."""
    record.attempt, record.stage_seconds = attempt, dict(stage_seconds)
    stored = folder.read_record(record.sku)
    if attempt and stored is not None:
        record.candidates = [c for c in stored.candidates if c.attempt < attempt] + record.candidates
    try:
        ensure_thumbs(folder, record, options, recheck=True)
    except Exception:  # noqa: BLE001 - a thumbnail never fails a SKU; the export makes it later
        pass
    return record
