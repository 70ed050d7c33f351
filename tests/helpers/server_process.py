"""A real fieldobs server in a child process (gunicorn), for tests that need real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.helpers.app import REPO

GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, seconds: float = 30) -> None:
    """Wait until GET /healthz answers 200, or raise RuntimeError."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not start")


class ServerProcess:
    """Run `gunicorn wsgi:app` on a data directory; kill and restart it at will."""

    def __init__(self, data_dir: Path, *, workers: int = 2, **settings: str) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start the server and wait until /healthz answers."""
        env = {
            **os.environ,
            "FIELDOBS_DATA_DIR": str(self.data_dir),
            **{f"FIELDOBS_{k}": v for k, v in self.settings.items()},
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(GUNICORN),
                    "--workers",
                    str(self.workers),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--graceful-timeout",
                    "1",
                    "wsgi:app",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            wait_until_healthy(self.url)
        except RuntimeError as error:
            raise RuntimeError(f"{error}: {self.log.read_text()[-2000:]}") from error
        return self

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers) at once: no clean shutdown."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        """Kill, then start again on the same port and data directory."""
        self.kill()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


def stored_bodies(data_dir: Path) -> dict[str, list[Any]]:
    """Return every stored visit body by id, read straight from the database file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    try:
        found: dict[str, list[Any]] = {}
        for visit_id, body in conn.execute("SELECT id, body FROM visits"):
            found.setdefault(visit_id, []).append(json.loads(body))
        return found
    finally:
        conn.close()


def assert_exactly_once(data_dir: Path, sent: list[dict[str, Any]]) -> None:
    """Every visit sent is stored once, exactly as sent, and nothing else is stored."""
    stored = stored_bodies(data_dir)
    assert sorted(stored) == sorted(v["id"] for v in sent)
    for visit in sent:
        assert stored[visit["id"]] == [visit]
