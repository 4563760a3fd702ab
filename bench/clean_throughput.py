"""Throughput of the clean stage on a 2-core (or N-core) machine: photos cleaned per second by
``--processes`` worker processes, each with one library thread, as a night's Dask workers run it.

``bench/clean.py`` times one photo at a time with every core on it (the latency of one photo). A
night cleans thousands of photos, one per worker process at once; what its length depends on is the
machine's throughput. This script measures that on the same inputs as ``bench/clean.py`` (the same
photos, the same drawn clutter for the same ``--seed``):

1. prepare: every photo is decoded (shrunk to ``--max-side``), its own text read and the supplier
   clutter drawn on it as ``bench/clean.py`` does; the inputs are kept in memory (not timed);
2. clean: ``--processes`` processes (engines built once in each, ``CATLOC_THREADS=1``) take the
   inputs from a shared queue, one at a time, and clean them; timed from the first photo handed out
   to the last one cleaned, with the load average before and after.

Reported: photos, their total size in 1024-px images (a photo counts (longer side / 1024)²), the
clean phase's wall seconds, and seconds per 1024-px image = wall / that total (the machine's
throughput, the figure to hold against "seconds per 1024-px image"), next to the mean single-photo
time of each process (the latency under that load).

    .venv/bin/python bench/clean_throughput.py --corpus ../shared/corpus/dev2 --max-side 1024
    .venv/bin/python bench/clean_throughput.py --corpus ../shared/corpus/dev2 --max-side 1024 --processes 1
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import clean as clean_bench  # bench/clean.py: the same inputs, engines and options

_STATE: dict = {}


def prepare(args: argparse.Namespace) -> list[tuple[str, object]]:
    """(name, cluttered photo) for every photo of the run, drawn as ``bench/clean.py`` draws them."""
    engines, _, max_side = clean_bench.setup(args)
    inputs = []
    for category, name, photo in clean_bench.load_inputs(args, max_side):
        _, image, _ = clean_bench.cluttered(args, engines, name, photo)
        inputs.append((f"{category}/{name}", image))
    return inputs


def start_worker(argv: list[str], warmup, all_ready) -> None:
    """Pool initializer: one library thread, the engines and options built once in this process, a
    first photo cleaned (``warmup``: the first inference of each engine is not timed), then wait
    until every worker is ready (``all_ready``: a barrier), so the timing starts with all of them."""
    os.environ["CATLOC_THREADS"] = "1"
    from catloc.threads import apply_library_threads
    apply_library_threads()
    _STATE["engines"], _STATE["options"], _ = clean_bench.setup(clean_bench.parse_args(argv))
    clean_one(warmup)
    all_ready.wait()


def clean_one(image) -> tuple[float, int]:
    """Clean ``image`` in this worker: (wall seconds, worker pid)."""
    started = time.perf_counter()
    clean_bench.remove_overlay_text(image, *_STATE["engines"], _STATE["options"])
    return time.perf_counter() - started, os.getpid()


def measure(inputs: list, processes: int, argv: list[str]) -> dict:
    """Clean every input on ``processes`` workers; the clean phase's figures."""
    size_1024 = sum((max(image.shape[:2]) / 1024) ** 2 for _, image in inputs)
    with multiprocessing.Manager() as manager, ProcessPoolExecutor(
            processes, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker,
            initargs=(argv, inputs[0][1], manager.Barrier(processes))) as pool:
        list(pool.map(time.sleep, [0.5] * processes))  # every worker started, built and warm
        load_before = clean_bench.load_average()
        started = time.perf_counter()
        timings = list(pool.map(clean_one, [image for _, image in inputs], chunksize=1))
        wall = time.perf_counter() - started
    return {"processes": processes, "photos": len(inputs), "in_1024_px_images": round(size_1024, 1),
            "clean_phase_s": round(wall, 1), "seconds_per_1024_px_image": round(wall / size_1024, 3),
            "mean_single_photo_s": round(sum(t for t, _ in timings) / len(timings), 3),
            "workers_used": len({pid for _, pid in timings}),
            "load_before": load_before, "load_after": clean_bench.load_average()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="worker processes cleaning at once (default 2)")
    parser.add_argument("--json", dest="out_json", help="write the figures here")
    own, rest = parser.parse_known_args()
    args = clean_bench.parse_args(rest)  # --corpus, --n, --max-side, --seed, --config, --market, --photo-overlays
    result = {"benchmark": "clean throughput", "corpus": args.corpus or "drawn", "max_side": args.max_side,
              **measure(prepare(args), own.processes, rest)}
    print(json.dumps(result, indent=1))
    if own.out_json:
        Path(own.out_json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
