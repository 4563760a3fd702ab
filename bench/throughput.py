"""Per-stage throughput: images per second of each stage, on the sample catalog or on real photos.

Every SKU goes through the stages one after the other in this process, one thread, with the
configured engines (built before timing), each stage timed on its own (the same stage calls the
flow's tasks make: :data:`catloc.flows.skus.STEPS`). ``images/s`` counts source photos for ingest,
clean and analyse, and candidate images for localize and qc (``candidates/SKU`` of them per photo).
SKUs that fail a stage (a broken image) are left out of the later stages' counts.

    .venv/bin/python bench/throughput.py                                   # the sample catalog
    .venv/bin/python bench/throughput.py --corpus ../shared/corpus/dev2    # every *.jpg under DIR (read only)
    .venv/bin/python bench/throughput.py --corpus DIR --limit 40 --json bench/out/throughput-corpus.json
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from scale_common import SAMPLE, loadavg, parse_and_measure, report, shown_folder

from catloc.config import PLACED_STAGES
from catloc.records import CatalogItem, SkuError
from catloc.tasks.ingest import read_catalog
from catloc.flows.prepare import prepare_run
from catloc.flows.skus import STEPS, SkuWork


def corpus_items(folder: Path, limit: int | None) -> list[CatalogItem]:
    """A catalog item per ``*.jpg`` under ``folder`` (sorted), read in place."""
    photos = sorted(folder.rglob("*.jpg"))[:limit]
    return [CatalogItem(sku=f"{p.parent.name}-{p.stem}", images=[str(p)], row=i + 2, category=p.parent.name,
                        catalog_dir=str(folder)) for i, p in enumerate(photos)]


def time_stages(items: list[CatalogItem], settings) -> dict[str, list[float]]:
    """Seconds per stage call, for every SKU that reached the stage."""
    seconds: dict[str, list[float]] = defaultdict(list)
    for item in items:
        work = SkuWork.start(item, "")
        for stage in PLACED_STAGES:
            started = time.perf_counter()
            try:
                STEPS[stage](work, settings)
            except SkuError:
                break
            seconds[stage].append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default=str(SAMPLE))
    parser.add_argument("--corpus", type=Path, help="photos to use instead of the catalog (every *.jpg under it)")
    parser.add_argument("--limit", type=int, help="at most this many photos")
    parser.add_argument("--market", default="sa")
    parser.add_argument("--json")
    parse_and_measure(parser, "catloc-bench-throughput-", measure)


def measure(args: argparse.Namespace, out: Path) -> None:
    """Every stage timed on the catalog's or the corpus's photos, run folders in ``out``; the report printed."""
    plan = prepare_run(args.catalog, args.market, out=str(out), run_id="throughput", cluster="none")
    items = corpus_items(args.corpus, args.limit) if args.corpus else read_catalog(args.catalog)[0][:args.limit]
    warm = prepare_run(args.catalog, args.market, out=str(out), run_id="warmup", cluster="none")
    load_before = loadavg()
    time_stages(items[:1], warm.settings)  # first inference of every engine, in a folder of its own, not timed
    seconds = time_stages(items, plan.settings)
    per_image = {"localize": plan.settings.n_candidates, "qc": plan.settings.n_candidates}
    stages = {stage: {"skus": len(s), "seconds": round(sum(s), 2),
                      "images_per_s": round(len(s) * per_image.get(stage, 1) / sum(s), 2) if s else None}
              for stage, s in seconds.items()}
    report({"benchmark": "throughput", "source": str(args.corpus or args.catalog), "photos": len(items),
            "candidates_per_sku": plan.settings.n_candidates, "stages": stages,
            "loadavg_before": load_before, "loadavg_after": loadavg(), "out": shown_folder(out, args.keep)}, args.json)


if __name__ == "__main__":
    main()
