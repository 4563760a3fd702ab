"""The review page: ``index.html`` in the run folder, one static file reviewers open anywhere.

The page embeds the run's data as JSON and its CSS and JavaScript (``assets/``), and names
images by paths relative to the run folder, so it works from disk (``file://``), from a web
server and from object storage alike, with no server of ours and nothing fetched from
elsewhere. Thumbnails (:mod:`.thumbs`) keep it fast with hundreds of SKUs; Enter opens the
full-size candidate.
"""
from __future__ import annotations

import datetime as dt
import html
import json
from functools import lru_cache
from importlib import resources
from typing import Any

from catloc.config import MarketProfile, ReviewOptions
from catloc.outputs import ScoredCandidate
from catloc.records import SkuRecord
from catloc.runfolder import RunFolder
from catloc.tasks.review.thumbs import ensure_thumbs


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of ``assets/<name>`` (shipped as package data)."""
    return resources.files("catloc.tasks.review").joinpath("assets", name).read_text(encoding="utf-8")


def _image(uri: str, folder: RunFolder, thumbs: dict[str, str]) -> dict[str, str] | None:
    rel = folder.relative(uri)
    return {"image": rel, "thumb": thumbs.get(rel, "")} if rel else None


def _candidate(c: ScoredCandidate, folder: RunFolder, thumbs: dict[str, str]) -> dict[str, Any]:
    return {"id": c.candidate_id, "rank": c.rank, "attempt": c.attempt, **_image(c.image, folder, thumbs),
            "pass": bool(c.qc_pass), "reasons": c.qc_reasons, "scene": c.scene, "framing": c.framing}


def sku_entry(record: SkuRecord, folder: RunFolder, thumbs: dict[str, str]) -> dict[str, Any]:
    """One SKU as the page shows it: the newest attempt's candidates by rank, earlier ones apart."""
    ordered = sorted(record.candidates, key=lambda c: (c.attempt, c.rank))
    return {
        "sku": record.sku, "title": record.title, "category": record.category, "status": record.status,
        "stage": record.stage, "error": record.error, "attempt": record.attempt,
        "source": _image(record.source_image, folder, thumbs), "cleaned": _image(record.cleaned_image, folder, thumbs),
        "candidates": [_candidate(c, folder, thumbs) for c in ordered if c.attempt == record.attempt],
        "earlier": [_candidate(c, folder, thumbs) for c in ordered if c.attempt < record.attempt],
    }


def page_data(records: list[SkuRecord], folder: RunFolder, market: MarketProfile,
              thumbs: dict[str, dict[str, str]], generated: str) -> dict[str, Any]:
    """What the page embeds: the run, the market's pick limit and every SKU (``thumbs``: per SKU,
    ``{image: thumbnail}``)."""
    return {"run_id": folder.run_id, "market": market.code, "market_name": market.name,
            "max_picks": market.publish.max_picks, "generated": generated,
            "storage_key": f"catloc-review:{folder.run_id}:{market.code}",
            "skus": [sku_entry(r, folder, thumbs.get(r.sku, {})) for r in records]}


def embed_json(data: Any) -> str:
    """``data`` as JSON that cannot end the ``<script>`` element holding it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(data: dict[str, Any]) -> str:
    """The whole ``index.html``: the template with its style, script and ``data`` put in."""
    title = html.escape(f"catloc review: {data['run_id']} ({data['market']})")
    return (asset("page.html").replace("<!--catloc:title-->", title)
            .replace("/*catloc:style*/", asset("page.css"))
            .replace("/*catloc:script*/", asset("page.js"))
            .replace("<!--catloc:data-->", embed_json(data)))


def write_review_page(folder: RunFolder, market: MarketProfile, options: ReviewOptions,
                      now: dt.datetime | None = None) -> str:
    """Make the thumbnails the run's SKU records lack and write ``index.html``; returns its URI."""
    records = folder.records()
    thumbs = {r.sku: ensure_thumbs(folder, r, options, recheck=False) for r in records}
    generated = (now or dt.datetime.now()).isoformat(timespec="minutes")
    return folder.write_review_page(render_page(page_data(records, folder, market, thumbs, generated)))
