"""What the scale benchmarks share: the machine's load, a real Prefect server, catalogs made for them.

Timings taken while other programs load the machine are not figures to quote: every benchmark
prints the load average before and after it ran (``/proc/loadavg``: 1, 5 and 15 minute means of
runnable processes; on a 2-core machine, anything well above 2 means the CPUs were shared).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SAMPLE = REPO / "catalogs" / "sample" / "catalog.csv"


def loadavg() -> str:
    """The 1/5/15-minute load averages, e.g. ``0.42 0.61 0.70``."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


@contextlib.contextmanager
def prefect_api() -> Iterator[str]:
    """``$PREFECT_API_URL`` if set; else a Prefect server (SQLite) started in a temporary folder for
    the benchmark and stopped after it. Sets the variable for this process and its children."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    from catloc import stack
    folder = Path(tempfile.mkdtemp(prefix="catloc-bench-prefect-"))
    server, api_url = stack.start_prefect_server(folder, "127.0.0.1", stack.free_port(), None, ui=False)
    try:
        stack.wait_healthy(server, api_url)
        os.environ["PREFECT_API_URL"] = api_url
        from prefect.settings import PREFECT_API_URL, temporary_settings
        with temporary_settings({PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker
        for worker in (APILogWorker, EventsWorker):  # the runs' last logs and events, while the server answers
            with contextlib.suppress(Exception):
                worker.drain_all(timeout=5)
        os.environ.pop("PREFECT_API_URL", None)
        stack.stop(server)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def bench_folder(prefix: str, keep: bool) -> Iterator[Path]:
    """A new temporary folder for a benchmark's catalogs and run folders (hundreds of MB for the
    memory benchmark); removed afterwards unless ``keep`` (``--keep``: to look at what the runs wrote)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def add_keep_option(parser: argparse.ArgumentParser) -> None:
    """``--keep``: leave the benchmark's temporary folder (its path is printed as ``out``)."""
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder with the runs' outputs "
                                                             "(removed by default; its path is printed as 'out')")


def parse_and_measure(parser: argparse.ArgumentParser, prefix: str, measure) -> None:
    """A benchmark's ``main``: add ``--keep`` to ``parser``, parse the command line, then call
    ``measure(args, folder)`` in a new temporary folder named ``prefix...`` (see :func:`bench_folder`)."""
    add_keep_option(parser)
    args = parser.parse_args()
    with bench_folder(prefix, args.keep) as folder:
        measure(args, folder)


def shown_folder(folder: Path, keep: bool) -> str:
    """What a report says of ``folder``: its path if kept, else that it was removed."""
    return str(folder) if keep else "removed after the run (--keep keeps it)"


def repeat_catalog(source: Path, n: int, folder: Path) -> Path:
    """A catalog of ``n`` SKUs in ``folder`` cycling through the good rows of ``source`` (its images
    copied next to it; SKU ids made unique), so a benchmark can run more SKUs than the sample has."""
    from catloc.tasks.ingest import read_catalog
    items = [item for item in read_catalog(str(source))[0] if decodes(Path(item.images[0]))]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        item = items[i % len(items)]
        image = Path(item.images[0])
        target = folder / "images" / image.name
        if not target.exists():
            shutil.copyfile(image, target)
        rows.append({"sku": f"{item.sku}-{i:04d}", "image": f"images/{image.name}", "category": item.category,
                     "priority": 3})
    with open(folder / "catalog.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "catalog.csv"


def decodes(path: Path) -> bool:
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:
        return False


def report(result: dict, json_path: str | None) -> None:
    """Print ``result`` (and write it to ``json_path``)."""
    text = json.dumps(result, indent=1)
    print(text)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(text + "\n", encoding="utf-8")
