from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from catloc.config import load_market, load_pipeline_config
from catloc.engines import load_engine
from tests.synth import supplier_photo

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def cfg():
    return load_pipeline_config()


@pytest.fixture(scope="session")
def market(cfg):
    return load_market("sa", cfg)


@pytest.fixture(scope="session")
def engines(cfg):
    return {kind: load_engine(kind, spec) for kind, spec in cfg.engines.items()}


def write_jpeg(path: Path, array, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="JPEG", quality=quality)
    return path


@pytest.fixture
def small_catalog(tmp_path) -> Path:
    """A 4-row CSV catalog: two good SKUs, one broken image, one row without a sku."""
    folder = tmp_path / "catalog"
    shirt, _, _ = supplier_photo(320, qr=True)
    plain, _, _ = supplier_photo(320, overlay=False, product_text=None, garment=(150, 40, 60))
    write_jpeg(folder / "images" / "shirt.jpg", shirt)
    write_jpeg(folder / "images" / "plain.jpg", plain)
    good = io.BytesIO()
    Image.fromarray(plain).save(good, format="JPEG")
    (folder / "images" / "broken.jpg").write_bytes(good.getvalue()[:400])
    rows = [
        {"sku": "SHIRT-1", "title": "Shirt", "category": "flatlay", "image": "images/shirt.jpg", "priority": "1"},
        {"sku": "PLAIN-2", "title": "Plain", "category": "flatlay", "image": "images/plain.jpg", "priority": "2"},
        {"sku": "BROKEN-3", "title": "Broken", "category": "flatlay", "image": "images/broken.jpg", "priority": "2"},
        {"sku": "", "title": "No sku", "category": "flatlay", "image": "images/plain.jpg", "priority": "3"},
    ]
    with open(folder / "catalog.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "catalog.csv"
