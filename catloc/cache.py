"""Content-addressed reuse of stage outputs.

A stage's key is a hash of its name, :data:`STAGE_VERSIONS` (bumped when a stage's code
changes what it produces), the *bytes* of its input files and its configuration. The stage
writes a manifest ``<sku_dir>/<stage>.manifest.json`` next to its outputs holding the key and
the output; a later run (resume, rerun) reuses the output only when the key matches and every
output file still exists. Changed images or config therefore recompute; unchanged work does
not. The manifest is written last (atomically), so a stage killed half-way is never reused.

The manifests live in the run folder beside the files they describe (``RunFolder`` names them),
rather than in Prefect's result store, so validity is checked against the files themselves.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, is_dataclass
from typing import Any, Callable, TypeVar

from catloc import storage
from catloc.outputs import to_plain

T = TypeVar("T")

STAGE_VERSIONS = {"clean": 23, "analyse": 4, "localize": 5, "qc": 11}


def file_digest(uri: str) -> str:
    return hashlib.sha256(storage.read_bytes(uri)).hexdigest()


def stage_key(stage: str, inputs: list[str], config: Any) -> str:
    h = hashlib.sha256(f"{stage}\x00{STAGE_VERSIONS.get(stage, 0)}\x00".encode())
    for uri in inputs:
        h.update(file_digest(uri).encode())
    h.update(stable_hash(config).encode())
    return h.hexdigest()


def stable_hash(obj: Any) -> str:
    """sha256 of ``obj`` as canonical JSON (dataclasses as dicts, anything else as ``str``)."""
    def plain(value: Any) -> Any:
        return asdict(value) if is_dataclass(value) else str(value)
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=plain).encode()).hexdigest()


FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".json")


def _uris(obj: Any) -> list[str]:
    """Every stored file a stage output points to (string values naming a .png/.jpg/.json)."""
    found = []
    if isinstance(obj, str):
        return [obj] if obj.lower().endswith(FILE_SUFFIXES) else []
    if isinstance(obj, dict):
        for v in obj.values():
            found.extend(_uris(v))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(_uris(v))
    return found


def reuse_or_run(manifest: str, key: str, run: Callable[[], T], load: Callable[[Any], T],
                 force: bool = False) -> T:
    """The output stored in ``manifest`` (rebuilt by ``load``) if its key is ``key`` and every file
    it names still exists; else ``run()``, whose output is then recorded in ``manifest``."""
    if not force and storage.exists(manifest):
        try:
            stored = storage.read_json(manifest)
        except (ValueError, OSError):
            stored = {}
        if stored.get("key") == key and all(storage.exists(u) for u in _uris(stored.get("output"))):
            return load(stored["output"])
    output = run()
    storage.write_json(manifest, {"key": key, "output": to_plain(output)})
    return output
