"""Chromium under Playwright for the browser tests: Debian's build, never a silent skip in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# The flags that keep Chromium's own traffic on this machine: one list, the benchmark's.
from bench.field_app_setup import CHROMIUM_ARGS as CHROMIUM_ARGS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    """Return the Chromium to drive: FIELDOBS_CHROMIUM, else Debian's, else None."""
    for candidate in (os.environ.get("FIELDOBS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def require_chromium() -> str | None:
    """Return Chromium's path; in CI a missing browser fails the run, elsewhere it skips."""
    path = chromium_path()
    if path is None:
        message = "Chromium not found: apt-get install -y chromium (or set FIELDOBS_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Launch one headless Chromium for the test session."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives the browser as slow (`make test-fast` leaves them out)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
