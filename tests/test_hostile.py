"""Hostile input: every bad image or row fails its own SKU with a clear reason, and only that SKU."""
import csv
import http.server
import io
import threading
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from catloc.records import SkuError
from catloc.tasks.ingest import TransientFetchError, check_ref, decode_image, fetch_bytes, read_catalog
from tests.synth import supplier_photo

LIMITS = dict(max_pixels=50_000_000, min_side=64, max_side=1024)


def _png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _png(Image.new("1", (30000, 30000)))  # ~100 KB on disk, 900 Mpx decoded
    assert len(bomb) < 2_000_000
    with pytest.raises(SkuError, match="too large to decode safely.*(30000x30000|900000000 pixels)"):
        decode_image(bomb, "bomb.png", **LIMITS)


def test_palette_alpha_and_animations():
    pal = Image.new("P", (80, 80), 0)
    pal.putpalette([255, 0, 0] * 256)
    out = decode_image(_png(pal, transparency=0), "p.png", **LIMITS)
    assert tuple(out[0, 0]) == (255, 255, 255)  # fully transparent palette entry -> white
    frames = [Image.new("RGB", (90, 90), c) for c in ((10, 200, 10), (200, 10, 10))]
    for fmt in ("GIF", "WEBP"):
        buf = io.BytesIO()
        frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
        first = decode_image(buf.getvalue(), f"a.{fmt.lower()}", **LIMITS)
        assert first.shape == (90, 90, 3) and first[45, 45, 1] > 150  # the green first frame


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    flaky_hits = 0
    requested: list = []

    def do_GET(self):  # noqa: N802
        _Handler.requested.append(self.path)
        if self.path == "/flaky.jpg":  # 503 on the first request, the image after
            _Handler.flaky_hits += 1
            route = self.routes["/boom.jpg"] if _Handler.flaky_hits == 1 else self.routes["/ok.jpg"]
            status, ctype, body, delay = route
        else:
            status, ctype, body, delay = self.routes.get(self.path, (404, "text/plain", b"nope", 0))
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_server():
    img, _, _ = supplier_photo(128, overlay=False)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG")
    _Handler.routes = {
        "/ok.jpg": (200, "image/jpeg", buf.getvalue(), 0),
        "/error.jpg": (200, "text/html; charset=utf-8", b"<html><body>Server error</body></html>", 0),
        "/boom.jpg": (503, "text/plain", b"busy", 0),
        "/slow.jpg": (200, "image/jpeg", buf.getvalue(), 3),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_fetch_outcomes(http_server):
    assert len(fetch_bytes(f"{http_server}/ok.jpg", 10_000_000, 5)) > 1000
    with pytest.raises(SkuError, match="HTTP 404"):
        fetch_bytes(f"{http_server}/missing.jpg", 10_000_000, 5)
    with pytest.raises(SkuError, match="HTML page"):
        fetch_bytes(f"{http_server}/error.jpg", 10_000_000, 5)
    with pytest.raises(TransientFetchError, match="HTTP 503"):  # retried by the task
        fetch_bytes(f"{http_server}/boom.jpg", 10_000_000, 5)
    started = time.monotonic()
    with pytest.raises(TransientFetchError, match="timed out"):
        fetch_bytes(f"{http_server}/slow.jpg", 10_000_000, 1)
    assert time.monotonic() - started < 2.5
    with pytest.raises(SkuError, match="too large"):
        fetch_bytes(f"{http_server}/ok.jpg", 500, 5)


def test_transient_fetch_errors_are_retried_by_the_stage(tmp_path, http_server):
    from catloc.records import CatalogItem
    from catloc.runfolder import SkuFolder
    from catloc.tasks.ingest import fetch_source

    cfg = {"fetch_retries": 1, "fetch_retry_delay_s": 0}
    _Handler.flaky_hits = 0
    item = CatalogItem(sku="F", images=[f"{http_server}/flaky.jpg"], row=2)
    assert fetch_source(item, SkuFolder(str(tmp_path / "sku")), cfg).image.endswith("source-0.png")  # 503 retried
    assert _Handler.flaky_hits == 2
    bad = CatalogItem(sku="N", images=[f"{http_server}/gone-for-good.jpg"], row=3)
    with pytest.raises(SkuError, match="HTTP 404"):  # a 404 is final: no retry
        fetch_source(bad, SkuFolder(str(tmp_path / "n")), {**cfg, "fetch_retries": 3})
    assert _Handler.requested.count("/gone-for-good.jpg") == 1
    _Handler.flaky_hits = 0
    with pytest.raises(SkuError, match=r"HTTP 503 .* \(still failing after 0 retries\)"):
        fetch_source(item, SkuFolder(str(tmp_path / "f0")), {**cfg, "fetch_retries": 0})


def test_url_safety_rules(tmp_path, http_server):
    cfg = {"allowed_schemes": ["file", "https"]}
    with pytest.raises(SkuError, match="scheme 'http' not allowed"):
        check_ref(f"{http_server}/ok.jpg", str(tmp_path), cfg)
    with pytest.raises(SkuError, match="outside the catalog's folder"):
        check_ref("/etc/passwd", str(tmp_path), cfg)
    with pytest.raises(SkuError, match="outside the catalog's folder"):
        check_ref("file:///etc/hostname", str(tmp_path), cfg)
    with pytest.raises(SkuError, match="outside the catalog's folder"):
        check_ref(str(tmp_path / ".." / "x.jpg"), str(tmp_path), cfg)
    check_ref(str(tmp_path / "images" / "x.jpg"), str(tmp_path), cfg)  # inside: fine
    check_ref("/etc/passwd", str(tmp_path), {"local_files_outside_catalog": True})
    with pytest.raises(SkuError, match="private address"):
        check_ref(f"{http_server}/ok.jpg", "", {"block_private_addresses": True})


def test_non_utf8_and_unicode_catalogs(tmp_path):
    text = "sku,image,title\nT恤-001,a.jpg,纯棉T恤\n"
    (tmp_path / "gb.csv").write_bytes(text.encode("gb18030"))
    with pytest.warns(UserWarning, match="GB18030"):
        items, _ = read_catalog(str(tmp_path / "gb.csv"))
    assert items[0].sku == "T恤-001" and items[0].title == "纯棉T恤"
    (tmp_path / "bad.csv").write_bytes(b"sku,image\n\x81\xff\xfe,a.jpg\n")
    from catloc.tasks.ingest import CatalogError
    with pytest.raises(CatalogError, match="not UTF-8"):
        read_catalog(str(tmp_path / "bad.csv"))


@pytest.mark.slow
def test_hostile_catalog_end_to_end(tmp_path, http_server):
    """Every hostile input in one catalog: each SKU done or failed with a reason, nothing escapes."""
    from prefect.testing.utilities import prefect_test_harness
    from catloc.flows.nightly import nightly

    folder = tmp_path / "cat"
    (folder / "img").mkdir(parents=True)
    good, _, _ = supplier_photo(256, overlay=False)
    Image.fromarray(good).save(folder / "img" / "good.jpg", quality=90)
    buf = io.BytesIO()
    Image.fromarray(good).save(buf, format="JPEG")
    (folder / "img" / "zero.jpg").write_bytes(b"")
    (folder / "img" / "trunc.jpg").write_bytes(buf.getvalue()[:500])
    (folder / "img" / "page.jpg").write_bytes(b"<!DOCTYPE html><html>502 Bad Gateway</html>")
    (folder / "img" / "text.jpg").write_bytes(b"hello")
    (folder / "img" / "bomb.png").write_bytes(_png(Image.new("1", (30000, 30000))))
    Image.fromarray(good).convert("CMYK").save(folder / "img" / "cmyk.jpg")
    Image.fromarray((good[..., 0].astype(np.uint16) * 257)).save(folder / "img" / "deep.png")
    Image.new("RGB", (20, 20)).save(folder / "img" / "tiny.png")
    rotated = Image.fromarray(good).rotate(90, expand=True)
    exif = rotated.getexif()
    exif[0x0112] = 8
    rotated.save(folder / "img" / "exif.jpg", exif=exif)
    rows = [
        ("GOOD-1", "img/good.jpg"), ("ZERO-2", "img/zero.jpg"), ("TRUNC-3", "img/trunc.jpg"),
        ("HTML-4", "img/page.jpg"), ("TEXT-5", "img/text.jpg"), ("BOMB-6", "img/bomb.png"),
        ("CMYK-7", "img/cmyk.jpg"), ("DEEP-8", "img/deep.png"), ("TINY-9", "img/tiny.png"),
        ("EXIF-10", "img/exif.jpg"), ("MISSING-11", "img/nothere.jpg"), ("HTTP404-12", f"{http_server}/x.jpg"),
        ("HTTPOK-13", f"{http_server}/ok.jpg"), ("../../etc/passwd", "img/good.jpg"), ("连衣裙-15", "img/good.jpg"),
        ("GOOD-1", "img/good.jpg"), ("OUTSIDE-17", "/etc/hostname"),
    ]
    with open(folder / "catalog.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sku", "image"])
        writer.writerows(rows)
    out = tmp_path / "out"
    with prefect_test_harness(server_startup_timeout=120):
        nightly(str(folder / "catalog.csv"), "us", out=str(out), run_id="hostile", candidates=6)
    status = pd.read_csv(out / "hostile" / "status.csv", keep_default_na=False)
    assert len(status) == len(rows)  # no lost rows
    assert set(status["status"]) <= {"done", "failed"}
    failed = status[status["status"] == "failed"]
    assert (failed["error"].str.len() > 0).all() and (failed["stage"] != "").all()
    by = {(r.sku, r.row): r for r in status.itertuples()}
    err = {sku: r.error for (sku, _), r in by.items()}
    expect_failed = {"ZERO-2": "empty file", "TRUNC-3": "broken image", "HTML-4": "HTML", "TEXT-5": "not an image",
                     "BOMB-6": "too large to decode", "TINY-9": "too small", "MISSING-11": "not found",
                     "HTTP404-12": "HTTP 404", "OUTSIDE-17": "outside the catalog"}
    for sku, reason in expect_failed.items():
        assert reason in err[sku], (sku, err[sku])
    for sku in ("GOOD-1", "CMYK-7", "DEEP-8", "EXIF-10", "HTTPOK-13", "../../etc/passwd", "连衣裙-15"):
        assert by[next(k for k in by if k[0] == sku)].status == "done", (sku, err[sku])
    assert "duplicate sku 'GOOD-1'" in by[("GOOD-1", 17)].error
    # the EXIF-rotated photo comes out upright (portrait source rotated back to landscape-equal square)
    exif_src = Image.open(out / "hostile" / by[("EXIF-10", 11)].source_image)
    assert exif_src.size == (256, 256)
    # nothing was written outside the run folder
    run_root = (out / "hostile").resolve()
    assert all(p.resolve().is_relative_to(run_root) for p in out.rglob("*"))
    assert not list(out.rglob("*.tmp-*"))
