"""Concurrent photo uploads against a real server: total RSS of master and workers.

Run: .venv/bin/python bench/photos.py --server [--repo PATH]

Starts the README's production command (gunicorn, 4 gthread workers × 2 threads) on a fresh
data dir, warms every worker up with small photos, then sends 8 one-shot uploads at once of
each case and samples the summed RSS of master and workers every 20 ms. Each case runs twice
in the same run: with the decode bounds off (MAX_DECODE_PIXELS = MAX_PHOTO_PIXELS, as many
decode slots as threads) as the baseline, and with the default settings. `--repo` serves the
code of another checkout (e.g. `git archive` of an older commit) to measure it the same way.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PASSWORD = "bench-photos-password-7"
CONCURRENT = 8
WORKERS, THREADS = 4, 2
TARGET_TOTAL_MB = 1500.0
UNBOUNDED = {"MAX_DECODE_PIXELS": "50000000", "PHOTO_DECODES_PER_PROCESS": str(THREADS)}


def blank_rgba_png(width: int, height: int) -> bytes:
    """Return a transparent RGBA PNG compressed row by row (7000×7000: about 190 KB)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + 4 * width)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def _rss_mb(pid: int) -> float:
    """Return the summed VmRSS of a process and its children, in MB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


class Server:
    """gunicorn as the README runs it, on a fresh data dir, with extra FIELDOBS_* settings."""

    def __init__(self, repo: Path, settings: dict[str, str]) -> None:
        self.repo = repo
        self.folder = Path(tempfile.mkdtemp(prefix="fieldobs-bench-photos-"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.env = {
            **os.environ,
            "FIELDOBS_DATA_DIR": str(self.folder),
            "FIELDOBS_SECRET_KEY": "bench-secret-key-bench-secret-key",
            "PYTHONPATH": str(repo),
            **{f"FIELDOBS_{key}": value for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        for args in (["init-db"], ["users", "create", "bench", "--role", "shopper"]):
            extra = ["--password", PASSWORD] if "users" in args else []
            subprocess.run(
                [str(BIN / "fieldobs"), *args, *extra],
                env=self.env,
                cwd=self.repo,
                check=True,
                capture_output=True,
            )
        command = [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--worker-class", "gthread"]
        command += ["--threads", str(THREADS), "--bind", f"127.0.0.1:{self.port}", "wsgi:app"]
        log = (self.folder / "server.log").open("wb")
        self.process = subprocess.Popen(
            command, cwd=self.repo, env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while self.call("GET", "/healthz")[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError((self.folder / "server.log").read_text()[-2000:])
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def call(self, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
        """Send one request; return the status and the body (0 when nothing answered)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if isinstance(body, dict):
            body, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            conn.close()

    def token(self) -> str:
        """Sign the bench shopper in."""
        _, body = self.call(
            "POST", "/api/v1/auth/token", {"username": "bench", "password": PASSWORD}
        )
        return str(json.loads(body)["token"])

    def upload_at_once(self, token: str, data: bytes, count: int) -> list[tuple[int, float, str]]:
        """PUT `count` photos at once; return (status, seconds, error code) for each."""
        results: list[tuple[int, float, str]] = []

        def one() -> None:
            path = f"/api/v1/visits/{uuid.uuid4()}/photos/{uuid.uuid4()}"
            started = time.perf_counter()
            status, body = self.call("PUT", path, data, token)
            code = json.loads(body).get("error", {}).get("code", "") if body else "no answer"
            results.append((status, time.perf_counter() - started, code))

        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


def measure(repo: Path, settings: dict[str, str], photo: bytes) -> dict[str, Any]:
    """Run one case on a fresh server; return baseline and peak total RSS and the answers."""
    from PIL import Image  # the warm-up photo: small, decoded by every worker

    warm = Image.new("RGB", (64, 48), (10, 120, 30))
    buffer = __import__("io").BytesIO()
    warm.save(buffer, "JPEG")
    with Server(repo, settings) as server:
        token = server.token()
        server.upload_at_once(token, buffer.getvalue(), 4 * CONCURRENT)
        assert server.process is not None
        process = server.process
        baseline = _rss_mb(process.pid)
        peak, stop = [baseline], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _rss_mb(process.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        answers = server.upload_at_once(token, photo, CONCURRENT)
        time.sleep(0.5)
        stop.set()
        sampler.join()
    return {"baseline": baseline, "peak": peak[0], "answers": answers}


def report(repo: Path) -> None:
    """Measure each case with the bounds off and on; print totals and ratios."""
    cases = [
        ("7000×7000 RGBA PNG (issue 13 point 6)", blank_rgba_png(7000, 7000)),
        ("5000×5000 RGBA PNG (25 MP: the largest PNG accepted)", blank_rgba_png(5000, 5000)),
    ]
    print(
        f"\n{CONCURRENT} one-shot uploads at once, gunicorn {WORKERS} gthread × {THREADS} threads"
    )
    print(f"  served from {repo}")
    for label, photo in cases:
        print(f"\n{label}, {len(photo) / 1e3:.0f} KB")
        figures = {}
        for name, settings in (("bounds off", UNBOUNDED), ("defaults", {})):
            figures[name] = result = measure(repo, settings, photo)
            statuses = sorted({(s, c) for s, _, c in result["answers"]})
            slowest = max(t for _, t, _ in result["answers"])
            print(
                f"  {name:10}: total RSS {result['baseline']:6.0f} MB idle,"
                f" {result['peak']:6.0f} MB peak; answers {statuses}, slowest {slowest:.1f} s"
            )
        off, on = figures["bounds off"]["peak"], figures["defaults"]["peak"]
        verdict = "PASS" if on < TARGET_TOTAL_MB else "MISS"
        answered = all(s for s, _, _ in figures["defaults"]["answers"])
        print(f"  peak with bounds / without: {on / off:.2f}×")
        target = f"target < {TARGET_TOTAL_MB:.0f} MB"
        print(f"  {verdict} peak {on:.0f} MB ({target}); every upload answered: {answered}")
