import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from catloc.records import SkuError, sku_key
from catloc.runfolder import SkuFolder
from catloc.tasks.ingest import CatalogError, decode_image, fetch_source, read_catalog
from tests.conftest import write_jpeg
from tests.synth import supplier_photo

LIMITS = dict(max_pixels=50_000_000, min_side=64, max_side=1024)


def _rows(tmp_path):
    img, _, _ = supplier_photo(128, overlay=False)
    write_jpeg(tmp_path / "a.jpg", img)
    write_jpeg(tmp_path / "b.jpg", img)
    return [
        {"sku": "A-1", "image": "a.jpg", "title": "A", "category": "flatlay", "priority": 1},
        {"sku": "B-2", "image": "b.jpg|a.jpg", "title": "B", "category": "still_life", "priority": 2},
    ]


def test_csv_catalog_with_relative_paths(tmp_path):
    pd.DataFrame(_rows(tmp_path)).to_csv(tmp_path / "cat.csv", index=False)
    items, rejected = read_catalog(str(tmp_path / "cat.csv"))
    assert rejected == []
    assert [i.sku for i in items] == ["A-1", "B-2"]
    assert items[1].images == [str(tmp_path / "b.jpg"), str(tmp_path / "a.jpg")]
    assert items[0].priority == 1 and items[1].category == "still_life"


def test_parquet_catalog_with_list_column(tmp_path):
    rows = _rows(tmp_path)
    rows[1]["image"] = ["b.jpg", "a.jpg"]
    rows[0]["image"] = ["a.jpg"]
    pd.DataFrame(rows).to_parquet(tmp_path / "cat.parquet")
    items, rejected = read_catalog(str(tmp_path / "cat.parquet"))
    assert not rejected and len(items[1].images) == 2 and items[0].row == 1


def test_jsonl_catalog_with_a_bad_line(tmp_path):
    lines = [json.dumps(r) for r in _rows(tmp_path)] + ["{not json"]
    (tmp_path / "cat.jsonl").write_text("\n".join(lines), encoding="utf-8")
    items, rejected = read_catalog(str(tmp_path / "cat.jsonl"))
    assert [i.sku for i in items] == ["A-1", "B-2"]
    assert len(rejected) == 1 and rejected[0].status == "failed" and rejected[0].stage == "ingest"
    assert "row 3" in rejected[0].error and "invalid JSON" in rejected[0].error


def test_bad_rows_become_failed_skus_with_reasons(tmp_path):
    text = ("sku,image,priority\n"
            "OK-1,a.jpg,1\n"
            ",a.jpg,1\n"                 # empty sku
            "NOIMG-3,,1\n"               # no image
            "PRIO-4,a.jpg,urgent\n"      # bad priority
            "OK-1,a.jpg,2\n"             # duplicate
            "EXTRA-6,a.jpg,1,surplus\n")  # too many fields
    (tmp_path / "cat.csv").write_text(text, encoding="utf-8")
    items, rejected = read_catalog(str(tmp_path / "cat.csv"))
    assert [i.sku for i in items] == ["OK-1"]
    errors = {r.sku: r.error for r in rejected}
    assert errors["row-3"] == "catalog row 3: empty sku"
    assert "no image reference" in errors["NOIMG-3"]
    assert "priority must be a number" in errors["PRIO-4"]
    assert "duplicate sku 'OK-1': first listed on row 2" in errors["OK-1"]
    assert "malformed row" in errors["EXTRA-6"]
    assert all(r.status == "failed" and r.stage == "ingest" for r in rejected)


def test_catalog_level_errors_are_clear(tmp_path):
    with pytest.raises(CatalogError, match="catalog not found"):
        read_catalog(str(tmp_path / "missing.csv"))
    (tmp_path / "nosku.csv").write_text("id,image\n1,a.jpg\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="no 'sku' column"):
        read_catalog(str(tmp_path / "nosku.csv"))
    (tmp_path / "cat.xlsx").write_bytes(b"x")
    with pytest.raises(CatalogError, match="unknown catalog format"):
        read_catalog(str(tmp_path / "cat.xlsx"))


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_broken_and_non_images_fail_with_reasons():
    img, _, _ = supplier_photo(128, overlay=False)
    jpeg = _encode(Image.fromarray(img), "JPEG")
    cases = {
        b"": "empty file",
        jpeg[:300]: "broken image",
        b"<!DOCTYPE html><html><body>404</body></html>": "HTML",
        b"just some text, not a picture": "not an image",
    }
    for data, reason in cases.items():
        with pytest.raises(SkuError, match=reason) as info:
            decode_image(data, "x.jpg", **LIMITS)
        assert info.value.stage == "ingest" and "x.jpg" in info.value.message


def test_decode_normalises_modes_and_orientation():
    rgba = Image.new("RGBA", (100, 80), (255, 0, 0, 0))
    out = decode_image(_encode(rgba, "PNG"), "t.png", **LIMITS)
    assert out.shape == (80, 100, 3) and tuple(out[0, 0]) == (255, 255, 255)  # transparent -> white
    cmyk = Image.new("CMYK", (90, 90), (0, 255, 255, 0))
    assert decode_image(_encode(cmyk, "JPEG"), "c.jpg", **LIMITS).shape == (90, 90, 3)
    deep = Image.fromarray(np.full((70, 70), 65535, np.uint16))
    assert decode_image(_encode(deep, "PNG"), "d.png", **LIMITS).max() == 255
    wide = Image.new("RGB", (120, 80), (0, 0, 255))
    exif = wide.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    out = decode_image(_encode(wide, "JPEG", exif=exif), "e.jpg", **LIMITS)
    assert out.shape == (120, 80, 3)  # upright: portrait
    big = Image.new("RGB", (2048, 1024), (9, 9, 9))
    assert decode_image(_encode(big, "PNG"), "b.png", **LIMITS).shape == (512, 1024, 3)
    with pytest.raises(SkuError, match="too small"):
        decode_image(_encode(Image.new("RGB", (20, 20)), "PNG"), "s.png", **LIMITS)


def test_fetch_source_uses_first_good_image(tmp_path):
    from catloc.records import CatalogItem
    img, _, _ = supplier_photo(128, overlay=False)
    write_jpeg(tmp_path / "good.jpg", img)
    (tmp_path / "bad.jpg").write_bytes(b"")
    item = CatalogItem(sku="S", images=[str(tmp_path / "missing.jpg"), str(tmp_path / "bad.jpg"),
                                        str(tmp_path / "good.jpg")], row=2)
    out = fetch_source(item, SkuFolder(str(tmp_path / "sku")), {})
    assert out.image.endswith("source-2.png") and out.images == [out.image] and len(out.problems) == 2
    assert "image not found" in out.problems[0]
    item.images = [str(tmp_path / "missing.jpg")]
    with pytest.raises(SkuError, match="image not found"):
        fetch_source(item, SkuFolder(str(tmp_path / "sku2")), {})


def test_sku_keys_never_escape_the_run_folder():
    assert sku_key("TSHIRT-001") == "TSHIRT-001"
    for hostile in ("../../etc/passwd", "/abs/path", "..", "a/b", "T恤-01", "a b"):
        key = sku_key(hostile)
        assert "/" not in key and not key.startswith(".") and key
    assert sku_key("a/b") != sku_key("a_b")
