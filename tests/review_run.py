"""A run folder as the pipeline leaves it, without running the pipeline: drawn images, SKU
records, the sheets and the review page made by the real export code. For the review page's
tests and ``bench/review_page.py``."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from catloc import storage
from catloc.config import load_market, load_pipeline_config
from catloc.outputs import ScoredCandidate
from catloc.records import SkuRecord
from catloc.runfolder import RunFolder
from catloc.tasks.export import export_sheets
from catloc.tasks.review.page import write_review_page

RESIDUAL = "residual text outside the product: 1 ('VX: shop123')"
EDGE = "product touches the source photo edge (bottom): it may be cropped"


def drawn_product(side: int, seed: int, backdrop: tuple[int, int, int]) -> np.ndarray:
    """A ``side`` x ``side`` photo: a garment-like shape with a print on a soft backdrop (PNG-sized
    like a candidate, with texture so its thumbnail is not trivially small)."""
    rng = np.random.default_rng(seed)
    image = np.empty((side, side, 3), np.float32)
    image[:] = backdrop
    image += np.linspace(0, -25, side, dtype=np.float32)[:, None, None]
    im = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    colour = tuple(int(c) for c in rng.integers(30, 220, 3))
    s = side / 100
    draw.polygon([(30 * s, 20 * s), (70 * s, 20 * s), (88 * s, 35 * s), (78 * s, 45 * s), (70 * s, 40 * s),
                  (70 * s, 85 * s), (30 * s, 85 * s), (30 * s, 40 * s), (22 * s, 45 * s), (12 * s, 35 * s)], fill=colour)
    draw.ellipse([42 * s, 40 * s, 58 * s, 56 * s], fill=tuple(255 - c for c in colour))
    noise = rng.normal(0, 6, (side, side, 1)).astype(np.float32)
    return np.clip(np.asarray(im, np.float32) + noise, 0, 255).astype(np.uint8)


def photo(photos: tuple[str, ...], k: int, side: int) -> np.ndarray:
    """Real photo number ``k`` (cycling) with its longer side brought to ``side`` px."""
    with Image.open(photos[k % len(photos)]) as im:
        im = im.convert("RGB")
        scale = side / max(im.size)
        return np.asarray(im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS))


def _candidates(folder: RunFolder, sku: str, i: int, n: int, side: int, scenes: list[dict],
                photos: tuple[str, ...]) -> list[ScoredCandidate]:
    out = []
    for j in range(n):
        scene = scenes[j % len(scenes)]
        backdrop = tuple(int(scene["colors"][0][k:k + 2], 16) for k in (1, 3, 5))
        image = photo(photos, i * n + j, side) if photos else drawn_product(side, i, backdrop)
        uri = storage.save_image(folder.sku(sku).file("candidates", f"c{j + 1:02d}.png"), image)
        failed = j == n - 1 and i % 3 == 0          # every third SKU: its last candidate fails QC
        reasons = RESIDUAL if failed else (EDGE if j == 0 and i % 4 == 1 else "")
        out.append(ScoredCandidate(candidate_id=f"c{j + 1:02d}", image=uri, recipe=f"{scene['id']}|center|fill=0.80",
                                   scene=scene["id"], framing="center fill=0.80", seed=1000 * i + j, engine="studio",
                                   width=side, height=side, qc_pass=not failed, qc_reasons=reasons, rank=j + 1,
                                   product_fidelity=1.0))
    return out


def make_review_run(out: Path, run_id: str = "rv", n_skus: int = 6, n_candidates: int = 7, side: int = 320,
                    market: str = "sa", failed: tuple[int, ...] = (4,), photos: tuple[str, ...] = ()) -> RunFolder:
    """A finished run ``out/run_id`` of ``n_skus`` SKUs (``SKU-000``...); the SKUs at the positions
    ``failed`` failed at ingest, the others have ``n_candidates`` candidates (every third SKU's
    last one failed QC, every fourth's first one has a QC warning). Images are drawn, or taken
    from ``photos`` (paths, cycled) when given."""
    cfg = load_pipeline_config()
    mkt = load_market(market, cfg)
    folder = RunFolder(str(out), run_id)
    folder.write_info({"run_id": run_id, "catalog": "", "market": market, "out": str(out), "candidates": n_candidates,
                       "config": cfg.path, "started": dt.datetime(2026, 11, 23, 1, 0).isoformat()})
    for i in range(n_skus):
        sku = f"SKU-{i:03d}"
        record = SkuRecord(sku=sku, status="failed" if i in failed else "done", row=i + 2, title=f"Drawn shirt {i}",
                           category=("flatlay", "still_life")[i % 2], priority=3)
        if i in failed:
            record.stage, record.error = "ingest", f"broken image (truncated or corrupt): images/{sku}.jpg"
        else:
            source = photo(photos, i, side) if photos else drawn_product(side, i, (235, 235, 230))
            record.source_image = storage.save_image(folder.sku(sku).file("source-0.png"), source)
            record.cleaned_image = storage.save_image(folder.sku(sku).file("cleaned.png"), source)
            record.candidates = _candidates(folder, sku, i, n_candidates, side, mkt.scenes, photos)
        folder.write_record(record)
    export_sheets(folder, market)
    write_review_page(folder, mkt, cfg.review)
    return folder
