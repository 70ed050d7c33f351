"""A real gunicorn serving fieldobs on a fresh data directory, for the hostile-client benches."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "bench password phrase"


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Return a process's resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """gunicorn with the README's worker layout, on a temporary data directory."""

    def __init__(self, *, workers: int = 4, threads: int = 2, **settings: str) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="fieldobs-bench-")
        self.data_dir = Path(self.tmp.name)
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.env = {
            **os.environ,
            "FIELDOBS_DATA_DIR": str(self.data_dir),
            **{f"FIELDOBS_{k}": v for k, v in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        for name, role in [("admin", "admin"), ("shopper", "shopper")]:
            create = ["users", "create", name, "--role", role, "--password", PASSWORD]
            subprocess.run(
                [str(BIN / "fieldobs"), *create],
                env=self.env,
                cwd=REPO,
                check=True,
                capture_output=True,
            )
        command = [str(BIN / "gunicorn"), "--workers", str(self.workers)]
        command += ["--worker-class", "gthread", "--threads", str(self.threads)]
        command += ["--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    pass
                if len(self.worker_pids()) == self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        self.tmp.cleanup()

    @property
    def url(self) -> str:
        """Return the base URL."""
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """Return the pids of the gunicorn workers."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(pid) for pid in children.read_text().split())

    def token(self, username: str) -> str:
        """Sign in and return a bearer token."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/auth/token",
            data=json.dumps({"username": username, "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["token"])
