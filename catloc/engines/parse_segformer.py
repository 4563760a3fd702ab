"""Human parsing with a transformers semantic-segmentation model (SegFormer clothes parsers).

Needs the model saved in a local directory (``model_dir``) in transformers' layout:
``config.json`` (with the model's ``id2label``), ``preprocessor_config.json`` and the weights
(``model.safetensors``, a sharded ``model.safetensors.index.json`` with its shards, or
``pytorch_model.bin``). It is loaded once with ``local_files_only=True`` through
``AutoModelForSemanticSegmentation`` / ``AutoImageProcessor``: nothing is downloaded. Written
for and tested with SegFormer (e.g. the ATR-trained ``mattmdjaga/segformer_b2_clothes``); any
transformers semantic-segmentation model whose labels are in :data:`LABEL_PARTS` loads too.

Each model label name is mapped onto a part of :data:`catloc.engines.base.PARTS` by
:data:`LABEL_PARTS` (names compared in lower case, letters and digits only, so
``Upper-clothes``, ``UpperClothes`` and ``upper_clothes`` are one name). It covers the ATR
"clothes" labels and the LIP / CIHP ones; LIP's ``Jumpsuits`` become ``dress`` (the one-piece
garment part). A label outside the table stops the load with the list of names understood.

:meth:`SegformerParser.parse` shrinks the photo so its longer side is at most ``work_side``
(aspect kept; the preprocessor's own resize is skipped, its rescale and normalisation are
used), runs the model, upsamples the logits bilinearly to the photo's own size and takes per
pixel the most likely label (argmax) and its softmax probability (the score).
"""
from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from catloc.engines.base import PARTS, EngineLoadError, Parsing
from catloc.imaging import resize_longest

# a model's label name (lower case, letters and digits only) -> the part of PARTS it is
LABEL_PARTS: dict[str, str] = {
    # ATR ("clothes": mattmdjaga/segformer_b2_clothes and its kin)
    "background": "background", "hat": "hat", "hair": "hair", "sunglasses": "sunglasses",
    "sunglass": "sunglasses", "upperclothes": "upper_clothes", "skirt": "skirt", "pants": "pants",
    "dress": "dress", "belt": "belt", "leftshoe": "left_shoe", "rightshoe": "right_shoe", "face": "face",
    "leftleg": "left_leg", "rightleg": "right_leg", "leftarm": "left_arm", "rightarm": "right_arm",
    "bag": "bag", "scarf": "scarf",
    # LIP and CIHP (CIHP's files spell Torso-skin "Tosor-skin" in places)
    "coat": "coat", "jumpsuits": "dress", "jumpsuit": "dress", "socks": "sock", "sock": "sock",
    "glove": "glove", "gloves": "glove", "torsoskin": "torso_skin", "tosorskin": "torso_skin", "neck": "neck",
}
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_LAYOUT = f"config.json, preprocessor_config.json and the weights ({' or '.join(_WEIGHTS)})"
_HOW = ("save one on a machine with internet access with AutoModelForSemanticSegmentation.from_pretrained("
        "'<hub id>').save_pretrained('<dir>') and AutoImageProcessor.from_pretrained('<hub id>')"
        ".save_pretrained('<dir>'), or point model_dir at a warm Hugging Face cache snapshot folder; "
        "set engines.parse.options.model_dir")


def _label_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def label_lookup(id2label: dict[Any, str], source: str = "the model") -> np.ndarray:
    """(n_labels,) uint8: the index into :data:`PARTS` of each of a model's labels (by label id).

    Raises EngineLoadError naming every label of ``id2label`` that :data:`LABEL_PARTS` does not
    know, and the names it does know."""
    ids = sorted(int(i) for i in id2label)
    if ids != list(range(len(ids))):
        raise EngineLoadError(f"parse: {source}'s id2label ids must be 0..{len(ids) - 1}, got {ids}")
    names = {int(i): n for i, n in id2label.items()}
    unknown = [names[i] for i in ids if _label_key(names[i]) not in LABEL_PARTS]
    if unknown:
        raise EngineLoadError(f"parse: {source} has labels this engine does not understand: {unknown}; it understands "
                              f"(case, '-', '_' and spaces ignored): {', '.join(sorted(LABEL_PARTS))}")
    return np.array([PARTS.index(LABEL_PARTS[_label_key(names[i])]) for i in ids], dtype=np.uint8)


def _check_model_dir(model_dir: str | None) -> str:
    """The absolute ``model_dir`` if it holds a saved model in transformers' layout, else EngineLoadError."""
    if not model_dir:
        raise EngineLoadError(f"segformer parse: engines.parse.options.model_dir is not set; it must be a local "
                              f"directory with {_LAYOUT}: {_HOW}")
    path = os.path.abspath(os.path.expanduser(str(model_dir)))
    if not os.path.isdir(path):
        raise EngineLoadError(f"segformer parse: model_dir {path} does not exist; it must hold {_LAYOUT}: {_HOW}")
    missing = [f for f in ("config.json", "preprocessor_config.json") if not os.path.isfile(os.path.join(path, f))]
    if not any(os.path.isfile(os.path.join(path, f)) for f in _WEIGHTS):
        missing.append(" or ".join(_WEIGHTS))
    if missing:
        raise EngineLoadError(f"segformer parse: model_dir {path} is missing {', '.join(missing)} "
                              f"(expected {_LAYOUT}): {_HOW}")
    return path


class SegformerParser:
    """The ``segformer`` parse engine. Options: ``model_dir`` (a saved transformers model),
    ``device`` (``cpu`` | ``cuda``), ``work_side`` (px: the longer side of what the model sees)."""

    name = "segformer"

    def __init__(self, model_dir: str | None = None, device: str = "cpu", work_side: int = 512):
        path = _check_model_dir(model_dir)
        if int(work_side) < 32:
            raise EngineLoadError(f"segformer parse: work_side must be >= 32 px, got {work_side}")
        import torch
        from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation

        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise EngineLoadError(f"segformer parse: device {device!r} asked for, but torch sees no CUDA GPU")
        try:
            processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
            model = AutoModelForSemanticSegmentation.from_pretrained(path, local_files_only=True)
        except Exception as exc:  # transformers raises many kinds for a bad folder
            raise EngineLoadError(f"segformer parse: cannot load the model from {path}: {type(exc).__name__}: "
                                  f"{exc} (expected {_LAYOUT}): {_HOW}") from None
        self._lookup = label_lookup(model.config.id2label, f"{path}/config.json")
        self._processor = processor
        self._model = model.to(device).eval()
        self._torch = torch
        self.model_dir = path
        self.device = str(device)
        self.work_side = int(work_side)

    def parse(self, image: np.ndarray) -> Parsing:
        """The :class:`~catloc.engines.base.Parsing` of ``image`` (RGB uint8 (H, W, 3)) at its own
        size: labels (H, W) uint8 into PARTS, scores (H, W) float32 (softmax probability of the label)."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"segformer parse: image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
        torch = self._torch
        small, _ = resize_longest(image, self.work_side)
        pixels = self._processor(images=small, do_resize=False, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            logits = self._model(pixel_values=pixels.to(self.device)).logits
            if logits.shape[1] != len(self._lookup):
                raise ValueError(f"segformer parse: the model returned {logits.shape[1]} classes, "
                                 f"its config names {len(self._lookup)}")
            logits = torch.nn.functional.interpolate(logits.float(), size=image.shape[:2], mode="bilinear",
                                                     align_corners=False)[0]
            score, index = logits.softmax(dim=0).max(dim=0)
        labels = self._lookup[index.cpu().numpy()]
        return Parsing(labels=labels, scores=score.cpu().numpy().astype(np.float32))
