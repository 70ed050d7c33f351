"""The field app benchmark's plumbing: Chromium, a byte-counting proxy, the shopper's work."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from bench.field_app_scripts import MARKS_SCRIPT
from bench.serving import Server

SEED = 20261123
PHOTO_SIZE = (4032, 3024)
# Chromium's own background traffic (updates, sync, field trials) must not leave this machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Return the Chromium to drive, or exit saying how to install it."""
    for candidate in (os.environ.get("FIELDOBS_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        sys.exit("Chromium not found: apt-get install -y chromium (or set FIELDOBS_CHROMIUM)")
    return found


def call(server: Server, token: str, method: str, path: str, body: Any = None) -> Any:
    """Send one JSON request to the server's API and return its answer (raising on an error)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        answer = json.loads(response.read() or b"null")
    finally:
        conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path}: {response.status} {answer}")
    return answer


def give_shopper_assignments(server: Server, count: int) -> int:
    """Give the shopper `count` open mystery shops, each at a store of its own; return a store."""
    admin = server.token("admin")
    area = call(server, admin, "POST", "/api/v1/areas", {"name": "Bench"})["id"]
    now = datetime.now(UTC)
    store = 0
    for number in range(1, count + 1):
        store = call(
            server,
            admin,
            "POST",
            "/api/v1/locations",
            {"name": f"Store {number}", "area_id": area, "timezone": "Europe/London"},
        )["id"]
        window = {
            "window_start": (now - timedelta(hours=2)).isoformat(),
            "window_end": (now + timedelta(hours=20)).isoformat(),
        }
        call(
            server,
            admin,
            "POST",
            "/api/v1/assignments",
            {"shopper": "shopper", "location_id": store, "checklist": "mystery-shop", **window},
        )
    return int(store)


def write_phone_photo(path: Path) -> None:
    """Write a 12 MP JPEG (quality 95) of seeded noise over a gradient, about 6 MB."""
    rng = random.Random(SEED)
    noise = Image.frombytes("RGB", PHOTO_SIZE, rng.randbytes(PHOTO_SIZE[0] * PHOTO_SIZE[1] * 3))
    gradient = Image.linear_gradient("L").resize(PHOTO_SIZE).convert("RGB")
    # Mostly gradient: pure noise at quality 95 would be several times a camera's file.
    Image.blend(gradient, noise, 0.14).save(path, "JPEG", quality=95)


@dataclass
class WireCounts:
    """What a counting proxy sent back to the browser."""

    requests: int = 0
    total_bytes: int = 0
    body_bytes: int = 0


@contextmanager
def counting_proxy(upstream_port: int, *, uncompressed: bool) -> Iterator[tuple[str, WireCounts]]:
    """Forward HTTP requests to the server, counting the answers; yield its URL and the counts."""
    counts, lock = WireCounts(), threading.Lock()
    # One request per connection: the answer then ends where the connection does.
    dropped = {b"connection", b"accept-encoding"} if uncompressed else {b"connection"}

    class Forward(socketserver.StreamRequestHandler):
        """Pass one request on and its answer back."""

        def handle(self) -> None:
            """Forward one request, counting the bytes of its answer."""
            lines = [self.rfile.readline().rstrip(b"\r\n")]
            if not lines[0]:
                return  # a connection opened ahead of need, closed unused
            length = 0
            while line := self.rfile.readline().rstrip(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                if name.strip().lower() not in dropped:
                    lines.append(line)
            lines.append(b"Connection: close")
            if uncompressed:
                lines.append(b"Accept-Encoding: identity")
            request = b"\r\n".join(lines) + b"\r\n\r\n" + self.rfile.read(length)
            with socket.create_connection(("127.0.0.1", upstream_port), timeout=30) as upstream:
                upstream.sendall(request)
                answer = upstream.makefile("rb").read()
            with lock:
                counts.requests += 1
                counts.total_bytes += len(answer)
                counts.body_bytes += len(answer) - answer.index(b"\r\n\r\n") - 4
            self.wfile.write(answer)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Forward) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{proxy.server_address[1]}", counts
        finally:
            proxy.shutdown()


def phone_context(browser: Browser) -> BrowserContext:
    """Open a fresh phone-sized context that marks when the app becomes usable."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    context.add_init_script(MARKS_SCRIPT)
    return context


def wait_for_service_worker(page: Page) -> None:
    """Wait until the service worker controls the page (the shell is then kept offline)."""
    # Polled from here: the app's CSP forbids the eval that wait_for_function needs.
    for _ in range(300):
        if page.evaluate("() => !!navigator.serviceWorker?.controller"):
            return
        page.wait_for_timeout(100)
    raise RuntimeError("the service worker never took control of the page")


def shell_bytes(browser: Browser, server: Server, *, uncompressed: bool) -> WireCounts:
    """Load the shell through a counting proxy in a fresh context; return the counts."""
    with counting_proxy(server.port, uncompressed=uncompressed) as (url, counts):
        context = phone_context(browser)
        page = context.new_page()
        page.goto(f"{url}/app/")
        page.get_by_label("Username").wait_for()
        wait_for_service_worker(page)
        page.wait_for_load_state("networkidle")
        context.close()
    return counts
