"""Benchmark of the clean stage (``tasks.clean.remove_overlay_text``) on photos with known ground truth.

Each CLEAN photo -- drawn here, or a real one from ``--corpus DIR`` (only read, never copied) -- is
read by the configured OCR engine first: what it reads with confidence is the photo's own product
text (logos, labels, packaging), which must still be legible after cleaning. Then a brand print is
drawn on the product (an extra product text) and supplier clutter on top, the way suppliers add it
(``bench/clean_layout.py``: promo strings in corners, on banners, crossing the product and fully on
the garment; Chinese shop names, prices, handles and URLs; QR codes, bare or on a captioned card;
a tiled watermark over everything), every item with its own ground-truth mask. The clean stage runs
with the engines and ``clean:`` options of the config and the market's settings (``--market``);
engines are loaded once, only the clean call is timed. ``bench/clean_score.py`` defines every measure.

Photos keep their own resolution up to ``--max-side`` (default: the config's ``ingest.max_image_side``),
decoded as ingest decodes them; drawn photos are ``--size`` px. Categories: the sub-folders of
``--corpus`` (``model``, ``cloth`` -> ``flat``, ``still_life``, ``mannequin``; any other name as it is),
or the folder itself when its photos lie directly in it; drawn photos are ``drawn``. Every figure is
reported per category and for all (table on stdout, ``--json`` for everything, per item too):

  overlay strings gone   share of the promo strings OCR reads in the input (on their padded box) that it
                         no longer reads after cleaning; by style below it
  overlay residual       mean |cleaned - clean original| / mean |input - clean original| over the strings'
                         pixels (0 = restored, 1 = untouched); QR residual: over each code's whole square
                         with quiet zone and card; watermark residual: over every pixel the tiles changed
  photo text legible     share of the photo's own confident readings (score >= 0.8, >= 2 letters or digits)
                         legible on the clean photo that are still legible after cleaning, at output size
  drawn print legible    the same for the drawn brand print
  PSNR outside           between cleaned and clean original, outside every drawn pixel grown by 12 px
  seconds                wall time of the clean call; per 1024-px image: x (1024 / longer side)²; every case
                         also records its CPU seconds (all threads) and the 1-minute load average it ran at
  --profile              wall and CPU seconds per step of the clean stage and per engine
                         (``bench/clean_profile.py``), per category, after the figures

Run from the repository root:
  .venv/bin/python bench/clean.py --n 24 --seed 0
  .venv/bin/python bench/clean.py --corpus ../shared/corpus/dev2 --photo-overlays bench/photo_overlays.yaml \
      --json bench/out/dev2.json
  .venv/bin/python bench/clean.py --corpus ../shared/corpus/dev2 --n 8 --save-examples bench/out/examples
  .venv/bin/python bench/clean.py --corpus ../shared/corpus/dev2 --n 12 --profile
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import sys
import time
import zlib
from contextlib import nullcontext
from pathlib import Path

import cv2
import numpy as np
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]
from catloc.config import load_market, load_pipeline_config  # noqa: E402
from catloc.engines import load_engine  # noqa: E402
from catloc.tasks.clean.options import CleanOptions  # noqa: E402
from catloc.tasks.clean.pipeline import remove_overlay_text  # noqa: E402
from catloc.tasks.ingest import decode_image  # noqa: E402
from clean_layout import make_case, quad_box  # noqa: E402
from clean_profile import StepClock, load_average, print_profile, summarise_profile  # noqa: E402
from clean_score import judge, photo_text, print_table, summarise  # noqa: E402
from tests.synth import supplier_photo  # noqa: E402

CATEGORY_NAMES = {"cloth": "flat", "flat": "flat", "model": "model", "still_life": "still_life",
                  "mannequin": "mannequin"}
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
SYNTH_LOOKS = [((236, 236, 232), (40, 90, 160)), ((250, 250, 250), (180, 30, 40)),  # (backdrop, garment)
               ((225, 220, 210), (30, 30, 30)), ((240, 240, 245), (60, 140, 80)),
               ((214, 214, 214), (235, 200, 60)), ((248, 244, 238), (120, 70, 150))]


# ---------------------------------------------------------------- inputs
def corpus_photos(corpus: str) -> list[tuple[str, str, Path]]:
    """(category, name, path) of every photo under ``corpus``: its sub-folders are categories
    (CATEGORY_NAMES), photos lying directly in it are the category named after the folder."""
    root = Path(corpus)
    out = [(root.name, p.stem, p) for p in sorted(root.iterdir()) if p.suffix.lower() in SUFFIXES]
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        category = CATEGORY_NAMES.get(folder.name, folder.name)
        out += [(category, f"{folder.name}/{p.stem}", p) for p in sorted(folder.rglob("*"))
                if p.suffix.lower() in SUFFIXES]
    if not out:
        raise SystemExit(f"no photos under {corpus}")
    return out


def pick(photos: list, n: int | None) -> list:
    """The first ``n`` photos taken round-robin over the categories (all of them when ``n`` is None)."""
    if n is None or n >= len(photos):
        return photos
    by_cat: dict[str, list] = {}
    for p in photos:
        by_cat.setdefault(p[0], []).append(p)
    queues, out = list(by_cat.values()), []
    while len(out) < n:
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def drawn_photo(i: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Drawn photo ``i``: the flat-lay shirt of tests/synth.py in one of SYNTH_LOOKS, with soft studio
    light, sensor noise, and mirrored for odd ``i``."""
    bg, garment = SYNTH_LOOKS[i % len(SYNTH_LOOKS)]
    image, _, _ = supplier_photo(size, overlay=False, product_text=None, background=bg, garment=garment)
    yy, xx = np.mgrid[0:size, 0:size] / size
    light = 1.03 - 0.06 * np.hypot(yy - 0.4, xx - 0.5)
    image = np.clip(image * light[..., None] + rng.normal(0, 1.5, image.shape), 0, 255).astype(np.uint8)
    return image[:, ::-1].copy() if i % 2 else image


def load_inputs(args, max_side: int):
    """(category, name, clean RGB photo) for every photo of the run, read lazily."""
    if args.corpus is None:
        rng = np.random.default_rng(args.seed)
        for i in range(args.n or 20):
            yield "drawn", f"drawn{i:02d}", drawn_photo(i, args.size, rng)
        return
    for category, name, path in pick(corpus_photos(args.corpus), args.n):
        image = decode_image(path.read_bytes(), str(path), max_pixels=200_000_000, min_side=16, max_side=max_side)
        yield category, name, image


def photo_overlays(path: str | None, name: str) -> list[re.Pattern]:
    """The ``--photo-overlays`` patterns for photo ``name`` (a YAML mapping of photo name -> list of
    regular expressions: text the photo already carries that is not product text)."""
    if not path:
        return []
    table = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return [re.compile(p, re.IGNORECASE) for p in table.get(name, [])]


# ---------------------------------------------------------------- one photo
def cluttered(args, engines, name: str, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """Photo ``name`` with supplier clutter drawn on it (the same for the same ``--seed``): the clean
    photo with the drawn brand print, the input with the clutter, and every ground-truth item (the
    photo's own confident text first)."""
    ocr, _, segmenter = engines
    rng = np.random.default_rng([args.seed, zlib.crc32(name.encode())])
    truth = photo_text(ocr, clean, photo_overlays(args.photo_overlays, name))
    keep_clear = [quad_box(it.quad) for it in truth]
    product = segmenter.segment(clean)
    base, image, items = make_case(clean, product, rng, keep_clear, qr=rng.random() < 0.5,
                                   watermark=rng.random() < 1 / 3)
    return base, image, truth + items


def run_case(args, engines, options, category: str, name: str, clean: np.ndarray) -> tuple[dict, tuple]:
    """Draw, clean and judge one photo: its case record, and what to save as an example."""
    ocr = engines[0]
    base, image, items = cluttered(args, engines, name, clean)
    cv2.setRNGSeed(args.seed)
    clock = StepClock() if args.profile else None
    load = load_average()
    with clock.steps() if clock else nullcontext():
        t0, c0 = time.perf_counter(), time.process_time()
        result = remove_overlay_text(image, *(clock.engines(*engines) if clock else engines), options)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    h, w = image.shape[:2]
    per_1024 = (1024 / max(h, w)) ** 2
    case = {"category": category, "name": name, "size": [w, h], "seconds": round(seconds, 3),
            "seconds_1024": round(seconds * per_1024, 3), "cpu_seconds": round(cpu, 3),
            "cpu_seconds_1024": round(cpu * per_1024, 3), "load": load,
            "output_hash": output_hash(result),
            **({"profile": clock.record(per_1024)} if clock else {}),
            **judge(ocr, base, image, result.cleaned, result.removed_mask | result.deblended_mask, items)}
    return case, (image, result, items)


def output_hash(result) -> str:
    """MD5 of everything the clean call returned (images, masks, report): two ``--json`` files of the
    same inputs tell which photos a code change altered, to the bit."""
    digest = hashlib.md5()
    for array in (result.cleaned, result.removed_mask, result.product_mask, result.deblended_mask):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps(result.report, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def case_line(i: int, total: str, case: dict) -> str:
    """One progress line: what was left and what was lost."""
    rows = case["items"]
    left = [r["text"] or "QR" for r in rows if r["kind"] in ("overlay", "qr") and r.get("seen_before")
            and r["present_after"]]
    lost = [r["text"] for r in rows if r["kind"] in ("photo_text", "print") and r.get("legible_before")
            and not r["legible_after"]]
    w, h = case["size"]
    return (f"[{i:3d}/{total}] {case['category']:10s} {case['name'][:44]:44s} {w}x{h} clean {case['seconds']:.2f}s "
            f"(cpu {case['cpu_seconds']:.2f}s, load {case['load']:.1f}) psnr-out {case['psnr_outside_db']}  "
            f"left: {left}  lost: {lost}")


def save_example(path: Path, image, result, items) -> None:
    """input | cleaned | drawn truth (red) vs the removed mask (green; yellow = both; a de-blended
    watermark's pixels cyan), product text boxes in blue; written at most 1600 px wide."""
    truth = np.zeros(image.shape[:2], bool)
    for it in items:
        if it.kind in ("overlay", "qr", "watermark"):
            truth |= it.mask
    diag = (image * 0.35).astype(np.uint8)
    diag[truth] = (220, 40, 40)
    diag[result.deblended_mask] = (40, 200, 220)
    diag[result.removed_mask] = (40, 200, 40)
    diag[truth & result.removed_mask] = (230, 220, 40)
    for it in items:
        if it.kind in ("photo_text", "print"):
            cv2.polylines(diag, [np.round(it.quad).astype(np.int32)], True, (80, 160, 255), 2)
    sheet = Image.fromarray(np.concatenate([image, result.cleaned, diag], axis=1))
    sheet.thumbnail((2400, 1600))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


# ---------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", help="folder of real clean photos, sub-folders are categories (read only); "
                                     "default: drawn photos")
    ap.add_argument("--n", type=int, help="number of photos (default: all of the corpus; 20 drawn ones)")
    ap.add_argument("--size", type=int, default=1024, help="longer side of the drawn photos (px)")
    ap.add_argument("--max-side", type=int, help="corpus photos larger than this are shrunk to it "
                                                 "(default: the config's ingest.max_image_side)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="pipeline.yaml (default: configs/pipeline.yaml)")
    ap.add_argument("--market", default="sa", help="market whose clean settings apply (default sa)")
    ap.add_argument("--photo-overlays", help="YAML: photo name -> regexes of text the photo carries that is "
                                             "not product text")
    ap.add_argument("--json", help="write the figures and every item's result here")
    ap.add_argument("--save-examples", help="folder for input | cleaned | masks pictures")
    ap.add_argument("--profile", action="store_true", help="time the clean stage step by step and per engine "
                                                            "(wall and CPU seconds; bench/clean_profile.py)")
    return ap.parse_args(argv)


def setup(args):
    """The engines (ocr, inpaint, segment), the clean options and the max side, with a line saying which."""
    cfg = load_pipeline_config(args.config)
    engines = tuple(load_engine(k, cfg.engine(k)) for k in ("ocr", "inpaint", "segment"))
    market = load_market(args.market, cfg)
    options = CleanOptions.for_market(cfg.clean, market)
    max_side = args.max_side or int(cfg.ingest.get("max_image_side", 1024))
    print(f"config {cfg.path}: ocr={cfg.engine('ocr').name} inpaint={cfg.engine('inpaint').name} "
          f"segment={cfg.engine('segment').name}; market {market.code}; max side {max_side} px")
    return engines, options, max_side


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    engines, options, max_side = setup(args)
    cases, t_start = [], time.perf_counter()
    total = str(len(pick(corpus_photos(args.corpus), args.n)) if args.corpus else args.n or 20)
    for i, (category, name, clean) in enumerate(load_inputs(args, max_side), 1):
        case, example = run_case(args, engines, options, category, name, clean)
        cases.append(case)
        print(case_line(i, total, case), flush=True)
        if args.save_examples:
            save_example(Path(args.save_examples) / f"{i:03d}_{name.replace('/', '_')}.png", *example)
    summary = summarise(cases)
    print_table(summary, f"\nclean benchmark: {len(cases)} photos from {args.corpus or 'drawing'}, seed {args.seed}, "
                         f"market {args.market}, total {time.perf_counter() - t_start:.0f} s")
    profile = summarise_profile(cases) if args.profile else None
    if profile:
        print_profile(profile)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "profile": profile, "args": vars(args),
                                               "clean_options": dataclasses.asdict(options), "cases": cases},
                                              ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return summary


if __name__ == "__main__":
    main()
