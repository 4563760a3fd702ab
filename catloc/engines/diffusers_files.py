"""Checks of the local folders the diffusers engines load from, and their weight digests.

Every check raises :class:`~catloc.engines.base.EngineLoadError` naming the folder, what is
missing and the files expected, before anything is loaded; nothing here touches the network.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from catloc.engines.base import EngineLoadError

PIPELINE_LAYOUT = "model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")


def read_json(path: str, label: str) -> dict[str, Any]:
    """The JSON object in ``path``; EngineLoadError (prefixed ``label``) if it is not one."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise EngineLoadError(f"{label}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise EngineLoadError(f"{label}: {path} is not a JSON object")
    return data


def check_pipeline_dir(model_dir: str | None, label: str, option: str, how: str,
                       layout: str = PIPELINE_LAYOUT) -> tuple[str, dict[str, Any]]:
    """The absolute path and ``model_index.json`` of a saved diffusers pipeline folder.

    Parameters
    ----------
    model_dir : str or None
        The configured folder.
    label : str
        Engine name for the messages, e.g. ``"diffusers inpaint"``.
    option : str
        The config key, e.g. ``"engines.inpaint.options.model_dir"``.
    how : str
        How to provide the folder (appended to every message).
    layout : str
        The files expected, for the messages.
    """
    if not model_dir:
        raise EngineLoadError(f"{label}: {option} is not set; it must be a local directory with a saved "
                              f"pipeline ({layout}): {how}")
    path = os.path.abspath(os.path.expanduser(str(model_dir)))
    if not os.path.isdir(path):
        raise EngineLoadError(f"{label}: model_dir {path} does not exist; it must hold a saved pipeline "
                              f"({layout}): {how}")
    index_path = os.path.join(path, "model_index.json")
    if not os.path.isfile(index_path):
        raise EngineLoadError(f"{label}: model_dir {path} has no model_index.json, so it is not a saved "
                              f"diffusers pipeline (expected {layout}): {how}")
    index = read_json(index_path, label)
    components = [k for k, v in index.items()
                  if not k.startswith("_") and isinstance(v, list) and len(v) == 2 and v[0] and v[1]]
    missing = [f"{k}/" for k in components if not os.path.isdir(os.path.join(path, k))]
    if not components:
        missing.append("the component entries in model_index.json")
    if missing:
        raise EngineLoadError(f"{label}: model_dir {path} is incomplete, missing {', '.join(missing)} "
                              f"(expected {layout}): {how}")
    return path, index


def check_model_dir(folder: str, label: str, what: str, how: str) -> tuple[str, dict[str, Any]]:
    """The absolute path and ``config.json`` of one saved model (a ControlNet, an image encoder):
    a folder with ``config.json`` and a weight file (``*.safetensors`` or ``*.bin``)."""
    path = os.path.abspath(os.path.expanduser(str(folder)))
    expected = "config.json + diffusion_pytorch_model.safetensors (or model.safetensors / *.bin)"
    if not os.path.isdir(path):
        raise EngineLoadError(f"{label}: {what} folder {path} does not exist (expected {expected}): {how}")
    names = os.listdir(path)
    missing = [] if "config.json" in names else ["config.json"]
    if not any(n.endswith((".safetensors", ".bin")) for n in names):
        missing.append("a weight file (*.safetensors or *.bin)")
    if missing:
        raise EngineLoadError(f"{label}: {what} folder {path} is missing {', '.join(missing)} "
                              f"(expected {expected}): {how}")
    return path, read_json(os.path.join(path, "config.json"), label)


def weight_digest(*folders: str) -> str:
    """sha256 (first 16 hex digits) of every weight file under ``folders``: their paths relative
    to their folder and their bytes, in sorted order. Same files, same digest."""
    digest = hashlib.sha256()
    for folder in folders:
        root = Path(folder)
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]
