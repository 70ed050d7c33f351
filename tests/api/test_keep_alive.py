"""After an early error that left the body unread, the next request on the connection is sound.

Werkzeug's dev server closes every connection; gunicorn's threaded workers keep them alive, so
this runs against gunicorn as the README runs it. (gunicorn drops an application's Connection
header and instead drains up to 64 KB of an unread body, or closes: either keeps the next
request whole.)
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.helpers.app import REPO
from tests.helpers.server_process import GUNICORN, free_port


@pytest.fixture
def threaded_server(data_dir: Path) -> Iterator[int]:
    """Run gunicorn with threaded workers (keep-alive on) on the seeded data directory."""
    port = free_port()
    command = [str(GUNICORN), "--workers", "1", "--worker-class", "gthread", "--threads", "2"]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=REPO,
        env={**os.environ, "FIELDOBS_DATA_DIR": str(data_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=1)) as probe:
                if _status(probe) == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.1)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


def _status(conn: http.client.HTTPConnection) -> int | str:
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        return response.status
    except (http.client.RemoteDisconnected, ConnectionError):
        return "closed"  # a clean close: the client opens a new connection


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "size", "status"),
    [("/api/v1/areas", 2_000, 401), ("/api/v1/areas", 200_000, 413)],
)
def test_unread_body_does_not_become_the_next_request(
    threaded_server: int, path: str, size: int, status: int
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", threaded_server, timeout=10)
    body = json.dumps({"name": "x" * size}).encode()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    first = conn.getresponse()
    first.read()
    assert first.status == status
    assert _status(conn) in (200, "closed")
    conn.close()
    with closing(http.client.HTTPConnection("127.0.0.1", threaded_server, timeout=10)) as fresh:
        assert _status(fresh) == 200
