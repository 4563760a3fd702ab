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

from catloc import storage
from catloc.records import REVIEW_COLUMNS, STATUS_COLUMNS, SkuRecord
from catloc.runfolder import RunFolder

SKUS_PER_PAGE = 20
THUMB = 180


def review_rows(records: list[SkuRecord], folder: RunFolder, market: str) -> pd.DataFrame:
    rows = []
    for rec in records:
        for cand in sorted(rec.candidates, key=lambda c: c.rank):
            rows.append({
                "run_id": folder.run_id, "sku": rec.sku, "market": market,
                "candidate_id": cand.candidate_id, "rank": cand.rank, "recipe": cand.recipe,
                "seed": cand.seed, "image": folder.relative(cand.image),
                "qc_pass": bool(cand.qc_pass), "qc_reasons": cand.qc_reasons,
                "product_fidelity": cand.product_fidelity, "residual_text": cand.residual_text,
                "engine": cand.engine, "scene": cand.scene, "framing": cand.framing,
                "width": cand.width, "height": cand.height,
                "source_image": folder.relative(rec.source_image), "cleaned_image": folder.relative(rec.cleaned_image),
                "title": rec.title, "category": rec.category, "pick": "",
                "mask_confidence": (rec.analysis or {}).get("mask_confidence"),
                "text_lost": len(cand.text_lost), "residue": len(cand.residue), "duplicate_of": cand.duplicate_of,
            })
    frame = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
    return frame.astype({"rank": "Int64", "seed": "Int64", "residual_text": "Int64", "width": "Int64",
                         "height": "Int64", "product_fidelity": "float64", "qc_pass": "bool",
                         "mask_confidence": "float64", "text_lost": "Int64", "residue": "Int64"})


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
            "text_kept": report.get("text_kept"), "qr_removed": report.get("qr_removed"),
            **analysis_columns(rec),
        })
    frame = pd.DataFrame(rows, columns=STATUS_COLUMNS)
    return frame.astype({"n_candidates": "int64", "n_passed": "int64", "seconds": "float64", "row": "Int64",
                         "priority": "Int64", "text_found": "Int64", "text_removed": "Int64",
                         "text_kept": "Int64", "qr_removed": "Int64", "mask_confidence": "float64"})


def analysis_columns(rec: SkuRecord) -> dict[str, Any]:
    """The status columns from the SKU's analysis: mask confidence, its reasons, and the reason the
    cut-outs were skipped (the ``original`` candidate's ``cut-outs skipped`` warning), if they were."""
    analysis = rec.analysis or {}
    skipped = next((part for c in rec.candidates if c.kind == "original"
                    for part in c.qc_reasons.split("; ") if part.startswith("cut-outs skipped")), "")
    return {"mask_confidence": analysis.get("mask_confidence"), "mask_reasons": "; ".join(analysis.get("mask_reasons") or []),
            "cutouts_skipped": skipped}


def write_table(frame: pd.DataFrame, folder: RunFolder, name: str) -> tuple[str, str]:
    """``<name>.parquet`` and ``<name>.csv`` in the run folder."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return folder.write_table(name, buf.getvalue(), frame.to_csv(index=False))


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
        cells += [(c.image, f"#{c.rank} {c.scene}"[:26], c) for c in sorted(rec.candidates, key=lambda c: c.rank)]
        for k, (uri, label, cand) in enumerate(cells):
            if not uri:
                continue
            im = _thumb(uri)
            x = label_w + k * cell
            if im is not None:
                sheet.paste(im, (x + (cell - im.width) // 2, top + (cell - im.height) // 2))
            draw.text((x + 4, top + cell), label, fill="black", font=small)
            if cand is not None:
                ok = cand.qc_pass
                verdict = "PASS" if ok else "FAIL: " + (cand.qc_reasons or "")[:20]
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


def export_sheets(folder: RunFolder, market: str, contact_sheet: bool = True) -> dict[str, Any]:
    """Write the review and status sheets (and the contact sheet pages) from every SKU record of
    the run folder, so the rows of SKUs this run did not touch are never lost; return their URIs."""
    records = folder.records()
    review = review_rows(records, folder, market)
    status = status_rows(records, folder)
    review_files = write_table(review, folder, "review")
    status_files = write_table(status, folder, "status")
    pages = []
    n_pages = max(1, math.ceil(len(records) / SKUS_PER_PAGE))
    for p in range(n_pages if contact_sheet else 0):
        chunk = records[p * SKUS_PER_PAGE:(p + 1) * SKUS_PER_PAGE]
        if not chunk:
            break
        page = render_contact_sheet(chunk, f"catloc run {folder.run_id} - market {market} - page {p + 1}/{n_pages}")
        pages.append(folder.write_page(p + 1, storage.encode_jpeg(page, quality=85)))
    return {"review": list(review_files), "status": list(status_files), "contact_sheets": pages,
            "counts": {k: int(v) for k, v in status["status"].value_counts().items()}}
