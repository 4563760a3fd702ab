"""A real browser for the review page's tests and benchmark: Debian's Chromium driven by Playwright.

Playwright's own browser download does not work offline, so the system Chromium is used
(``$CATLOC_CHROMIUM``, else ``chromium`` on the PATH; ``make setup`` installs it). Tests that
need it are skipped, with the reason, only where there is none.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator

import pytest

# without the background-networking flags Chromium's own connections are refused many at a time here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return os.environ.get("CATLOC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def needs_chromium() -> None:
    """Skip the calling test, saying why, where Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed (make setup installs it)")
    if chromium_path() is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set CATLOC_CHROMIUM; make setup does it)")


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1440, 900), downloads: str | None = None) -> Iterator:
    """A fresh browser context (its own profile folder, deleted afterwards)."""
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="catloc-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS, accept_downloads=True,
            downloads_path=downloads, viewport={"width": viewport[0], "height": viewport[1]})
        try:
            yield context
        finally:
            context.close()
