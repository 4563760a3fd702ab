"""Memory: peak RSS of the flow's process for 1,000 and for 10,000 SKUs (target: within 20%).

A generator writes a catalog of N synthetic SKUs (eight small drawn photos, cycled; unique SKU ids);
the nightly flow runs it in one process (threads: every stage runs in the flow's own process too),
with cheap stand-in engines so that 10,000 SKUs take minutes, not hours: an OCR that finds no text,
an inpainter that keeps the pixels, a segmenter that returns the centre of the photo; the real
``studio`` generator; one candidate per SKU. Everything else is the real flow: batches of SKUs per
task, at most ``workers`` batches in flight, a record per SKU, the periodic and final sheets.
Each N runs in a fresh process, whose peak resident memory (``ru_maxrss``) is the figure.

    .venv/bin/python bench/memory.py                          # 1,000 and 10,000 SKUs
    .venv/bin/python bench/memory.py --skus 1000 10000 --json bench/out/memory.json

Without ``$PREFECT_API_URL`` a Prefect server is started for the run (and stopped after it).
"""
from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from scale_common import REPO, loadavg, prefect_api, report

CHEAP_ENGINES = {"ocr": "NoText", "inpaint": "KeepPixels", "segment": "CentreBox"}


class NoText:
    """OCR stand-in: finds no text."""

    name = "bench-no-text"

    def detect(self, image):
        return []

    def find(self, image):
        return []

    def read(self, image, polygons):
        return []


class KeepPixels:
    """Inpainter stand-in: leaves the pixels as they are."""

    name = "bench-keep-pixels"

    def inpaint(self, image, mask):
        return image.copy()


class CentreBox:
    """Segmenter stand-in: the product is the centre half of the photo."""

    name = "bench-centre-box"

    def segment(self, image):
        h, w = image.shape[:2]
        mask = np.zeros((h, w), bool)
        mask[h // 4:3 * h // 4, w // 4:3 * w // 4] = True
        return mask


def make_catalog(folder: Path, n: int, side: int = 96) -> Path:
    """``n`` SKUs cycling through eight drawn ``side``-px photos."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(8):
        photo = np.full((side, side, 3), 235, np.uint8)
        photo[side // 4:3 * side // 4, side // 4:3 * side // 4] = rng.integers(20, 200, 3)
        Image.fromarray(photo).save(folder / "images" / f"p{k}.jpg", quality=92)
    with open(folder / "catalog.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sku", "image", "priority"])
        writer.writerows([f"SYN-{i:06d}", f"images/p{i % 8}.jpg", 1 + i % 3] for i in range(n))
    return folder / "catalog.csv"


def cheap_config(folder: Path) -> Path:
    """configs/ copied to ``folder`` with the stand-in engines and one candidate per SKU."""
    import shutil
    shutil.copytree(REPO / "configs", folder)
    data = yaml.safe_load((folder / "pipeline.yaml").read_text(encoding="utf-8"))
    data["candidates_per_sku"] = 1
    for kind in CHEAP_ENGINES:
        data["engines"][kind] = {"name": f"bench-{kind}", "options": {}}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder / "pipeline.yaml"


def measure_one(n: int, workers: int) -> dict:
    """Run the flow on ``n`` synthetic SKUs in this process; its peak RSS."""
    from catloc.engines import REGISTRY
    for kind, cls in CHEAP_ENGINES.items():
        REGISTRY[kind][f"bench-{kind}"] = f"__main__:{cls}"
    from catloc.flows.nightly import nightly
    work = Path(tempfile.mkdtemp(prefix=f"catloc-bench-memory-{n}-"))
    catalog, config = make_catalog(work / "catalog", n), cheap_config(work / "configs")
    started = time.perf_counter()
    result = nightly(str(catalog), "sa", out=str(work / "out"), run_id="mem", config=str(config), workers=workers,
                     cluster="none")
    return {"skus": n, "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "seconds": round(time.perf_counter() - started, 1), "counts": result["counts"], "out": str(work / "out")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--workers", type=int, default=2, help="SKU tasks at once (threads)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure N in this process
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one, args.workers)))
        return
    load_before, runs = loadavg(), []
    with prefect_api():
        for n in args.skus:
            proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--workers", str(args.workers)],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    first, last = runs[0]["peak_rss_mib"], runs[-1]["peak_rss_mib"]
    report({"benchmark": "memory", "runs": runs,
            "growth": f"{100 * (last / first - 1):+.1f}% from {runs[0]['skus']} to {runs[-1]['skus']} SKUs "
                      "(target <= +20%)", "loadavg_before": load_before, "loadavg_after": loadavg()}, args.json)


if __name__ == "__main__":
    main()
