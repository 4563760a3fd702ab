"""``catloc picks apply``: publish the winners reviewers picked, and remember the picks.

1. Read the picks file and check it against the run (:mod:`catloc.picks`): any problem stops
   here with every problem listed, and nothing is written anywhere.
2. For each SKU the file decides, its winners (best rank first) are encoded per the market's
   ``publish`` profile (format, longer side, quality) and written to
   ``<publish>/<sku-key>/<market>_<n>.<ext>``, ``n`` = 1, 2, 3. A file already holding the same
   bytes is left alone; that SKU's other images of the market there are removed (a changed
   pick replaces exactly that SKU's images; a SKU with no winner any more has none).
3. ``published.parquet|csv`` of the run: one row per published image
   (:data:`~catloc.records.PUBLISHED_COLUMNS`); rows of SKUs the file does not decide are kept.
4. ``picks/applied.json`` (the decision per SKU, which ``catloc rerun --rejected`` reads) and
   a copy of the file in ``picks/``; the market's pick history (:mod:`catloc.history`).

Publishing the same file twice writes nothing new: same images, same manifest, same times.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
from typing import Any

import pandas as pd
from PIL import Image

from catloc import storage
from catloc.config import MarketProfile, PublishProfile, load_market, load_pipeline_config
from catloc.history import PickHistory, history_root
from catloc.picks import SkuDecision, decide, read_picks
from catloc.records import PICK_HISTORY_COLUMNS, PUBLISHED_COLUMNS, sku_key
from catloc.runfolder import RunFolder
from catloc.tasks.export import write_table

PIL_FORMATS = {"jpg": ("JPEG", {"optimize": True}), "webp": ("WEBP", {"method": 4}), "png": ("PNG", {"optimize": True})}


def publish_bytes(data: bytes, profile: PublishProfile) -> tuple[bytes, int, int]:
    """An encoded candidate as the market publishes it: (bytes, width, height); never upscaled."""
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")
        im.thumbnail((profile.max_side, profile.max_side), Image.Resampling.LANCZOS)
        fmt, extra = PIL_FORMATS[profile.format]
        buf = io.BytesIO()
        im.save(buf, format=fmt, **({"quality": profile.quality} if fmt != "PNG" else {}), **extra)
        return buf.getvalue(), im.width, im.height


def published_name(market: str, n: int, profile: PublishProfile) -> str:
    return f"{market}_{n}.{profile.format}"


def publish_sku(folder: RunFolder, decision: SkuDecision, review: pd.DataFrame, market: MarketProfile,
                dest: str, earlier: dict[str, dict[str, Any]], now: str) -> tuple[list[dict[str, Any]], int]:
    """Write one SKU's winners under ``dest`` (see the module docstring); returns its manifest rows
    and how many files it wrote. ``earlier``: the run's manifest rows by published URI."""
    rows, written, target = [], 0, storage.join(dest, sku_key(decision.sku))
    by_id = review.set_index("candidate_id")
    for n, candidate_id in enumerate(decision.picks, start=1):
        cand = by_id.loc[candidate_id]
        data, width, height = publish_bytes(storage.read_bytes(folder.file(cand["image"])), market.publish)
        uri = storage.join(target, published_name(market.code, n, market.publish))
        checksum = hashlib.sha256(data).hexdigest()
        same = storage.exists(uri) and hashlib.sha256(storage.read_bytes(uri)).hexdigest() == checksum
        if not same:
            storage.write_bytes(uri, data)
            written += 1
        before = earlier.get(uri, {})
        rows.append({"run_id": folder.run_id, "market": market.code, "sku": decision.sku, "position": n,
                     "candidate_id": candidate_id, "attempt": int(cand["attempt"]),
                     "source_image": cand["source_image"], "candidate_image": cand["image"], "recipe": cand["recipe"], "scene": cand["scene"],
                     "seed": int(cand["seed"]), "published_uri": uri, "checksum": checksum,
                     "format": market.publish.format, "width": width, "height": height, "bytes": len(data),
                     "published_at": before["published_at"] if same and before.get("checksum") == checksum else now})
    return rows, written


def remove_unpicked(dest: str, sku: str, market: str, keep: set[str]) -> int:
    """Remove ``sku``'s published images of ``market`` under ``dest`` that are not in ``keep``."""
    own = re.compile(rf"{re.escape(market)}_\d+\.(jpg|webp|png)$")
    stale = [u for u in storage.list_files(storage.join(dest, sku_key(sku)), f"{market}_*")
             if own.fullmatch(u.replace("\\", "/").rsplit("/", 1)[-1]) and u not in keep]
    for uri in stale:
        storage.remove(uri)
    return len(stale)


def read_manifest(folder: RunFolder) -> pd.DataFrame:
    if not folder.has_table("published"):
        return pd.DataFrame(columns=PUBLISHED_COLUMNS)
    return pd.read_parquet(io.BytesIO(folder.read_table_bytes("published")))


def publish_decisions(folder: RunFolder, decisions: list[SkuDecision], review: pd.DataFrame,
                      market: MarketProfile, dest: str, now: str) -> dict[str, int]:
    """Publish every decided SKU and rewrite the run's manifest; returns counts of files."""
    manifest = read_manifest(folder)
    earlier = {row["published_uri"]: row for row in manifest.to_dict("records")}
    decided = {d.sku for d in decisions}
    rows = [row for row in manifest.to_dict("records") if row["sku"] not in decided]
    written = removed = 0
    for decision in decisions:
        new, n_written = publish_sku(folder, decision, review[review["sku"] == decision.sku], market, dest,
                                     earlier, now)
        removed += remove_unpicked(dest, decision.sku, market.code, {r["published_uri"] for r in new})
        rows, written = rows + new, written + n_written
    frame = pd.DataFrame(rows, columns=PUBLISHED_COLUMNS).sort_values(["sku", "position"], kind="stable")
    write_table(frame.astype({"position": "int64", "attempt": "int64", "seed": "int64", "width": "int64",
                              "height": "int64", "bytes": "int64"}), folder, "published")
    return {"images": len(frame), "written": written, "removed": removed}


def history_rows(decisions: list[SkuDecision], review: pd.DataFrame, run_id: str, market: str,
                 now: str) -> pd.DataFrame:
    """Pick history rows of the SKUs decided (a winner, or regenerate): every candidate of the
    attempts the decision concerns, with whether it was picked."""
    rows = []
    for d in (d for d in decisions if d.picks or d.regenerate):
        shown = review[review["sku"] == d.sku]
        attempts = {d.attempt} | set(shown.loc[shown["candidate_id"].isin(d.picks), "attempt"].astype(int))
        for cand in shown[shown["attempt"].isin(attempts)].itertuples(index=False):
            rows.append({"market": market, "run_id": run_id, "sku": d.sku, "category": cand.category,
                         "attempt": int(cand.attempt), "candidate_id": cand.candidate_id, "recipe": cand.engine,
                         "persona": "", "scene": cand.scene, "framing": cand.framing, "seed": int(cand.seed),
                         "picked": cand.candidate_id in d.picks,
                         "regenerate": bool(d.regenerate and cand.attempt == d.attempt), "applied_at": now})
    return pd.DataFrame(rows, columns=PICK_HISTORY_COLUMNS)


def apply_picks(run_id: str, picks: str, publish: str, out: str = "review_exports", allow_failed: bool = False,
                now: dt.datetime | None = None) -> dict[str, Any]:
    """Check ``picks`` (a file or URI) against run ``run_id`` under ``out``, publish its winners to
    ``publish`` (a folder or ``s3://`` URI) and record the decisions (the module docstring's steps).
    Raises :class:`~catloc.picks.PicksError` (every problem listed) or ``ValueError``."""
    folder = RunFolder(str(out), run_id)
    if not folder.exists() or not folder.has_table("review"):
        raise ValueError(f"no finished run {run_id!r} under {out} (run.json and review.parquet are needed)")
    info = folder.read_info()
    cfg = load_pipeline_config(info.get("config"))
    market = load_market(info["market"], cfg)
    storage.configure(cfg.storage_options)
    try:
        data = storage.read_bytes(picks)
    except FileNotFoundError:
        raise ValueError(f"picks file not found: {picks}") from None
    review = pd.read_parquet(io.BytesIO(folder.read_table_bytes("review")))
    if "attempt" not in review:  # a sheet written before attempts existed: every candidate is a first one
        review["attempt"] = 0
    name = os.path.basename(str(picks).rstrip("/")) or "picks.csv"
    rows, problems = read_picks(data, name)
    decisions = decide(rows, review, run_id, max_picks=market.publish.max_picks, allow_failed=allow_failed,
                       source=name, problems=problems)
    when = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    dest = publish if storage.is_remote(publish) else os.path.abspath(publish)
    counts = publish_decisions(folder, decisions, review, market, dest, when)
    folder.write_applied({**folder.read_applied(), **{d.sku: {**d.to_dict(), "applied_at": when, "file": name}
                                                       for d in decisions}})
    folder.keep_picks_file(re.sub(r"[^0-9T]", "", when)[:15], name, data)
    history = PickHistory(history_root(out, cfg.review), market.code)
    history.record(history_rows(decisions, review, run_id, market.code, when))
    return {"run_id": run_id, "market": market.code, "skus": len(decisions), **counts,
            "picks": sum(len(d.picks) for d in decisions), "regenerate": [d.sku for d in decisions if d.regenerate],
            "manifest": folder.file("published.parquet"), "publish": dest, "history": history.uri}
