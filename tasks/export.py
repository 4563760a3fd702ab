"""Stage 6, export: the review sheets reviewers pick winners from.

Writes, all atomically, under the run folder:

- ``review.parquet`` / ``review.csv``: one row per candidate (``REVIEW_COLUMNS``);
- ``status.parquet`` / ``status.csv``: one row per SKU (``STATUS_COLUMNS``);
- ``contact_sheet-NNN.jpg``: pages of SKUs, each row the source, the cleaned image and the
  candidates in rank order with their QC verdict.

Image columns hold paths relative to the run folder.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont
from prefect import task
from prefect.cache_policies import NO_CACHE

from catloc import storage
from catloc.records import REVIEW_COLUMNS, STATUS_COLUMNS, SkuRecord

SKUS_PER_PAGE = 20
THUMB = 180


def review_rows(records: list[SkuRecord], run_id: str, market: str, run_uri: str) -> pd.DataFrame:
    rows = []
    for rec in records:
        for cand in sorted(rec.candidates, key=lambda c: c.get("rank", 0)):
            rows.append({
                "run_id": run_id, "sku": rec.sku, "market": market,
                "candidate_id": cand["candidate_id"], "rank": cand.get("rank"), "recipe": cand.get("recipe", ""),
                "seed": cand.get("seed"), "image": storage.relative_to(cand["image"], run_uri),
                "qc_pass": bool(cand.get("qc_pass")), "qc_reasons": cand.get("qc_reasons", ""),
                "product_fidelity": cand.get("product_fidelity"), "residual_text": cand.get("residual_text"),
                "engine": cand.get("engine", ""), "scene": cand.get("scene", ""), "framing": cand.get("framing", ""),
                "width": cand.get("width"), "height": cand.get("height"),
                "source_image": storage.relative_to(rec.source_image, run_uri) if rec.source_image else "",
                "cleaned_image": storage.relative_to(rec.cleaned_image, run_uri) if rec.cleaned_image else "",
                "title": rec.title, "category": rec.category, "pick": "",
            })
    frame = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    return frame.astype({"rank": "Int64", "seed": "Int64", "residual_text": "Int64", "width": "Int64",
                         "height": "Int64", "product_fidelity": "float64", "qc_pass": "bool"})


def status_rows(records: list[SkuRecord], run_id: str, run_uri: str) -> pd.DataFrame:
    rows = []
    for rec in records:
        report = rec.clean_report or {}
        rows.append({
            "run_id": run_id, "sku": rec.sku, "status": rec.status, "stage": rec.stage, "error": rec.error,
            "source_image": storage.relative_to(rec.source_image, run_uri) if rec.source_image else "",
            "cleaned_image": storage.relative_to(rec.cleaned_image, run_uri) if rec.cleaned_image else "",
            "n_candidates": len(rec.candidates), "n_passed": sum(bool(c.get("qc_pass")) for c in rec.candidates),
            "seconds": round(float(rec.seconds), 2), "row": rec.row, "title": rec.title, "category": rec.category,
            "priority": rec.priority, "text_found": report.get("text_found"), "text_removed": report.get("text_removed"),
            "text_kept": report.get("text_kept"), "qr_removed": report.get("qr_removed"),
        })
    frame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    return frame.astype({"n_candidates": "int64", "n_passed": "int64", "seconds": "float64", "row": "Int64",
                         "priority": "Int64", "text_found": "Int64", "text_removed": "Int64",
                         "text_kept": "Int64", "qr_removed": "Int64"})


def write_table(frame: pd.DataFrame, run_uri: str, name: str) -> tuple[str, str]:
    """``<name>.parquet`` and ``<name>.csv`` in the run folder, each written atomically."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    parquet = storage.write_bytes(storage.join(run_uri, f"{name}.parquet"), buf.getvalue())
    csv = storage.write_text(storage.join(run_uri, f"{name}.csv"), frame.to_csv(index=False))
    return parquet, csv


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def _thumb(uri: str) -> Image.Image | None:
    try:
        im = Image.fromarray(storage.load_rgb(uri))
    except Exception:
        return None
    im.thumbnail((THUMB, THUMB))
    return im


def render_contact_sheet(records: list[SkuRecord], title: str) -> np.ndarray:
    """One page: a row per SKU (label, source, cleaned, candidates by rank with QC verdict)."""
    n_cols = 2 + max([len(r.candidates) for r in records] + [1])
    label_w, cell, caption = 230, THUMB + 10, 34
    width = label_w + n_cols * cell
    height = 50 + len(records) * (cell + caption)
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    big, small = _font(20), _font(13)
    draw.text((10, 12), title, fill="black", font=big)
    for i, rec in enumerate(records):
        top = 50 + i * (cell + caption)
        colour = {"done": (20, 120, 40), "failed": (190, 30, 30)}.get(rec.status, (150, 110, 0))
        draw.text((10, top + 5), rec.sku[:28], fill="black", font=_font(16))
        draw.text((10, top + 28), rec.status.upper() + (f" at {rec.stage}" if rec.status == "failed" else ""),
                  fill=colour, font=small)
        lines = [rec.title[:30], rec.category[:30]] if rec.status == "done" else _wrap(rec.error, 34)[:8]
        for j, line in enumerate(lines):
            draw.text((10, top + 48 + j * 16), line, fill=(80, 80, 80) if rec.status == "done" else colour, font=small)
        cells = [(rec.source_image, "source", None), (rec.cleaned_image, "cleaned", None)]
        cells += [(c["image"], f"#{c.get('rank')} {c.get('scene', '')}"[:26], c) for c in
                  sorted(rec.candidates, key=lambda c: c.get("rank", 0))]
        for k, (uri, label, cand) in enumerate(cells):
            if not uri:
                continue
            im = _thumb(uri)
            x = label_w + k * cell
            if im is not None:
                sheet.paste(im, (x + (cell - im.width) // 2, top + (cell - im.height) // 2))
            draw.text((x + 4, top + cell), label, fill="black", font=small)
            if cand is not None:
                ok = cand.get("qc_pass")
                verdict = "PASS" if ok else "FAIL: " + (cand.get("qc_reasons") or "")[:20]
                draw.text((x + 4, top + cell + 15), verdict, fill=(20, 120, 40) if ok else (190, 30, 30), font=small)
    return np.asarray(sheet)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = (text or "").split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def collect_records(run_uri: str) -> list[SkuRecord]:
    """Every SKU record of a run folder (``skus/*/record.json``, ``rejected/*.json``), in catalog order."""
    records = []
    for uri in storage.list_files(storage.join(run_uri, "skus"), "*/record.json") + \
            storage.list_files(storage.join(run_uri, "rejected"), "*.json"):
        records.append(SkuRecord.from_dict(storage.read_json(uri)))
    return sorted(records, key=lambda r: (r.row if r.row is not None else 1 << 30, r.sku))


def export_review(records: list[SkuRecord], run_uri: str, run_id: str, market: str,
                  contact_sheet: bool = True) -> dict[str, Any]:
    """Write the review and status sheets (and the contact sheet pages); return their URIs."""
    review = review_rows(records, run_id, market, run_uri)
    status = status_rows(records, run_id, run_uri)
    review_files = write_table(review, run_uri, "review")
    status_files = write_table(status, run_uri, "status")
    pages = []
    n_pages = max(1, math.ceil(len(records) / SKUS_PER_PAGE))
    for p in range(n_pages if contact_sheet else 0):
        chunk = records[p * SKUS_PER_PAGE:(p + 1) * SKUS_PER_PAGE]
        if not chunk:
            break
        page = render_contact_sheet(chunk, f"catloc run {run_id} - market {market} - page {p + 1}/{n_pages}")
        pages.append(storage.write_bytes(storage.join(run_uri, f"contact_sheet-{p + 1:03d}.jpg"),
                                         storage.encode_jpeg(page, quality=85)))
    return {"review": list(review_files), "status": list(status_files), "contact_sheets": pages,
            "counts": {k: int(v) for k, v in status["status"].value_counts().items()}}


@task(name="export", cache_policy=NO_CACHE)
def export_task(run_uri: str, run_id: str, market: str, contact_sheet: bool = True) -> dict[str, Any]:
    """Rebuild the sheets from every SKU record in the run folder (other SKUs' rows are never lost)."""
    return export_review(collect_records(run_uri), run_uri, run_id, market, contact_sheet)
