"""Orchestration overhead: the nightly flow against the same stage functions in a plain loop.

Both take the same SKUs (the sample catalog's good rows repeated up to ``--skus``, default 24, so
the flow's fixed start and end costs weigh as little as over a night), one after the other
(``--workers 1``; or N threads each), through the same stage functions (:func:`catloc.flows.skus.advance`) and write the same
sheets (:func:`catloc.tasks.export.export_sheets`), into separate run folders so neither reuses the
other's stage outputs. The flow adds what orchestration costs: Prefect task runs, the queue and
progress bookkeeping, the periodic sheets. Engines are built and a first SKU run before any timing.
Target: the flow takes at most 10% more wall time than the loop.

    .venv/bin/python bench/overhead.py                        # needs catalogs/sample (make sample)
    .venv/bin/python bench/overhead.py --skus 48 --workers 2 --json bench/out/overhead.json

Without ``$PREFECT_API_URL`` a Prefect server is started for the run (and stopped after it).
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scale_common import (SAMPLE, loadavg, parse_and_measure, prefect_api, repeat_catalog, report,
                          shown_folder)

from catloc.config import PLACED_STAGES
from catloc.tasks.export import export_sheets
from catloc.flows.prepare import prepare_run
from catloc.flows.skus import SkuWork, advance


def plain_loop(plan, workers: int) -> float:
    """Seconds to take every SKU of ``plan`` through the stages in a loop (``workers`` threads), then export."""
    def one(item) -> None:
        advance(SkuWork.start(item, plan.keys[item.sku]), PLACED_STAGES, plan.settings, "loop", last=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, plan.todo))
    export_sheets(plan.folder, plan.settings.market.code)
    return time.perf_counter() - started


def flow_run(plan, catalog: str, market: str) -> float:
    """Seconds the nightly flow takes on ``plan`` (prepared beforehand, as the CLI does)."""
    from catloc.flows.nightly import nightly
    started = time.perf_counter()
    nightly(catalog, market, out=plan.info["out"], run_id=plan.folder.run_id, workers=plan.workers, cluster="none",
            plan=plan)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", default=str(SAMPLE), help="rows to repeat")
    parser.add_argument("--skus", type=int, default=24)
    parser.add_argument("--market", default="sa")
    parser.add_argument("--workers", type=int, default=1, help="SKUs at once, in both (threads)")
    parser.add_argument("--repeats", type=int, default=2, help="alternate loop and flow this many times; best of each")
    parser.add_argument("--json")
    parse_and_measure(parser, "catloc-bench-overhead-", measure)


def measure(args: argparse.Namespace, work: Path) -> None:
    """The warm-up, then plain loop and flow alternated ``--repeats`` times, into ``work``; the report printed."""
    catalog, out = str(repeat_catalog(Path(args.catalog), args.skus, work / "catalog")), work / "out"
    load_before = loadavg()
    with prefect_api():
        warm = prepare_run(catalog, args.market, out=str(out), run_id="warmup", limit=1, workers=1, cluster="none")
        flow_run(warm, catalog, args.market)  # engines built, first inference and the first flow run paid
        loop_s, flow_s = [], []
        for i in range(args.repeats):
            plan = prepare_run(catalog, args.market, out=str(out), run_id=f"loop-{i}", workers=args.workers,
                               cluster="none")
            loop_s.append(plain_loop(plan, args.workers))
            plan = prepare_run(catalog, args.market, out=str(out), run_id=f"flow-{i}", workers=args.workers,
                               cluster="none")
            flow_s.append(flow_run(plan, catalog, args.market))
    best_loop, best_flow = min(loop_s), min(flow_s)
    report({"benchmark": "overhead", "skus": len(plan.todo), "workers": args.workers,
            "loop_s": [round(s, 2) for s in loop_s], "flow_s": [round(s, 2) for s in flow_s],
            "overhead": f"{100 * (best_flow / best_loop - 1):+.1f}% (best flow {best_flow:.1f} s / best loop "
                        f"{best_loop:.1f} s; target <= +10%)",
            "loadavg_before": load_before, "loadavg_after": loadavg(), "out": shown_folder(out, args.keep)}, args.json)


if __name__ == "__main__":
    main()
