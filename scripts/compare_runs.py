"""Compare two run folders: are their images byte-equal and their sheets equal but for timings?

Used to check that a change meant to leave outputs alone (a refactor) really does::

    make demo RUN_ID=before            # on the old code
    make demo RUN_ID=after             # on the new code
    .venv/bin/python scripts/compare_runs.py review_exports/before review_exports/after

Compared, SKU by SKU: every PNG (sources, cleaned image, masks, candidates) byte for byte;
``clean.json`` and ``candidates.json`` with paths taken relative to their run folder;
``record.json`` but for ``seconds``, ``stage_seconds``, ``input_key`` (a hash of the config's *shape*)
and ``workers`` (where each stage ran); and the review and status sheets (CSV) but for ``run_id``
and ``seconds``.
Prints every difference and exits 1 if there is any, 0 if the runs agree. Local folders only.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

TIMING_COLUMNS = {"run_id", "seconds"}
RECORD_VOLATILE = {"seconds", "stage_seconds", "input_key", "workers"}
IN_RUN = re.compile(r"^.*?/((?:skus|rejected)/.*)$")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def relative_json(path: Path) -> object:
    """The JSON document at ``path`` with paths into a run folder taken relative to it
    (``review_exports/before/skus/A/cleaned.png`` -> ``skus/A/cleaned.png``)."""
    def strip(value: object) -> object:
        if isinstance(value, str):
            return IN_RUN.sub(r"\1", value)
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        return value
    return strip(json.loads(path.read_text(encoding="utf-8")))


def compare_files(a: Path, b: Path) -> list[str]:
    names_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and not p.name.startswith(".")}
    names_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and not p.name.startswith(".")}
    problems = [f"only in {a}: {n}" for n in sorted(names_a - names_b) if _compared(n)]
    problems += [f"only in {b}: {n}" for n in sorted(names_b - names_a) if _compared(n)]
    for name in sorted(names_a & names_b):
        if name.suffix == ".png" and digest(a / name) != digest(b / name):
            problems.append(f"pixels differ: {name}")
        elif name.name in ("clean.json", "candidates.json") and relative_json(a / name) != relative_json(b / name):
            problems.append(f"content differs: {name}")
        elif name.name == "record.json" or name.parent.name == "rejected":
            rec_a, rec_b = relative_json(a / name), relative_json(b / name)
            for key in RECORD_VOLATILE:
                rec_a.pop(key, None)
                rec_b.pop(key, None)
            if rec_a != rec_b:
                keys = sorted(k for k in set(rec_a) | set(rec_b) if rec_a.get(k) != rec_b.get(k))
                problems.append(f"record differs in {', '.join(keys)}: {name}")
    return problems


def _compared(name: Path) -> bool:
    """Files whose presence is part of the output (manifests and progress are bookkeeping)."""
    return name.suffix in (".png", ".csv", ".parquet") or name.name in ("clean.json", "candidates.json",
                                                                        "record.json")


def compare_sheet(a: Path, b: Path, name: str) -> list[str]:
    def rows(path: Path) -> list[dict[str, str]]:
        with open(path / f"{name}.csv", newline="", encoding="utf-8") as fh:
            return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(fh)]
    rows_a, rows_b = rows(a), rows(b)
    if len(rows_a) != len(rows_b):
        return [f"{name}.csv: {len(rows_a)} rows against {len(rows_b)}"]
    return [f"{name}.csv row {i + 2} differs in {', '.join(k for k in ra if ra.get(k) != rb.get(k))}"
            for i, (ra, rb) in enumerate(zip(rows_a, rows_b)) if ra != rb]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args(argv)
    for run in (args.run_a, args.run_b):
        if not (run / "review.csv").is_file():
            parser.error(f"{run} is not a finished run folder (no review.csv)")
    problems = compare_files(args.run_a, args.run_b)
    problems += compare_sheet(args.run_a, args.run_b, "review") + compare_sheet(args.run_a, args.run_b, "status")
    n_png = sum(1 for _ in args.run_a.rglob("*.png"))
    for line in problems:
        print(line)
    print(f"{'DIFFERENT' if problems else 'same'}: {n_png} images and the review/status sheets compared, "
          f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
