"""Write a catalog CSV for a folder of real photos, one SKU per photo, category from the sub-folder.

A corpus folder holds photos in category sub-folders (``model/``, ``cloth/``, ``still_life/``,
``mannequin/``; others keep their own name). The catalog refers to the photos by absolute path
and never copies them, so run it with a config that allows local files outside the catalog's
folder (``ingest.local_files_outside_catalog: true``)::

    .venv/bin/python bench/corpus_catalog.py ../shared/corpus/dev2 /tmp/dev2/catalog.csv
    .venv/bin/python bench/corpus_catalog.py ../shared/corpus/dev2 /tmp/dev2/catalog.csv --config-out /tmp/dev2/pipeline.yaml
    .venv/bin/catloc run /tmp/dev2/catalog.csv --market sa --config /tmp/dev2/pipeline.yaml --run-id dev2

``--config-out`` writes that config: a copy of ``--config`` (default ``configs/pipeline.yaml``)
with the one setting changed and the markets folder linked beside it. ``--per-category N`` keeps
the first N photos (sorted by name) of each category. ``--clutter`` draws supplier clutter on each
photo with ``catloc.synthetic`` (a promo string and, on every other photo, a QR code on a card,
both near a corner) and writes the drawn copies under ``OUT``'s folder ``images/``, so the run
exercises the clean stage too; the photos themselves are only read.

Columns: ``sku`` (``<category>-<file stem>``), ``image``, ``category``, ``title`` (the file name),
``priority`` (3).
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageOps

CATEGORIES = {"model": "on_model", "cloth": "flatlay", "still_life": "still_life", "mannequin": "mannequin"}
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
PROMO = ("厂家直销 包邮", "新款上市 ¥59", "微信: shop8866", "一件代发")


def corpus_photos(corpus: Path, per_category: int | None) -> list[tuple[str, Path]]:
    """(category, photo path) for every photo in ``corpus``'s sub-folders, sorted by folder then name."""
    found = []
    for sub in sorted(p for p in corpus.iterdir() if p.is_dir()):
        photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        found += [(CATEGORIES.get(sub.name, sub.name), p) for p in photos[:per_category]]
    return found


def draw_clutter(photo: Path, index: int, out_dir: Path) -> Path:
    """A copy of ``photo`` with a promo string near a top corner and, for even ``index``, a QR code
    on a card near a bottom corner (sides alternate with ``index``); returns the PNG's path."""
    from catloc import synthetic

    image = np.asarray(ImageOps.exif_transpose(Image.open(photo)).convert("RGB"))
    h, w = image.shape[:2]
    left = index % 2 == 0
    size = max(18, int(0.045 * min(h, w)))
    text = PROMO[index % len(PROMO)]
    image = synthetic.paint_text(image, (0.04 * w if left else 0.96 * w, 0.04 * h), text,
                                 synthetic.font("cjk", size), (220, 30, 30), anchor="la" if left else "ra").image
    if index % 2 == 0:
        module_px = max(2, int(0.006 * min(h, w)))
        code = synthetic.qr_image(synthetic.qr_modules(f"https://shop.example/{index}"), module_px)
        x = int(0.96 * w) - code.width if left else int(0.04 * w)
        image = synthetic.paint_qr(image, (x, int(0.96 * h) - code.height), code).image
    out = out_dir / f"{photo.parent.name}-{photo.stem}.png"
    Image.fromarray(image).save(out)
    return out


def write_config(base: Path, out: Path) -> None:
    """``base`` with ``ingest.local_files_outside_catalog: true``, and its markets folder linked beside ``out``."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    data.setdefault("ingest", {})["local_files_outside_catalog"] = True
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    markets = out.parent / "markets"
    if not markets.exists():
        os.symlink((base.parent / "markets").resolve(), markets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder with category sub-folders of photos")
    parser.add_argument("out", type=Path, help="the catalog CSV to write")
    parser.add_argument("--per-category", type=int, default=None, help="first N photos of each category")
    parser.add_argument("--clutter", action="store_true", help="draw promo text and QR codes on copies")
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parent.parent / "configs" / "pipeline.yaml")
    parser.add_argument("--config-out", type=Path, help="write a config allowing the corpus's files here")
    args = parser.parse_args(argv)
    photos = corpus_photos(args.corpus.resolve(), args.per_category)
    if not photos:
        print(f"no photos in the sub-folders of {args.corpus}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.clutter:
        (args.out.parent / "images").mkdir(exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["sku", "image", "category", "title", "priority"])
        writer.writeheader()
        for i, (category, photo) in enumerate(photos):
            image = draw_clutter(photo, i, args.out.parent / "images") if args.clutter else photo
            writer.writerow({"sku": f"{photo.parent.name}-{photo.stem}", "image": str(image.resolve()),
                             "category": category, "title": photo.name, "priority": 3})
    if args.config_out:
        write_config(args.config, args.config_out)
    print(f"{args.out}: {len(photos)} SKUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
