"""Stage 6, export: the review sheets reviewers pick winners from.

Writes, all atomically, under the run folder:

- ``review.parquet`` / ``review.csv``: one row per candidate (``REVIEW_COLUMNS``);
- ``status.parquet`` / ``status.csv``: one row per SKU (``STATUS_COLUMNS``).

Image columns hold paths relative to the run folder. The review page (``index.html``) that
replaced the JPEG contact sheets is :mod:`catloc.tasks.review.page`.
"""
from __future__ import annotations

import io
from typing import Any

import pandas as pd

from catloc.records import REVIEW_COLUMNS, STATUS_COLUMNS, SkuRecord
from catloc.runfolder import RunFolder


def review_rows(records: list[SkuRecord], folder: RunFolder, market: str) -> pd.DataFrame:
    rows = []
    for rec in records:
        for cand in sorted(rec.candidates, key=lambda c: (c.attempt, c.rank)):
            rows.append({
                "run_id": folder.run_id, "sku": rec.sku, "market": market,
                "candidate_id": cand.candidate_id, "rank": cand.rank, "recipe": cand.recipe,
                "seed": cand.seed, "image": folder.relative(cand.image),
                "qc_pass": bool(cand.qc_pass), "qc_reasons": cand.qc_reasons,
                "product_fidelity": cand.product_fidelity, "residual_text": cand.residual_text,
                "engine": cand.engine, "scene": cand.scene, "framing": cand.framing,
                "width": cand.width, "height": cand.height,
                "source_image": folder.relative(rec.source_image), "cleaned_image": folder.relative(rec.cleaned_image),
                "title": rec.title, "category": rec.category, "pick": "", "attempt": cand.attempt,
            })
    frame = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    return frame.astype({"rank": "Int64", "seed": "Int64", "residual_text": "Int64", "width": "Int64",
                         "height": "Int64", "product_fidelity": "float64", "qc_pass": "bool", "attempt": "Int64"})


def status_rows(records: list[SkuRecord], folder: RunFolder) -> pd.DataFrame:
    rows = []
    for rec in records:
        report = rec.clean_report or {}
        rows.append({
            "run_id": folder.run_id, "sku": rec.sku, "status": rec.status, "stage": rec.stage, "error": rec.error,
            "source_image": folder.relative(rec.source_image), "cleaned_image": folder.relative(rec.cleaned_image),
            "n_candidates": len(rec.candidates), "n_passed": sum(bool(c.qc_pass) for c in rec.candidates),
            "seconds": round(float(rec.seconds), 2), "row": rec.row, "title": rec.title, "category": rec.category,
            "priority": rec.priority, "text_found": report.get("text_found"), "text_removed": report.get("text_removed"),
            "text_kept": report.get("text_kept"), "qr_removed": report.get("qr_removed"), "attempt": rec.attempt,
        })
    frame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    return frame.astype({"n_candidates": "int64", "n_passed": "int64", "seconds": "float64", "row": "Int64",
                         "priority": "Int64", "text_found": "Int64", "text_removed": "Int64",
                         "text_kept": "Int64", "qr_removed": "Int64", "attempt": "int64"})


def write_table(frame: pd.DataFrame, folder: RunFolder, name: str) -> tuple[str, str]:
    """``<name>.parquet`` and ``<name>.csv`` in the run folder."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return folder.write_table(name, buf.getvalue(), frame.to_csv(index=False))


def export_sheets(folder: RunFolder, market: str) -> dict[str, Any]:
    """Write the review and status sheets from every SKU record of the run folder, so the rows of
    SKUs this run did not touch are never lost; return their URIs and the counts by status."""
    records = folder.records()
    review_files = write_table(review_rows(records, folder, market), folder, "review")
    status = status_rows(records, folder)
    status_files = write_table(status, folder, "status")
    return {"review": list(review_files), "status": list(status_files),
            "counts": {k: int(v) for k, v in status["status"].value_counts().items()}}
