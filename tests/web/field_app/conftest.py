"""Fixtures for the field app's browser tests: a real server, a phone-sized page, API checks."""

from __future__ import annotations

import io
import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.helpers.app import Org
from tests.helpers.browser import PHONE
from tests.helpers.field_app_journey import Api
from tests.helpers.photo_factory import jpeg
from tests.helpers.server_process import ServerProcess

ADDRESS = "12 Briggate, Leeds LS1 6HD"
# Chromium reports failed fetches (offline, a cut connection, a 401) as console errors; those
# are the network misbehaving as the tests intend. Anything else is a bug in the app.
NETWORK_NOISE = ("Failed to load resource",)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    random.seed(15)


@pytest.fixture
def server(data_dir: Path, org: Org) -> Iterator[ServerProcess]:
    """Run gunicorn on a fresh copy of the seeded database, with an address for Leeds."""
    with sqlite3.connect(data_dir / "fieldobs.db") as conn:
        conn.execute(
            "UPDATE locations SET address = ? WHERE id = ?", [ADDRESS, org.locations["leeds"]]
        )
    conn.close()
    with ServerProcess(data_dir, workers=2) as running:
        yield running


@pytest.fixture
def api(server: ServerProcess, org: Org) -> Api:
    """Return an API client for the running server."""
    return Api(server.url, org)


@dataclass
class Console:
    """What the pages of a context said on their consoles."""

    errors: list[str] = field(default_factory=list)

    def app_errors(self) -> list[str]:
        """Return the errors that are not the network failing on purpose."""
        return [e for e in self.errors if not e.startswith(NETWORK_NOISE)]


@pytest.fixture
def phone(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open phone-sized browser contexts; each records console errors and must end clean."""
    opened: list[tuple[Any, Console]] = []

    def open_context(**options: Any) -> tuple[Any, Console]:
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, **options)
        console = Console()

        def watch(page: Any) -> None:
            page.on(
                "console",
                lambda m: console.errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: console.errors.append(f"pageerror: {e}"))

        context.on("page", watch)
        opened.append((context, console))
        return context, console

    yield open_context
    for context, console in opened:
        context.close()
        assert console.app_errors() == []


@pytest.fixture
def photo_files(tmp_path: Path) -> list[Path]:
    """Write two photos made with Pillow: a JPEG with GPS in its EXIF, and a PNG without."""
    gps = tmp_path / "IMG_0001.jpg"
    gps.write_bytes(jpeg(1600, 1200, seed=3))
    plain = tmp_path / "shelf.png"
    buffer = io.BytesIO()
    rng = random.Random(4)
    Image.frombytes("RGB", (640, 480), rng.randbytes(640 * 480 * 3)).save(buffer, "PNG")
    plain.write_bytes(buffer.getvalue())
    return [gps, plain]
