"""Stage 1, ingest: read the supplier catalog, validate rows, fetch and decode source images.

A bad row or image never stops the run: it becomes a ``failed`` SKU whose error names the
row or image and the reason.
"""
from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import socket
import time
import urllib.error
import urllib.request
import warnings
from typing import Any, Iterable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from catloc import storage
from catloc.outputs import Source
from catloc.records import CatalogItem, SkuError, SkuRecord
from catloc.runfolder import SkuFolder

MAX_IMAGE_SIDE = 2048  # default ingest.max_image_side: supplier photos keep their resolution up to this (px)
IMAGE_COLUMNS = ("image", "images", "image_url", "image_urls", "image_uri", "url")
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class CatalogError(ValueError):
    """The catalog as a whole cannot be read (missing file, no ``sku`` column...)."""


class TransientFetchError(IOError):
    """A fetch that may succeed if tried again (timeout, connection reset, HTTP 5xx)."""


# --------------------------------------------------------------------------- catalog rows

def _catalog_rows(uri: str) -> Iterable[tuple[int, dict[str, Any] | None, str]]:
    """Yield ``(row_number, fields or None, problem)`` for every data row of the catalog.

    Row numbers are what a person sees: the line in a CSV/JSONL file (header is line 1),
    the 1-based record index in Parquet.
    """
    ext = os.path.splitext(uri.split("?")[0])[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise CatalogError(f"{uri}: unknown catalog format {ext!r} (use .csv, .parquet or .jsonl)")
    try:
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        raise CatalogError(f"catalog not found: {uri}") from None
    if fmt == "parquet":
        import pandas as pd
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise CatalogError(f"{uri}: not a readable Parquet file ({exc})") from None
        for i, rec in enumerate(frame.to_dict("records"), start=1):
            yield i, rec, ""
        return
    text = _decode_text(data, uri)
    if fmt == "jsonl":
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, None, f"invalid JSON ({exc.msg} at column {exc.colno})"
                continue
            yield (line_no, rec, "") if isinstance(rec, dict) else (line_no, None, "expected a JSON object")
        return
    dialect = "excel-tab" if ext == ".tsv" else "excel"
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CatalogError(f"{uri}: the catalog is empty") from None
    if "sku" not in header:
        raise CatalogError(f"{uri}: no 'sku' column (columns: {', '.join(header)})")
    for fields in reader:
        line_no = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(header):
            yield line_no, dict(zip(header, fields)), f"malformed row: {len(fields)} fields, header has {len(header)}"
            continue
        yield line_no, dict(zip(header, fields)), ""


def _decode_text(data: bytes, uri: str) -> str:
    """UTF-8 (with or without BOM); Chinese suppliers' GB18030 exports are accepted too."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise CatalogError(f"{uri}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                               "save the catalog as UTF-8") from None
        warnings.warn(f"{uri}: not UTF-8, read as GB18030")
        return text


def _image_refs(value: Any, base: str) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else str(value).split("|")
    return [resolve_ref(str(v).strip(), base) for v in items if str(v).strip()]


def resolve_ref(ref: str, base: str) -> str:
    """An image reference as a full URI: relative paths are taken from the catalog's folder."""
    if "://" in ref or os.path.isabs(ref):
        return ref
    if storage.is_remote(base):
        return posixpath.join(base, ref)
    return os.path.normpath(os.path.join(base, ref))


def _validate(row: int, rec: dict[str, Any], base: str) -> CatalogItem:
    rec = {str(k).strip().lower(): v for k, v in rec.items()}
    sku = "" if rec.get("sku") is None else str(rec.get("sku")).strip()
    if not sku or sku.lower() == "nan":
        raise ValueError("empty sku")
    column = next((c for c in IMAGE_COLUMNS if c in rec), None)
    if column is None:
        raise ValueError(f"no image column (expected one of: {', '.join(IMAGE_COLUMNS)})")
    images = _image_refs(rec.get(column), base)
    if not images:
        raise ValueError(f"sku {sku!r}: no image reference in column {column!r}")
    raw_priority = rec.get("priority")
    priority = 3
    if raw_priority is not None and str(raw_priority).strip() not in ("", "nan", "None"):
        try:
            priority = int(float(str(raw_priority).strip()))
        except ValueError:
            raise ValueError(f"sku {sku!r}: priority must be a number, got {raw_priority!r}") from None
    clean = lambda v: "" if v is None or str(v) == "nan" else str(v).strip()  # noqa: E731
    return CatalogItem(sku=sku, images=images, row=row, title=clean(rec.get("title")),
                       category=clean(rec.get("category")), priority=priority, catalog_dir=base)


def read_catalog(uri: str) -> tuple[list[CatalogItem], list[SkuRecord]]:
    """Read and validate a catalog. Returns the valid items and a ``failed`` record per bad row.

    Raises :class:`CatalogError` only when the catalog as a whole is unusable.
    """
    uri = str(uri)
    base = posixpath.dirname(uri) if storage.is_remote(uri) else os.path.dirname(os.path.abspath(uri))
    items: list[CatalogItem] = []
    rejected: list[SkuRecord] = []
    first_row: dict[str, int] = {}
    for row, rec, problem in _catalog_rows(uri):
        label = str((rec or {}).get("sku") or "").strip() or f"row-{row}"
        if not problem:
            try:
                item = _validate(row, rec, base)
            except ValueError as exc:
                problem = str(exc)
            else:
                if item.sku in first_row:
                    problem = f"duplicate sku {item.sku!r}: first listed on row {first_row[item.sku]}"
                else:
                    first_row[item.sku] = row
                    items.append(item)
                    continue
        rejected.append(SkuRecord(sku=label, status="failed", stage="ingest", row=row,
                                  error=f"catalog row {row}: {problem}"))
    if not items and not rejected:
        raise CatalogError(f"{uri}: the catalog has no rows")
    return items, rejected


# --------------------------------------------------------------------------- images

def check_ref(ref: str, catalog_dir: str, cfg: dict[str, Any]) -> None:
    """Refuse image references the configuration does not allow (raises :class:`SkuError`).

    - the scheme must be in ``allowed_schemes`` (local paths count as ``file``);
    - local files must lie inside the catalog's folder unless ``local_files_outside_catalog``;
    - with ``block_private_addresses``, http(s) hosts resolving to private, loopback,
      link-local or reserved addresses are refused.
    """
    scheme = ref.split("://", 1)[0].lower() if "://" in ref else "file"
    allowed = [x.lower() for x in cfg.get("allowed_schemes", ["file", "s3", "http", "https"])]
    if scheme not in allowed:
        raise SkuError("ingest", f"image scheme {scheme!r} not allowed (allowed: {', '.join(allowed)}): {ref}")
    if scheme == "file" and not cfg.get("local_files_outside_catalog", False) and catalog_dir \
            and not storage.is_remote(catalog_dir):
        path = os.path.realpath(ref[len("file://"):] if ref.startswith("file://") else ref)
        root = os.path.realpath(catalog_dir)
        if os.path.commonpath([path, root]) != root:
            raise SkuError("ingest", f"local image outside the catalog's folder refused: {ref}")
    if scheme in ("http", "https") and cfg.get("block_private_addresses", False):
        _check_public_host(ref)


def _check_public_host(url: str) -> None:
    import ipaddress
    import socket
    from urllib.parse import urlsplit
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise SkuError("ingest", f"cannot resolve host {host!r}: {url}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise SkuError("ingest", f"image host {host} is a private address ({address}), refused: {url}")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are followed only to URLs that pass the same checks."""

    def __init__(self, cfg: dict[str, Any]):
        self.cfg = cfg

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_ref(newurl, "", self.cfg)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_bytes(ref: str, max_bytes: int, timeout_s: float, cfg: dict[str, Any] | None = None) -> bytes:
    """The raw bytes of an image reference (local path, ``s3://``..., ``http(s)://``).

    HTTP downloads are capped at ``max_bytes`` and ``timeout_s`` in total (a server that
    trickles bytes is cut off too).
    """
    if ref.startswith(("http://", "https://")):
        opener = urllib.request.build_opener(_CheckedRedirects(cfg or {}))
        request = urllib.request.Request(ref, headers={"User-Agent": "catloc/0.1"})
        started = time.monotonic()
        try:
            with opener.open(request, timeout=timeout_s) as response:
                ctype = response.headers.get("Content-Type", "")
                chunks, size = [], 0
                while True:
                    chunk = response.read(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > max_bytes:
                        raise SkuError("ingest", f"image download too large: over {max_bytes} bytes at {ref}")
                    if time.monotonic() - started > timeout_s:
                        raise TransientFetchError(f"timed out after {timeout_s:.0f} s downloading {ref}")
                data = b"".join(chunks)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise TransientFetchError(f"HTTP {exc.code} {exc.reason} for {ref}") from None
            raise SkuError("ingest", f"HTTP {exc.code} {exc.reason} for {ref}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, socket.timeout) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, SkuError):
                raise reason from None
            raise TransientFetchError(f"cannot fetch {ref}: {reason or 'timed out'}") from None
        if "text/html" in ctype.lower():
            raise SkuError("ingest", f"{ref} returned an HTML page, not an image (Content-Type {ctype})")
    else:
        try:
            fs, path = storage.filesystem(ref)
            size = fs.size(path)
            if size is not None and size > max_bytes:
                raise SkuError("ingest", f"image file too large: {size} bytes (limit {max_bytes}) at {ref}")
            data = fs.cat_file(path)
        except FileNotFoundError:
            raise SkuError("ingest", f"image not found: {ref}") from None
        except (IsADirectoryError, PermissionError) as exc:
            raise SkuError("ingest", f"cannot read image {ref}: {exc.__class__.__name__}") from None
    if len(data) > max_bytes:
        raise SkuError("ingest", f"image file too large: over {max_bytes} bytes at {ref}")
    return data


def decode_image(data: bytes, ref: str, *, max_pixels: int, min_side: int, max_side: int) -> np.ndarray:
    """Decode image bytes to an upright RGB uint8 array, at most ``max_side`` px long.

    Handles EXIF orientation, CMYK, 16-bit, palette/alpha (composited on white) and
    animations (first frame). Raises :class:`SkuError` with the reason for anything else.
    """
    if not data:
        raise SkuError("ingest", f"empty file (0 bytes): {ref}")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        raise SkuError("ingest", f"not an image: {ref} is an HTML/XML page (an error page served as an image?)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if width * height > max_pixels:
                raise SkuError("ingest", f"image too large to decode safely: {width}x{height} px "
                                         f"(limit {max_pixels} px): {ref}")
            im.seek(0)  # animated GIF/WebP/PNG: the first frame
            im.load()
    except SkuError:
        raise
    except UnidentifiedImageError:
        raise SkuError("ingest", f"not an image (unrecognised format): {ref}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SkuError("ingest", f"image too large to decode safely ({exc}): {ref}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise SkuError("ingest", f"broken image (truncated or corrupt: {exc}): {ref}") from None
    im = ImageOps.exif_transpose(im)
    im = _to_rgb(im)
    if min(im.size) < min_side:
        raise SkuError("ingest", f"image too small: {im.size[0]}x{im.size[1]} px (minimum side {min_side}): {ref}")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8).copy()


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def fetch_with_retries(ref: str, ingest_cfg: dict[str, Any], sleep=time.sleep) -> bytes:
    """:func:`fetch_bytes` of ``ref``, tried again after a :class:`TransientFetchError` up to
    ``fetch_retries`` times, waiting ``fetch_retry_delay_s`` seconds before each retry (a list: one
    delay per retry, the last one repeating). A bad image or an HTTP 404 is never retried.

    Raises :class:`SkuError` when the last try still fails transiently.
    """
    retries = int(ingest_cfg.get("fetch_retries", 2))
    delays = ingest_cfg.get("fetch_retry_delay_s", [2, 10])
    delays = [float(d) for d in (delays if isinstance(delays, (list, tuple)) else [delays])] or [0.0]
    for attempt in range(retries + 1):
        try:
            return fetch_bytes(ref, int(ingest_cfg.get("max_image_bytes", 40 << 20)),
                               float(ingest_cfg.get("http_timeout_s", 20)), ingest_cfg)
        except TransientFetchError as exc:
            if attempt == retries:
                raise SkuError("ingest", f"{exc} (still failing after {retries} retries)") from None
            sleep(delays[min(attempt, len(delays) - 1)])
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_source(item: CatalogItem, folder: SkuFolder, ingest_cfg: dict[str, Any]) -> Source:
    """Fetch and decode every image of ``item``; store them as ``source-<i>.png`` in ``folder``.

    The first image that decodes is the one the pipeline localizes; the problems with the others
    are kept. Transient fetch errors are retried (:func:`fetch_with_retries`). Raises
    :class:`SkuError` when no image decodes.
    """
    problems, stored = [], []
    for i, ref in enumerate(item.images):
        try:
            check_ref(ref, item.catalog_dir, ingest_cfg)
            data = fetch_with_retries(ref, ingest_cfg)
            image = decode_image(data, ref, max_pixels=int(ingest_cfg.get("max_image_pixels", 50_000_000)),
                                 min_side=int(ingest_cfg.get("min_image_side", 64)),
                                 max_side=int(ingest_cfg.get("max_image_side", MAX_IMAGE_SIDE)))
        except SkuError as exc:
            problems.append(exc.message)
            continue
        stored.append(storage.save_image(folder.file(f"source-{i}.png"), image))
    if not stored:
        raise SkuError("ingest", "; ".join(problems))
    return Source(image=stored[0], images=stored, problems=problems)
