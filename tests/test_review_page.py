"""The review page: thumbnails, the static index.html, and the page in a real browser (Chromium)
driven with the keyboard, as reviewers do."""
import csv
import dataclasses
import functools
import http.server
import io
import threading
from pathlib import Path

import pytest
from PIL import Image

from catloc import storage
from catloc.config import ReviewOptions, load_market, load_pipeline_config
from catloc.runfolder import RunFolder
from catloc.tasks.export import export_sheets
from catloc.tasks.review.page import render_page, write_review_page
from catloc.tasks.review.publish import apply_picks
from catloc.tasks.review.thumbs import ensure_thumbs
from tests.browser import chromium, needs_chromium
from tests.review_run import make_review_run


@pytest.fixture
def run(tmp_path):
    return make_review_run(tmp_path / "out", n_skus=6)


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_thumbnails_are_small_made_once_and_follow_changed_images(run):
    thumbs = Path(run.uri) / "thumbs" / "SKU-000"
    files = sorted(p for p in thumbs.iterdir() if p.suffix == ".webp")
    assert len(files) == 9  # source, cleaned, 7 candidates
    for path in files:
        with Image.open(path) as im:
            assert im.format == "WEBP" and max(im.size) == 320
        assert path.stat().st_size < 40_000
    record, options = run.read_record("SKU-000"), load_pipeline_config().review
    before = _mtimes(thumbs)
    ensure_thumbs(run, record, options, recheck=True)   # a rerun whose images did not change makes none
    assert _mtimes(thumbs) == before
    c02 = Path(record.candidates[1].image)
    storage.save_image(str(c02), 255 - storage.load_rgb(str(c02)))  # the candidate changed
    index = ensure_thumbs(run, record, options, recheck=True)
    after = _mtimes(thumbs)
    assert len(after) == len(before) and after != before  # a new name for c02, the old one removed
    assert index["skus/SKU-000/candidates/c02.png"].split("/")[-1] in after
    jpg = ensure_thumbs(run, record, ReviewOptions(thumb_format="jpg", thumb_side=256), recheck=False)
    with Image.open(Path(run.uri) / jpg["skus/SKU-000/cleaned.png"]) as im:
        assert im.format == "JPEG" and max(im.size) == 256


def test_the_page_is_one_static_file_with_relative_links_and_safe_data(run):
    html = (Path(run.uri) / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "src=\"/" not in html
    assert '"thumb":"thumbs/SKU-000/c01-' in html and '"image":"skus/SKU-000/candidates/c01.png"' in html
    data = {"run_id": "r", "market": "sa", "skus": [{"title": "</script><script>alert(1)</script>"}]}
    page = render_page(data)
    assert page.count("</script>") == 2 and "\\u003c/script\\u003e" in page  # the data cannot end its element


def _open(context, url):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']")
    return page, errors


def _classes(page, sku):
    """The decisions the page shows for ``sku``'s candidates: P picked, X rejected, . none."""
    return "".join(page.eval_on_selector_all(
        f"section.sku:has(.name:text-is('{sku}')) > .strip > figure.cand",
        "figs => figs.map(f => f.classList.contains('pick') ? 'P' : f.classList.contains('reject') ? 'X' : '.')"))


def test_keyboard_decisions_undo_filters_reload_and_picks_csv(run, tmp_path):
    needs_chromium()
    url = Path(run.review_page).resolve().as_uri()
    with chromium(downloads=str(tmp_path)) as context:
        page, errors = _open(context, url)
        keys = page.keyboard
        assert "0 of 5 SKUs decided" in page.inner_text("#progress")
        keys.press("p")                                   # SKU-000 c01
        keys.press("ArrowRight"); keys.press("x"); keys.press("u")   # c02 rejected, then cleared
        keys.press("3"); keys.press("2")                  # pick c03 and c02 directly
        assert _classes(page, "SKU-000") == "PPP...."
        keys.press("4")                                   # a 4th pick is refused: at most 3
        assert _classes(page, "SKU-000") == "PPP...." and "At most 3 picks" in page.inner_text("#toast")
        keys.press("j"); keys.press("r")                  # SKU-001: reject all, regenerate
        assert _classes(page, "SKU-001") == "XXXXXXX" and page.is_visible("section.current .badge.regen")
        keys.press("Control+z")
        assert _classes(page, "SKU-001") == "......."
        keys.press("r")
        keys.press("ArrowDown"); keys.press("ArrowRight"); keys.press("ArrowRight"); keys.press("x")  # SKU-002 c06
        # (moving between SKUs keeps the candidate position: c04 of SKU-000, SKU-001, SKU-002, then 2 right)
        assert "2 of 5 SKUs decided" in page.inner_text("#progress")
        keys.press("f")                                   # filter: undecided
        shown = page.eval_on_selector_all("section.sku:not(.hidden) .name", "e => e.map(x => x.textContent)")
        assert shown == ["SKU-002", "SKU-003", "SKU-005"]
        keys.press("?")
        assert page.is_visible("#help")
        keys.press("Escape")
        page.reload()
        page.wait_for_selector("body[data-ready='1']")    # decisions survive the reload
        assert (_classes(page, "SKU-000"), _classes(page, "SKU-001"), _classes(page, "SKU-002")) == \
            ("PPP....", "XXXXXXX", ".....X.")
        keys.press("Enter")                               # full-size image of the current candidate
        page.wait_for_function("document.getElementById('viewer-img').naturalWidth > 0")
        assert page.get_attribute("#viewer-img", "src") == "skus/SKU-000/candidates/c01.png"
        keys.press("Escape")
        with page.expect_download() as download:
            page.click("#save")
        saved = tmp_path / "picks.csv"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "picks.csv" and not errors
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    decided = {(r["sku"], r["candidate_id"]): r["decision"] for r in rows}
    assert {k for k, v in decided.items() if v == "pick"} == {("SKU-000", "c01"), ("SKU-000", "c02"), ("SKU-000", "c03")}
    assert decided[("SKU-001", "")] == "regenerate" and decided[("SKU-002", "c06")] == "reject"
    assert {r["run_id"] for r in rows} == {"rv"} and rows[0]["image"] == "skus/SKU-000/candidates/c01.png"
    result = apply_picks("rv", str(saved), str(tmp_path / "shop"), out=run.out)
    assert (result["images"], result["regenerate"]) == (3, ["SKU-001"])


def test_the_page_works_from_disk_and_from_a_web_server_without_other_requests(run):
    needs_chromium()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=run.uri)
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for base in (Path(run.uri).resolve().as_uri() + "/", f"http://127.0.0.1:{server.server_address[1]}/"):
            with chromium() as context:
                requested, failed = [], []
                context.on("request", lambda r: requested.append(r.url))
                context.on("requestfailed", lambda r: failed.append(r.url))
                page, errors = _open(context, base + "index.html")
                page.wait_for_function("[...document.querySelectorAll('section.sku:first-child img')]"
                                       ".every(i => i.complete && i.naturalWidth > 0)")
                assert not errors and not failed
                assert requested and all(u.startswith(base) for u in requested)
                assert any("/thumbs/SKU-000/" in u for u in requested)
                assert not any("/candidates/" in u for u in requested)  # full-size images only on demand
    finally:
        server.shutdown()


def test_a_failed_sku_is_listed_with_its_reason_and_cannot_be_picked(run):
    needs_chromium()
    with chromium() as context:
        page, _ = _open(context, Path(run.review_page).resolve().as_uri())
        page.keyboard.press("f"); page.keyboard.press("f"); page.keyboard.press("f"); page.keyboard.press("f")
        assert page.eval_on_selector_all("section.sku:not(.hidden) .name", "e => e.map(x => x.textContent)") == \
            ["SKU-004"]
        # sections use content-visibility: auto, so the reason is rendered on the frame after the filter
        page.wait_for_function("document.querySelector('section.sku:not(.hidden) .error')"
                               ".innerText.includes('broken image')")
        page.keyboard.press("r")
        assert "No candidates" in page.inner_text("#toast")
        page.keyboard.press("f")                          # QC flags: SKUs with a failed or warned candidate
        assert page.eval_on_selector_all("section.sku:not(.hidden) .name", "e => e.map(x => x.textContent)") == \
            ["SKU-000", "SKU-001", "SKU-003", "SKU-005"]


def test_write_review_page_needs_no_thumbnails_made_before(tmp_path):
    run = make_review_run(tmp_path / "out", n_skus=2, failed=())
    for path in (Path(run.uri) / "thumbs").rglob("*"):
        if path.is_file():
            path.unlink()
    cfg = load_pipeline_config()
    write_review_page(RunFolder(run.out, run.run_id), load_market("sa", cfg), cfg.review)
    assert len(list((Path(run.uri) / "thumbs").rglob("*.webp"))) == 18


def _regenerate(run, sku):
    """What ``catloc rerun --rejected`` leaves for ``sku``: attempt 1 with c08..., the earlier kept."""
    record = run.read_record(sku)
    new = []
    for i, cand in enumerate(record.candidates):
        image = storage.save_image(run.sku(sku).file("candidates", f"c{i + 8:02d}.png"),
                                   255 - storage.load_rgb(cand.image))
        new.append(dataclasses.replace(cand, candidate_id=f"c{i + 8:02d}", image=image, attempt=1, seed=99 + i))
    record.attempt, record.candidates = 1, record.candidates + new
    run.write_record(record)
    cfg = load_pipeline_config()
    export_sheets(run, "sa")
    write_review_page(run, load_market("sa", cfg), cfg.review)


def test_after_a_regeneration_the_page_asks_again_and_keeps_the_earlier_attempt(run, tmp_path):
    needs_chromium()
    with chromium(downloads=str(tmp_path)) as context:
        page, errors = _open(context, Path(run.review_page).resolve().as_uri())
        page.keyboard.press("j"); page.keyboard.press("r")   # SKU-001: reject all, regenerate
        assert "1 of 5 SKUs decided" in page.inner_text("#progress")
        _regenerate(run, "SKU-001")
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert "0 of 5 SKUs decided" in page.inner_text("#progress")   # its new candidates are undecided
        section = "section.sku:has(.name:text-is('SKU-001'))"
        assert _classes(page, "SKU-001") == "......." and "regenerated 1" in page.text_content(f"{section} .head").lower()
        assert "earlier attempts: 7 candidates" in page.text_content(f"{section} details.earlier summary")
        page.keyboard.press("j"); page.keyboard.press("2")
        with page.expect_download() as download:
            page.keyboard.press("s")
        download.value.save_as(tmp_path / "picks.csv")
        assert not errors
    rows = list(csv.DictReader(io.StringIO((tmp_path / "picks.csv").read_text(encoding="utf-8"))))
    assert [(r["sku"], r["attempt"], r["candidate_id"], r["decision"]) for r in rows] == [("SKU-001", "1", "c09", "pick")]
    assert apply_picks("rv", str(tmp_path / "picks.csv"), str(tmp_path / "shop"), out=run.out)["images"] == 1
