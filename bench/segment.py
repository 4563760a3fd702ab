"""Measure the configured segment engine and mask confidence: on drawn photos with known masks, and
on a folder of real photos for judging by eye.

Drawn photos (``tests/synth.py`` draws them; every mask is known): a model on a vignetted studio
backdrop, the same in a white garment, a dark figure crossing the top and bottom edges of a
gradient, a white T-shirt on white paper, a box with a soft cast shadow, a product on a busy mosaic.
For each: IoU with the true mask, the mask confidence and its reasons, seconds. Then the confidence
of deliberately broken masks of the model (hair only, the head cut in half, the legs left out, the
floor kept), which must all stay below ``qc.min_mask_confidence``.

``--corpus DIR`` (photos in sub-folders, e.g. ``../shared/corpus/dev2``; only read) segments every
photo at the ingest size (``ingest.max_image_side``) and prints, per photo: seconds, the mask's share
of the photo, its confidence and reasons; ``--sheets OUT`` also writes one overlay sheet per
sub-folder (backdrop tinted, outline drawn) to look at: there is no ground truth for real photos.

    .venv/bin/python bench/segment.py
    .venv/bin/python bench/segment.py --corpus ../shared/corpus/dev2 --sheets bench/out/segment --json bench/out/segment.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/synth.py draws the photos

from catloc.config import load_pipeline_config  # noqa: E402
from catloc.engines import load_engine  # noqa: E402
from catloc.imaging import resize_longest  # noqa: E402
from catloc.mask_confidence import mask_confidence  # noqa: E402
from tests.synth import model_photo, shirt  # noqa: E402


def drawn_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (RGB photo, true product mask)."""
    cases = {}
    image, parts = model_photo()
    cases["model, vignetted studio"] = (image, parts["person"])
    image, parts = model_photo(garment=(246, 246, 243), seed=1)
    cases["model in white, vignetted studio"] = (image, parts["person"])
    h, w = 640, 480
    ys, xs = np.mgrid[0:h, 0:w]
    grad = np.clip(240 - 25 * ((xs - w / 2) / w) ** 2 - 10 * ys / h, 0, 255)[..., None].repeat(3, -1)
    truth = np.zeros((h, w), bool)
    truth[:, 190:290] = True
    truth[200:480, 120:360] = True
    grad[truth] = 25
    cases["figure crossing top and bottom, gradient"] = (cv2.GaussianBlur(grad.astype(np.uint8), (3, 3), 0), truth)
    tee, truth = shirt(480, (247, 247, 247), (240, 240, 240))
    cases["white T-shirt on white paper"] = (cv2.GaussianBlur(tee, (3, 3), 0), truth)
    box = np.full((480, 480, 3), 245, np.float32)
    shadow = np.zeros((480, 480), np.float32)
    cv2.ellipse(shadow, (260, 352), (150, 26), 0, 0, 360, 1.0, -1)
    box *= (1 - 0.35 * cv2.GaussianBlur(shadow, (0, 0), 9))[..., None]
    truth = np.zeros((480, 480), bool)
    truth[140:340, 150:330] = True
    box[truth] = (190, 40, 40)
    cases["box with a cast shadow"] = (box.astype(np.uint8), truth)
    rng = np.random.default_rng(5)
    mosaic = np.repeat(np.repeat(rng.integers(0, 255, (30, 40, 3)), 16, 0), 16, 1).astype(np.uint8)
    truth = np.zeros(mosaic.shape[:2], np.uint8)
    cv2.ellipse(truth, (320, 240), (110, 150), 0, 0, 360, 1, -1)
    mosaic[truth > 0] = (30, 110, 60)
    cases["product on a busy mosaic"] = (mosaic, truth > 0)
    return cases


def broken_masks() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (the model photo, a broken mask of it)."""
    image, parts = model_photo()
    head = parts["hair"] | parts["face"]
    half = np.zeros_like(head)
    half[:, : head.shape[1] // 2] = True
    floor = parts["person"].copy()
    floor[-60:-20, :] = True
    return {"hair only": (image, parts["hair"]), "head cut in half": (image, parts["person"] & ~(head & half)),
            "legs left out": (image, parts["person"] & ~parts["legs"]), "floor kept": (image, floor)}


def run_drawn(segmenter) -> list[dict]:
    rows = []
    for name, (image, truth) in drawn_cases().items():
        started = time.perf_counter()
        mask = segmenter.segment(image)
        seconds = time.perf_counter() - started
        conf = mask_confidence(image, mask)
        iou = float((mask & truth).sum() / max(1, (mask | truth).sum()))
        rows.append({"case": name, "iou": round(iou, 3), "confidence": conf.score, "seconds": round(seconds, 3),
                     "reasons": conf.reasons})
    for name, (image, mask) in broken_masks().items():
        conf = mask_confidence(image, mask)
        rows.append({"case": f"broken: {name}", "iou": None, "confidence": conf.score, "seconds": None,
                     "reasons": conf.reasons})
    return rows


def overlay(image: np.ndarray, mask: np.ndarray, label: str, side: int = 300) -> Image.Image:
    """A thumbnail of ``image`` with the backdrop tinted magenta and the mask's outline in green."""
    vis = image.astype(np.float32)
    vis[~mask] = vis[~mask] * 0.3 + np.array([255, 0, 255]) * 0.45
    vis = np.clip(vis, 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(vis, contours, -1, (0, 255, 0), max(1, image.shape[0] // 300))
    thumb = Image.fromarray(vis)
    thumb.thumbnail((side, side))
    tile = Image.new("RGB", (side, side + 16), "white")
    tile.paste(thumb, ((side - thumb.width) // 2, 0))
    ImageDraw.Draw(tile).text((2, side + 2), label, fill="black")
    return tile


def run_corpus(segmenter, corpus: Path, side: int, sheets: Path | None) -> list[dict]:
    rows, tiles = [], {}
    for photo in sorted(p for p in corpus.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")):
        image, _ = resize_longest(np.asarray(Image.open(photo).convert("RGB")), side)
        started = time.perf_counter()
        mask = segmenter.segment(image)
        seconds = time.perf_counter() - started
        conf = mask_confidence(image, mask)
        rows.append({"photo": f"{photo.parent.name}/{photo.name}", "seconds": round(seconds, 3),
                     "share": round(float(mask.mean()), 3), "confidence": conf.score, "reasons": conf.reasons})
        print(f"{rows[-1]['photo'][:48]:48s} {seconds:5.2f}s share {mask.mean():.2f} conf {conf.score:.2f} "
              f"{'; '.join(conf.reasons)[:90]}", flush=True)
        if sheets is not None:
            tiles.setdefault(photo.parent.name, []).append(overlay(image, mask, f"{photo.stem[:30]} c={conf.score:.2f}"))
    for folder, items in tiles.items():
        cols = 6
        sheet = Image.new("RGB", (cols * 300, -(-len(items) // cols) * 316), "white")
        for i, tile in enumerate(items):
            sheet.paste(tile, ((i % cols) * 300, (i // cols) * 316))
        sheets.mkdir(parents=True, exist_ok=True)
        sheet.save(sheets / f"{folder}.png")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="folder of photos in sub-folders (only read)")
    parser.add_argument("--sheets", type=Path, help="write overlay sheets per sub-folder here")
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument("--config", type=Path, help="pipeline config (default: the packaged one)")
    args = parser.parse_args(argv)
    cfg = load_pipeline_config(args.config)
    segmenter = load_engine("segment", cfg.engine("segment"))
    threshold = float(cfg.qc.get("min_mask_confidence", 0.8))
    rows = run_drawn(segmenter)
    for row in rows:
        iou = "" if row["iou"] is None else f"IoU {row['iou']:.3f}"
        print(f"{row['case'][:44]:44s} {iou:10s} conf {row['confidence']:.2f} "
              f"{'(trusted)' if row['confidence'] >= threshold else '(not trusted)'}  {'; '.join(row['reasons'])[:80]}")
    if args.corpus:
        rows += run_corpus(segmenter, args.corpus, int(cfg.ingest.get("max_image_side", 1024)), args.sheets)
        times = [r["seconds"] for r in rows if "photo" in r]
        trusted = sum(r["confidence"] >= threshold for r in rows if "photo" in r)
        print(f"{len(times)} photos: {np.mean(times):.2f} s mean, {np.max(times):.2f} s max per photo; "
              f"{trusted} masks trusted (confidence >= {threshold})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
