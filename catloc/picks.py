"""Reviewers' decisions: reading a picks file and checking it against the run it is for.

Two formats are accepted (found by their header):

- the review page's **picks.csv** (:data:`~catloc.records.PICKS_COLUMNS`): one row per decided
  candidate, ``decision`` ``pick`` or ``reject``, and one row with an empty ``candidate_id`` and
  ``decision`` ``regenerate`` per SKU marked "reject all — regenerate";
- the run's **review.csv** with its ``pick`` column filled in a spreadsheet: ``1``, ``true``,
  ``yes``, ``x``, ``✓`` (or ``✔``, ``pick``) mark a winner; empty, ``0``, ``false``, ``no`` do
  not; ``reject`` rejects the candidate and ``regenerate`` marks its SKU for new candidates.

A file speaks for the SKUs it decides something about; the others are left as they are. Every
problem is collected (:class:`PicksError` lists them all), so a reviewer fixes the file once.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

WINNER_MARKS = {"1", "1.0", "true", "yes", "y", "x", "✓", "✔", "☑", "pick", "picked", "winner"}
EMPTY_MARKS = {"", "0", "0.0", "false", "no", "n", "-"}
REJECT_MARKS = {"reject", "rejected"}
REGENERATE_MARKS = {"regenerate", "regen"}
DECISIONS = ("pick", "reject", "regenerate")


@dataclass(frozen=True)
class PickRow:
    """One decision as the file gives it; ``line`` is the line a spreadsheet shows (header: 1)."""

    line: int
    sku: str
    candidate_id: str            # '' for a SKU-wide "regenerate"
    decision: str                # pick | reject | regenerate
    run_id: str = ""
    attempt: int | None = None   # the attempt the page showed (picks.csv only)


@dataclass
class SkuDecision:
    """What the reviewer decided for one SKU of the run."""

    sku: str
    attempt: int                                        # the SKU's newest attempt in the run
    picks: list[str] = field(default_factory=list)      # winners, best rank first
    rejects: list[str] = field(default_factory=list)
    regenerate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PicksError(ValueError):
    """A picks file cannot be applied; the message lists every problem."""

    def __init__(self, source: str, run_id: str, problems: list[str]):
        self.problems = problems
        super().__init__(f"cannot apply {source} to run {run_id}: {len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}, nothing was published\n" +
                         "\n".join(f"  - {p}" for p in problems))


def _csv_rows(data: bytes, source: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header (lowercased) and ``(line, row)`` of a CSV in UTF-8 with ``,``, ``;`` or tabs."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PicksError(source, "?", [f"not UTF-8 text (byte {exc.start}): save it as 'CSV UTF-8'"]) from None
    first = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    rows = []
    for fields in reader:
        if any(f.strip() for f in fields):
            rows.append((reader.line_num, {h: (fields[i].strip() if i < len(fields) else "")
                                           for i, h in enumerate(header)}))
    return header, rows


def _attempt(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None


def read_picks(data: bytes, source: str) -> tuple[list[PickRow], list[str]]:
    """The decisions in a picks file (either format) and the problems reading it."""
    header, rows = _csv_rows(data, source)
    if "decision" in header and "candidate_id" in header and "sku" in header:
        return _page_rows(rows)
    if "pick" in header and "candidate_id" in header and "sku" in header:
        return _sheet_rows(rows)
    return [], [f"{source} is not a picks file: expected the review page's picks.csv (columns "
                f"sku, candidate_id, decision) or review.csv with a pick column; its columns are "
                f"{', '.join(header) or 'none'}"]


def _page_rows(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[PickRow], list[str]]:
    out, problems = [], []
    for line, row in rows:
        decision = row["decision"].lower()
        if decision not in DECISIONS:
            problems.append(f"line {line}: decision {row['decision']!r} for SKU {row['sku']!r} is not one of "
                            f"{', '.join(DECISIONS)}")
            continue
        out.append(PickRow(line, row["sku"], row["candidate_id"], decision, row.get("run_id", ""),
                           _attempt(row.get("attempt", ""))))
    return out, problems


def _sheet_rows(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[PickRow], list[str]]:
    out, problems = [], []
    for line, row in rows:
        mark = row["pick"].strip().lower()
        if mark in EMPTY_MARKS:
            decision = ""
        elif mark in WINNER_MARKS:
            decision = "pick"
        elif mark in REJECT_MARKS:
            decision = "reject"
        elif mark in REGENERATE_MARKS:
            decision = "regenerate"
        else:
            problems.append(f"line {line}: pick {row['pick']!r} for SKU {row['sku']!r} {row['candidate_id']} is not a "
                            "mark: use 1, true, x or ✓ for a winner (reject, regenerate), or leave it empty")
            continue
        out.append(PickRow(line, row["sku"], row["candidate_id"] if decision != "regenerate" else "", decision,
                           row.get("run_id", ""), _attempt(row.get("attempt", ""))))
    return out, problems


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:5])
    return shown + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")


def _foreign_runs(rows: list[PickRow], run_id: str) -> list[str]:
    foreign: dict[str, list[int]] = {}
    for row in rows:
        if row.run_id and row.run_id != run_id:
            foreign.setdefault(row.run_id, []).append(row.line)
    return [f"{len(lines)} row{'s' if len(lines) > 1 else ''} come from run {other!r}, not {run_id!r} "
            f"(line {_lines(lines)}): this is another run's picks file" for other, lines in foreign.items()]


def decide(rows: list[PickRow], review: pd.DataFrame, run_id: str, *, max_picks: int, allow_failed: bool,
           source: str, problems: list[str] | None = None) -> list[SkuDecision]:
    """The decision per SKU of ``rows`` checked against the run's ``review`` sheet; raises
    :class:`PicksError` listing every problem (and ``problems`` found reading the file): a SKU or
    candidate the run does not have, more than ``max_picks`` winners, a QC-failed winner without
    ``allow_failed``, a candidate both picked and rejected, a SKU both picked and marked for
    regeneration, a regeneration asked for an attempt the run has moved past, rows of another run."""
    problems = list(problems or []) + _foreign_runs(rows, run_id)
    candidates = {(r.sku, r.candidate_id): r for r in review.itertuples(index=False)}
    newest = review.groupby("sku")["attempt"].max().to_dict() if len(review) else {}
    decisions: dict[str, SkuDecision] = {}
    seen: dict[tuple[str, str], PickRow] = {}
    for row in rows:
        if not row.decision or (row.run_id and row.run_id != run_id):  # another run's rows: reported once above
            continue
        if row.sku not in newest:
            problems.append(f"line {row.line}: SKU {row.sku!r} is not in run {run_id} (or has no candidates)")
            continue
        decision = decisions.setdefault(row.sku, SkuDecision(row.sku, int(newest[row.sku])))
        if row.decision == "regenerate":
            if row.attempt is not None and row.attempt != decision.attempt:
                problems.append(f"line {row.line}: SKU {row.sku!r} is marked regenerate for attempt {row.attempt}, "
                                f"but run {run_id} shows attempt {decision.attempt} now: reload the review page")
            decision.regenerate = True
            continue
        candidate = candidates.get((row.sku, row.candidate_id))
        if candidate is None:
            problems.append(f"line {row.line}: SKU {row.sku!r} has no candidate {row.candidate_id!r} in run {run_id}")
            continue
        before = seen.setdefault((row.sku, row.candidate_id), row)
        if before.decision != row.decision:
            problems.append(f"line {row.line}: SKU {row.sku!r} {row.candidate_id} is {row.decision}ed here but "
                            f"{before.decision}ed on line {before.line}")
        elif before is row and row.decision == "pick":
            if not candidate.qc_pass and not allow_failed:
                problems.append(f"line {row.line}: SKU {row.sku!r} {row.candidate_id} failed QC "
                                f"({candidate.qc_reasons}): pass --allow-failed to publish it anyway")
            decision.picks.append(row.candidate_id)
        elif before is row:
            decision.rejects.append(row.candidate_id)
    for decision in decisions.values():
        problems += _sku_problems(decision, max_picks)
        decision.picks.sort(key=lambda c: (candidates[(decision.sku, c)].attempt != decision.attempt,
                                           candidates[(decision.sku, c)].rank))
    if not decisions and not problems:
        problems.append("it decides nothing: no pick, reject or regenerate mark")
    if problems:
        raise PicksError(source, run_id, problems)
    return list(decisions.values())


def _sku_problems(decision: SkuDecision, max_picks: int) -> list[str]:
    problems = []
    if len(decision.picks) > max_picks:
        problems.append(f"SKU {decision.sku!r}: {len(decision.picks)} picks ({', '.join(decision.picks)}), at most "
                        f"{max_picks} allowed (the market's publish.max_picks)")
    if decision.regenerate and decision.picks:
        problems.append(f"SKU {decision.sku!r} is marked regenerate but also has picks "
                        f"({', '.join(decision.picks)}): keep one or the other")
    return problems
