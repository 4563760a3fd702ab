"""Reading and writing run artifacts at any fsspec URI (local path, ``s3://``, ...).

Every write is all-or-nothing: on a local disk the bytes go to a temporary name in the
target folder and are renamed into place (``os.replace`` is atomic); on object stores a
single PUT is already atomic (the object appears complete or not at all). A reader never
sees a half-written file, even if the process is killed mid-write.

Per-protocol options (endpoint, profile, ...) come from fsspec's own configuration:
``FSSPEC_S3_ENDPOINT_URL``-style environment variables or ``storage_options`` in
``pipeline.yaml`` (see :func:`configure`).
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import uuid
from typing import Any

import fsspec
import fsspec.config
import numpy as np
from fsspec.implementations.local import LocalFileSystem
from PIL import Image


def configure(storage_options: dict[str, dict[str, Any]]) -> None:
    """Merge ``{protocol: {option: value}}`` into fsspec's per-protocol defaults."""
    for protocol, options in (storage_options or {}).items():
        fsspec.config.conf.setdefault(protocol, {}).update(options or {})


def is_remote(uri: str) -> bool:
    return "://" in str(uri) and not str(uri).startswith("file://")


def join(base: str, *parts: str) -> str:
    """Join URI parts with ``/`` (works for local paths and ``scheme://`` URIs)."""
    base = str(base)
    if not is_remote(base):
        return os.path.join(base, *parts)
    return posixpath.join(base.rstrip("/"), *parts)


def relative_to(uri: str, base: str) -> str:
    """``uri`` relative to ``base`` when it lies under it, else ``uri`` unchanged."""
    uri, base = str(uri), str(base).rstrip("/")
    if not is_remote(base):
        try:
            rel = os.path.relpath(uri, base)
        except ValueError:
            return uri
        return uri if rel.startswith("..") else rel.replace(os.sep, "/")
    return uri[len(base) + 1:] if uri.startswith(base + "/") else uri


def filesystem(uri: str):
    """The fsspec filesystem for ``uri`` and the path within it."""
    fs, path = fsspec.core.url_to_fs(str(uri))
    return fs, path


def exists(uri: str) -> bool:
    fs, path = filesystem(uri)
    return fs.exists(path)


def remove(uri: str) -> None:
    fs, path = filesystem(uri)
    fs.rm(path)


def sweep_temp_files(uri: str) -> int:
    """Delete temporary files a killed writer left under ``uri`` (``.<name>.tmp-<id>``); returns
    how many. Their real names were never written half-way: only the temporaries are partial."""
    stale = list_files(uri, "**/.*.tmp-*")
    for path in stale:
        remove(path)
    return len(stale)


def read_bytes(uri: str) -> bytes:
    fs, path = filesystem(uri)
    return fs.cat_file(path)


def write_bytes(uri: str, data: bytes) -> str:
    """Write ``data`` to ``uri`` atomically; returns ``uri``."""
    fs, path = filesystem(uri)
    if isinstance(fs, LocalFileSystem):
        folder = os.path.dirname(path) or "."
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        fs.pipe_file(path, data)
    return uri


def write_text(uri: str, text: str) -> str:
    return write_bytes(uri, text.encode("utf-8"))


def write_json(uri: str, obj: Any) -> str:
    return write_text(uri, json.dumps(obj, ensure_ascii=False, indent=1, default=_json_default))


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri).decode("utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode_png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def encode_jpeg(array: np.ndarray, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def save_image(uri: str, array: np.ndarray) -> str:
    """Save an RGB (H, W, 3) or mask (H, W) uint8 array as PNG (lossless)."""
    return write_bytes(uri, encode_png(array))


def load_rgb(uri: str) -> np.ndarray:
    with Image.open(io.BytesIO(read_bytes(uri))) as im:
        return np.asarray(im.convert("RGB"))


def load_mask(uri: str) -> np.ndarray:
    """Load a mask PNG as a boolean (H, W) array."""
    with Image.open(io.BytesIO(read_bytes(uri))) as im:
        return np.asarray(im.convert("L")) > 127


def list_files(uri: str, pattern: str) -> list[str]:
    """URIs under ``uri`` matching the glob ``pattern`` (e.g. ``skus/*/record.json``)."""
    fs, path = filesystem(uri)
    found = sorted(fs.glob(posixpath.join(path, pattern)))
    if isinstance(fs, LocalFileSystem):
        return found
    protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    return [f"{protocol}://{p}" for p in found]
