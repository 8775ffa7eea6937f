"""A headless Chromium driven by Playwright (Debian's /usr/bin/chromium, never a download).

Without the browser the UI tests skip, saying why; in CI (``CI`` set) they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = os.environ.get("BOCAGE_TEST_CHROMIUM", "/usr/bin/chromium")


def unavailable(reason: str) -> None:
    message = f"UI tests need Chromium at {CHROMIUM} and Playwright: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " [CI is set: not skipping]", pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable(str(exc))
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        unavailable("the browser is not installed (Debian package `chromium`)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()
