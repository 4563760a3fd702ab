"""A run folder: what one run writes, where, and how it is read back.

::

    <out>/<run_id>/
      run.json                    the run's parameters                        (RunFolder.write_info)
      progress.json               SKUs finished so far, SKUs/hour, deadline   (RunFolder.write_progress)
      review.*, status.*          the sheets                                  (RunFolder.write_table)
      index.html                  the review page                             (RunFolder.write_review_page)
      thumbs/<key>/<name>-<digest>.<ext>, thumbs/<key>/index.json
                                  the page's thumbnails and which image each shows (RunFolder.thumb)
      picks/applied.json          the decisions applied per SKU               (RunFolder.write_applied)
      picks/<time>-<file>         every picks file applied, as it was given   (RunFolder.keep_picks_file)
      published.*                 what ``catloc picks apply`` published       (RunFolder.write_table)
      rejected/row-N.json         catalog rows that could not be used         (RunFolder.save_rejected)
      skus/<key>/record.json      one SKU's outcome, written last             (RunFolder.write_record)
      skus/<key>/<files>          its stage outputs                           (SkuFolder.file)
      skus/<key>/<stage>.manifest.json   what each stage output was made from (SkuFolder.manifest)

Every write is atomic (:mod:`catloc.storage`): a killed run never leaves a half-written file
under its real name. ``<out>`` may be a local folder or any fsspec URI (``s3://...``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from catloc import storage
from catloc.records import CatalogItem, SkuRecord, sku_key


@dataclass(frozen=True)
class SkuFolder:
    """``skus/<key>/`` of one SKU: its stage outputs and their manifests."""

    uri: str

    def file(self, *parts: str) -> str:
        return storage.join(self.uri, *parts)

    def manifest(self, stage: str) -> str:
        return self.file(f"{stage}.manifest.json")


@dataclass(frozen=True)
class RunFolder:
    """``<out>/<run_id>/`` and its layout (see the module docstring)."""

    out: str
    run_id: str

    @property
    def uri(self) -> str:
        return storage.join(str(self.out), self.run_id)

    def file(self, *parts: str) -> str:
        return storage.join(self.uri, *parts)

    def relative(self, uri: str) -> str:
        """``uri`` relative to the run folder (how the sheets name files); '' for ''."""
        return storage.relative_to(uri, self.uri) if uri else ""

    def sweep_temp_files(self) -> int:
        """Remove the hidden temporaries a killed writer left (their real files were never touched)."""
        return storage.sweep_temp_files(self.uri)

    # ---- run.json, progress.json
    def exists(self) -> bool:
        return storage.exists(self.file("run.json"))

    def read_info(self) -> dict[str, Any]:
        return storage.read_json(self.file("run.json"))

    def write_info(self, info: dict[str, Any]) -> None:
        storage.write_json(self.file("run.json"), info)

    def read_progress(self) -> dict[str, Any]:
        """``progress.json``, or ``{}`` while there is none (or it cannot be read)."""
        try:
            return storage.read_json(self.file("progress.json"))
        except (OSError, ValueError):
            return {}

    def write_progress(self, state: dict[str, Any]) -> None:
        storage.write_json(self.file("progress.json"), state)

    # ---- SKU records
    def sku(self, sku: str) -> SkuFolder:
        return SkuFolder(self.file("skus", sku_key(sku)))

    def read_record(self, sku: str) -> SkuRecord | None:
        """The SKU's record, or ``None`` if it has none yet (or an unreadable one: never finished)."""
        uri = self.sku(sku).file("record.json")
        try:
            return SkuRecord.from_dict(storage.read_json(uri)) if storage.exists(uri) else None
        except (ValueError, OSError, TypeError):
            return None

    def write_record(self, record: SkuRecord) -> None:
        storage.write_json(self.sku(record.sku).file("record.json"), record.to_dict())

    def is_done(self, sku: str, input_key: str) -> bool:
        """Whether this folder already has ``sku`` done from the same catalog row and config."""
        record = self.read_record(sku)
        return record is not None and record.status == "done" and record.input_key == input_key

    def mark_deferred(self, items: Iterable[CatalogItem], reason: str) -> None:
        """Record ``items`` as deferred with ``reason``, except those this folder already has done."""
        for item in items:
            existing = self.read_record(item.sku)
            if existing is None or existing.status != "done":
                self.write_record(SkuRecord.of(item, "deferred", error=reason))

    def save_rejected(self, rejected: list[SkuRecord]) -> None:
        """Replace the rejected catalog rows with this reading of the catalog."""
        for uri in storage.list_files(self.file("rejected"), "*.json"):
            storage.remove(uri)
        for record in rejected:
            storage.write_json(self.file("rejected", f"row-{record.row}.json"), record.to_dict())

    def records(self) -> list[SkuRecord]:
        """Every SKU record and rejected row of the run, in catalog order."""
        uris = storage.list_files(self.file("skus"), "*/record.json") + \
            storage.list_files(self.file("rejected"), "*.json")
        records = [SkuRecord.from_dict(storage.read_json(uri)) for uri in uris]
        return sorted(records, key=lambda r: (r.row if r.row is not None else 1 << 30, r.sku))

    # ---- sheets
    def write_table(self, name: str, parquet: bytes, csv: str) -> tuple[str, str]:
        """``<name>.parquet`` and ``<name>.csv``."""
        return (storage.write_bytes(self.file(f"{name}.parquet"), parquet),
                storage.write_text(self.file(f"{name}.csv"), csv))

    def has_sheets(self) -> bool:
        return self.has_table("status")

    def has_table(self, name: str) -> bool:
        return storage.exists(self.file(f"{name}.parquet"))

    def read_table_bytes(self, name: str) -> bytes:
        return storage.read_bytes(self.file(f"{name}.parquet"))

    # ---- the review page and its thumbnails
    @property
    def review_page(self) -> str:
        return self.file("index.html")

    def write_review_page(self, html: str) -> str:
        return storage.write_text(self.review_page, html)

    def thumb(self, sku: str, name: str) -> str:
        """``thumbs/<key>/<name>``: a thumbnail of one of ``sku``'s images."""
        return self.file("thumbs", sku_key(sku), name)

    def thumb_files(self, sku: str) -> list[str]:
        """The thumbnails stored for ``sku`` (not its index)."""
        return [u for u in storage.list_files(self.file("thumbs", sku_key(sku)), "*") if not u.endswith(".json")]

    def read_thumb_index(self, sku: str) -> dict[str, Any]:
        """``thumbs/<key>/index.json`` of ``sku`` (:mod:`catloc.tasks.review.thumbs`); ``{}`` if none yet."""
        try:
            return storage.read_json(self.thumb(sku, "index.json"))
        except (OSError, ValueError):
            return {}

    def write_thumb_index(self, sku: str, index: dict[str, Any]) -> None:
        storage.write_json(self.thumb(sku, "index.json"), index)

    # ---- applied picks
    def read_applied(self) -> dict[str, Any]:
        """``picks/applied.json``: ``{sku: decision}`` of every SKU picks were applied to; ``{}`` if none."""
        uri = self.file("picks", "applied.json")
        return storage.read_json(uri) if storage.exists(uri) else {}

    def write_applied(self, applied: dict[str, Any]) -> None:
        storage.write_json(self.file("picks", "applied.json"), applied)

    def keep_picks_file(self, stamp: str, name: str, data: bytes) -> str:
        """A copy of a picks file as it was applied: ``picks/<stamp>-<name>``."""
        return storage.write_bytes(self.file("picks", f"{stamp}-{sku_key(name)}"), data)
