"""Stage 2, clean: remove overlaid supplier text and QR codes, keep the product's own text.

:func:`clean_source` runs the steps of :func:`catloc.tasks.clean.pipeline.remove_overlay_text`
on a SKU's source image and stores ``cleaned.png``, ``removed_mask.png`` and ``clean.json``.

The package: ``pipeline`` (the six numbered steps), ``options`` (the ``clean:`` config section),
``decisions`` (keep or remove, rule by rule), ``codes`` (QR codes, barcodes), ``plates``
(banners, stickers, stroke masks), ``product`` (where the product is), ``verify`` (leftovers).
"""
from __future__ import annotations

import numpy as np

from catloc import storage
from catloc.cache import reuse_or_run, stage_key
from catloc.config import EngineSpec
from catloc.engines import load_engine
from catloc.outputs import Cleaned, Source
from catloc.runfolder import SkuFolder
from catloc.tasks.clean.options import CleanOptions
from catloc.tasks.clean.pipeline import remove_overlay_text

ENGINES = ("ocr", "inpaint", "segment")


def clean_source(source: Source, folder: SkuFolder, engines: dict[str, EngineSpec], options: CleanOptions,
                 force: bool = False) -> Cleaned:
    """Clean the SKU's source image (reusing a stored result made from the same bytes and config)."""
    def run() -> Cleaned:
        ocr, inpainter, segmenter = (load_engine(kind, engines[kind]) for kind in ENGINES)
        result = remove_overlay_text(storage.load_rgb(source.image), ocr, inpainter, segmenter, options)
        storage.write_json(folder.file("clean.json"), result.report)
        return Cleaned(image=storage.save_image(folder.file("cleaned.png"), result.cleaned),
                       removed_mask=storage.save_image(folder.file("removed_mask.png"),
                                                       result.removed_mask.astype(np.uint8) * 255),
                       report=result.report)

    key = stage_key("clean", [source.image], {"engines": {k: engines[k] for k in ENGINES}, "options": options})
    return reuse_or_run(folder.manifest("clean"), key, run, Cleaned.from_dict, force)
