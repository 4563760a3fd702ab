#!/usr/bin/env python3
"""How fast the review page loads with a big run: 300 SKUs x 8 candidates, in headless Chromium.

Builds a synthetic run folder (``tests/review_run.py``: candidate PNGs — drawn, or real photos
with ``--photos DIR`` — SKU records, the sheets, the real thumbnails and ``index.html`` from the
export code), then opens its page
``--repeat`` times, each in a fresh browser profile (no cached images), and reads the
browser's own clock (``performance``, ms from the start of navigation):

- ``ready``: the page has parsed its data, built every SKU and listens to the keys
  (load-to-interactive);
- ``first_screen``: every thumbnail of the first screen is shown (checked in the page every frame);
- ``load_event``: the window's load event (thumbnails below the first screen load lazily);
- ``key_to_paint``: a key press (P) until the picked candidate is marked.

It also prints the size of ``index.html`` and of the thumbnails (WebP, longer side 320 px).

Usage::

    .venv/bin/python bench/review_page.py                      # 300 x 8, 5 loads
    .venv/bin/python bench/review_page.py --skus 300 --candidates 8 --side 640 --repeat 5 --json bench/out/page.json
    .venv/bin/python bench/review_page.py --photos ../shared/corpus/dev2 --out bench/out/review_page_photos
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser import chromium, chromium_path  # noqa: E402
from tests.review_run import make_review_run  # noqa: E402

# runs in the page from its first moment: notes (every frame) when the first screen's thumbnails are all shown
FIRST_SCREEN_WATCH = """window.__firstScreen = null;
(function check() {
  const shown = [...document.querySelectorAll('img')].filter(i => {
    const r = i.getBoundingClientRect(); return r.width && r.bottom > 0 && r.top < innerHeight; });
  if (document.body && document.body.dataset.ready === '1' && shown.length &&
      shown.every(i => i.complete && i.naturalWidth > 0)) { window.__firstScreen = performance.now(); return; }
  requestAnimationFrame(check);
})();"""


def build(out: Path, skus: int, candidates: int, side: int, photos: Path | None) -> Path:
    """The synthetic run folder (made once; reused while it has the same shape)."""
    page = out / "bench" / "index.html"
    shape = out / "shape.json"
    wanted = {"skus": skus, "candidates": candidates, "side": side, "photos": str(photos or "")}
    if page.exists() and shape.exists() and json.loads(shape.read_text()) == wanted:
        return page
    started = time.perf_counter()
    failed = tuple(range(7, skus, 50))  # a few failed SKUs, as in a real night
    found = tuple(sorted(str(p) for p in photos.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))) \
        if photos else ()
    if photos and not found:
        sys.exit(f"no photos under {photos}")
    make_review_run(out, run_id="bench", n_skus=skus, n_candidates=candidates, side=side, failed=failed, photos=found)
    shape.write_text(json.dumps(wanted))
    print(f"built {skus} SKUs x {candidates} candidates ({side} px) in {time.perf_counter() - started:.0f} s")
    return page


def measure_once(url: str) -> dict[str, float]:
    """One load of the page in a fresh profile: the figures of the module docstring, in ms."""
    with chromium(viewport=(1440, 900)) as context:
        page = context.new_page()
        page.add_init_script(FIRST_SCREEN_WATCH)
        page.goto(url, wait_until="load")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("window.__firstScreen !== null")
        first_screen = page.evaluate("window.__firstScreen")
        ready = page.evaluate("performance.getEntriesByName('catloc-ready')[0].startTime")
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        page.evaluate("window.__t = performance.now()")
        page.keyboard.press("p")
        page.wait_for_selector("figure.cand.pick", state="attached")
        key = page.evaluate("performance.now() - window.__t")
    return {"ready": ready, "first_screen": first_screen, "load_event": load, "key_to_paint": key}


def sizes(run: Path) -> dict[str, float]:
    thumbs = [p.stat().st_size for p in (run / "thumbs").rglob("*.webp")]
    return {"index_html_kb": round((run / "index.html").stat().st_size / 1024, 1), "thumbs": len(thumbs),
            "thumb_mean_kb": round(statistics.mean(thumbs) / 1024, 1), "thumb_max_kb": round(max(thumbs) / 1024, 1),
            "thumbs_total_mb": round(sum(thumbs) / 2 ** 20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=300)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--side", type=int, default=640, help="candidate image side (px); thumbnails are 320 px")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--photos", type=Path, help="real photos to use as candidates (cycled), e.g. ../shared/corpus/dev2")
    ap.add_argument("--out", type=Path, default=Path("bench/out/review_page"))
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if chromium_path() is None:
        sys.exit("no Chromium found: apt-get install chromium (or set CATLOC_CHROMIUM)")
    page = build(args.out, args.skus, args.candidates, args.side, args.photos)
    runs = [measure_once(page.resolve().as_uri()) for _ in range(args.repeat)]
    figures = {k: {"median_ms": round(statistics.median(r[k] for r in runs)), "max_ms": round(max(r[k] for r in runs))}
               for k in runs[0]}
    report = {"skus": args.skus, "candidates": args.candidates, "loads": args.repeat, **figures,
              **sizes(page.parent)}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"runs": runs, **report}, indent=1))


if __name__ == "__main__":
    main()
