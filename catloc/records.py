"""Catalog items, per-SKU records and the export columns.

A :class:`SkuRecord` is the unit of truth of a run: one per SKU, whatever happened to it. The
export columns are a contract with reviewers and downstream tools: they only grow. (What the
stages hand each other is in :mod:`catloc.outputs`.)
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from catloc.outputs import Analysis, Cleaned, ScoredCandidate, Source

STAGES = ("ingest", "clean", "analyse", "localize", "qc", "export")

REVIEW_COLUMNS = [
    "run_id", "sku", "market", "candidate_id", "rank", "recipe", "seed", "image",
    "qc_pass", "qc_reasons", "product_fidelity", "residual_text", "engine",
    "scene", "framing", "width", "height", "source_image", "cleaned_image", "title",
    "category", "pick", "attempt", "mask_confidence", "text_lost", "residue", "duplicate_of",
]

STATUS_COLUMNS = [
    "run_id", "sku", "status", "stage", "error", "source_image", "cleaned_image",
    "n_candidates", "n_passed", "seconds", "row", "title", "category", "priority",
    "text_found", "text_removed", "text_kept", "qr_removed", "attempt", "mask_confidence", "mask_reasons",
    "cutouts_skipped",
]

# the review page's picks.csv: one row per decided candidate, plus one per SKU marked for regeneration
PICKS_COLUMNS = ["run_id", "market", "sku", "attempt", "candidate_id", "decision", "image"]

# published.parquet|csv of a run: one row per published image (``catloc picks apply``)
PUBLISHED_COLUMNS = [
    "run_id", "market", "sku", "position", "candidate_id", "attempt", "source_image", "candidate_image",
    "recipe", "scene", "seed", "published_uri", "checksum", "format", "width", "height", "bytes", "published_at",
]

# <history>/<market>/picks.parquet: one row per candidate of every SKU a reviewer decided
PICK_HISTORY_COLUMNS = [
    "market", "run_id", "sku", "category", "attempt", "candidate_id", "recipe", "persona", "scene", "framing",
    "seed", "picked", "regenerate", "applied_at",
]


class SkuError(Exception):
    """A SKU cannot go on: ``stage`` and a message a catalog-ops person can act on."""

    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage
        self.message = message

    def __reduce__(self):  # an exception with its own __init__ arguments must say how to pickle it
        return (type(self), (self.stage, self.message))


@dataclass
class CatalogItem:
    """One valid catalog row: a SKU and where its images are."""

    sku: str
    images: list[str]
    row: int
    title: str = ""
    category: str = ""
    priority: int = 3
    catalog_dir: str = ""             # the catalog's folder: relative refs and the local-file fence

    @property
    def key(self) -> str:
        return sku_key(self.sku)


@dataclass
class SkuRecord:
    """The outcome of one SKU: one status row plus its candidate rows."""

    sku: str
    status: str                       # done | failed | deferred
    stage: str = ""
    error: str = ""
    row: int | None = None
    title: str = ""
    category: str = ""
    priority: int | None = None
    source_image: str = ""
    cleaned_image: str = ""
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # wall time in each stage's function
    attempt: int = 0                  # the candidates' newest attempt (n: regenerated n times)
    input_key: str = ""               # hash of the catalog row + config this record was made from
    workers: dict[str, str] = field(default_factory=dict)  # stage -> where it ran (host, or Dask worker name)
    clean_report: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] = field(default_factory=dict)   # the Analysis (mask confidence and reasons)
    candidates: list[ScoredCandidate] = field(default_factory=list)

    @classmethod
    def of(cls, item: CatalogItem, status: str, **fields: Any) -> "SkuRecord":
        """A record for catalog ``item`` (its row, title, category and priority filled in)."""
        return cls(sku=item.sku, status=status, row=item.row, title=item.title, category=item.category,
                   priority=item.priority, **fields)

    def finish(self, source: Source, cleaned: Cleaned, scored: list[ScoredCandidate],
               analysis: Analysis | None = None) -> None:
        """The SKU went through every stage."""
        self.status, self.stage, self.error = "done", "", ""
        self._keep(source, cleaned)
        self.candidates = scored
        if analysis is not None:
            self.analysis = analysis.to_dict()

    def fail(self, error: SkuError, source: Source | None = None, cleaned: Cleaned | None = None) -> None:
        """The SKU stopped at ``error.stage``; what the stages before it made is kept for the sheets."""
        self.status, self.stage, self.error = "failed", error.stage, error.message
        self._keep(source, cleaned)

    def _keep(self, source: Source | None, cleaned: Cleaned | None) -> None:
        if source is not None:
            self.source_image = source.image
        if cleaned is not None:
            self.cleaned_image, self.clean_report = cleaned.image, cleaned.report

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SkuRecord":
        record = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        record.candidates = [c if isinstance(c, ScoredCandidate) else ScoredCandidate.from_dict(c)
                             for c in record.candidates]
        return record


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def sku_key(sku: str) -> str:
    """A folder name for ``sku`` that can never leave the run folder.

    Plain ids (``TSHIRT-001``) are kept as they are; anything else (slashes, ``..``,
    unicode, spaces) is replaced by ``_`` and suffixed with a short hash of the original,
    so two different SKUs never share a folder.
    """
    sku = str(sku)
    cleaned = _UNSAFE.sub("_", sku).strip("._-")[:80]
    if cleaned == sku and cleaned:
        return cleaned
    digest = hashlib.sha1(sku.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned or 'sku'}-{digest}"
