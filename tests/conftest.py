from __future__ import annotations

import csv
import io
import os
import socket
from pathlib import Path

import pytest
from PIL import Image

from catloc.config import load_market, load_pipeline_config
from catloc.engines import load_engine
from tests.synth import supplier_photo

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server (own database) shared by the in-process flow tests."""
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket during the test fails loudly."""
    def refuse(self, address, *args, **kwargs):
        raise AssertionError(f"engine tried to open a network connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


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


def make_catalog(folder: Path, n: int, size: int = 320) -> Path:
    """A CSV catalog of ``n`` drawn shirts in different colours (SKU-00 ...)."""
    rows = []
    for i in range(n):
        colour = ((40 + 37 * i) % 200, (90 + 53 * i) % 200, (160 + 23 * i) % 220)
        image, _, _ = supplier_photo(size, qr=i % 2 == 0, garment=colour)
        write_jpeg(folder / "images" / f"s{i:02d}.jpg", image)
        rows.append({"sku": f"SKU-{i:02d}", "image": f"images/s{i:02d}.jpg", "priority": str(1 + i % 3)})
    with open(folder / "catalog.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "catalog.csv"


def copy_config(dest: Path, **run_options) -> Path:
    """A copy of configs/ with ``run:`` options changed; returns the pipeline.yaml path."""
    import shutil

    import yaml

    from catloc.config import REPO_ROOT
    shutil.copytree(REPO_ROOT / "configs", dest)
    data = yaml.safe_load((dest / "pipeline.yaml").read_text(encoding="utf-8"))
    data.setdefault("run", {}).update(run_options)
    (dest / "pipeline.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return dest / "pipeline.yaml"
