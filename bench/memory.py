"""Memory: peak RSS of the flow's process for 1,000 and for 10,000 SKUs (target: within 20%).

A generator writes a catalog of N synthetic SKUs (eight small drawn photos, cycled; unique SKU ids);
the nightly flow runs it on a local cluster (``--cluster local:2``, as a 10,000-SKU night would run:
the flow's process feeds the cluster, the workers run the stages and write the sheets), with cheap
stand-in engines (``bench/stand_in_engines.py``, preloaded on every worker) so that 10,000 SKUs take
minutes, not hours: an OCR that finds no text, an inpainter that keeps the pixels, a segmenter that
returns the centre of the photo; the real ``studio`` generator; one candidate per SKU. Everything
else is the real flow: batches of SKUs per task, a bounded number in flight, a record per SKU, the
periodic and final sheets. Each N runs in a fresh process, whose peak resident memory
(``ru_maxrss``) is the figure. ``--cluster none`` measures the one-process mode (threads), where the
stages and the sheets run in the flow's process too.

    .venv/bin/python bench/memory.py                          # 1,000 and 10,000 SKUs on local:2
    .venv/bin/python bench/memory.py --skus 1000 10000 --cluster none --json bench/out/memory-threads.json

Without ``$PREFECT_API_URL`` a Prefect server is started for the run (and stopped after it).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from scale_common import REPO, add_keep_option, bench_folder, loadavg, prefect_api, report, shown_folder

STAND_INS = Path(__file__).resolve().parent / "stand_in_engines.py"

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
    for kind in ("ocr", "inpaint", "segment"):
        data["engines"][kind] = {"name": f"bench-{kind}", "options": {}}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder / "pipeline.yaml"


def measure_one(n: int, workers: int, cluster: str, work: Path, keep: bool) -> dict:
    """Run the flow on ``n`` synthetic SKUs from this process, into ``work``; this process's peak RSS."""
    import stand_in_engines  # noqa: F401  (registers the stand-ins here; workers preload them)
    from catloc.flows.nightly import nightly
    catalog, config = make_catalog(work / "catalog", n), cheap_config(work / "configs")
    started = time.perf_counter()
    result = nightly(str(catalog), "sa", out=str(work / "out"), run_id="mem", config=str(config), workers=workers,
                     cluster=cluster)
    return {"skus": n, "cluster": cluster, "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "seconds": round(time.perf_counter() - started, 1), "counts": result["counts"], "out": shown_folder(work / "out", keep)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--cluster", default="local:2", help="local:N, a scheduler address, or none (threads)")
    parser.add_argument("--workers", type=int, default=2, help="with --cluster none: SKU tasks at once (threads)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure N in this process
    parser.add_argument("--json")
    add_keep_option(parser)
    args = parser.parse_args()
    if args.one:
        with bench_folder(f"catloc-bench-memory-{args.one}-", args.keep) as work:
            print(json.dumps(measure_one(args.one, args.workers, args.cluster, work, args.keep)))
        return
    load_before, runs = loadavg(), []
    with prefect_api():
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(STAND_INS)])}
        for n in args.skus:
            proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--workers", str(args.workers),
                                   "--cluster", args.cluster, *(["--keep"] if args.keep else [])], capture_output=True, text=True, env=env)
            if proc.returncode:
                raise SystemExit(f"the run of {n} SKUs failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    first, last = runs[0]["peak_rss_mib"], runs[-1]["peak_rss_mib"]
    report({"benchmark": "memory", "runs": runs,
            "growth": f"{100 * (last / first - 1):+.1f}% from {runs[0]['skus']} to {runs[-1]['skus']} SKUs "
                      "(target <= +20%)", "loadavg_before": load_before, "loadavg_after": loadavg()}, args.json)


if __name__ == "__main__":
    main()
