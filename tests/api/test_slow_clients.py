"""The README's production setup (nginx in front of gunicorn) keeps answering 24 slow clients."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.app import REPO
from tests.helpers.server_process import GUNICORN, free_port

README = REPO / "README.md"
NGINX_CONF = REPO / "deploy" / "nginx.conf"
SLOW_CLIENTS = 24
SECONDS = 10


def production_commands() -> tuple[list[str], str]:
    """Return the README's gunicorn arguments and its nginx command."""
    text = README.read_text()
    block = text[text.index("## Running in production") :]
    block = block[block.index("```sh") : block.index("```", block.index("```sh") + 5)]
    joined = block.replace("\\\n", " ")
    gunicorn = next(line for line in joined.splitlines() if "bin/gunicorn" in line)
    nginx = next(line for line in joined.splitlines() if line.strip().startswith("nginx "))
    return shlex.split(gunicorn.split("#")[0])[1:], nginx


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def production(tmp_path: Path) -> Iterator[int]:
    """Start gunicorn and nginx as the README says, on free ports; yield nginx's port."""
    nginx_binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx_binary).exists():
        message = "nginx is not installed (apt-get install -y nginx)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    gunicorn_args, nginx_command = production_commands()
    assert "deploy/nginx.conf" in nginx_command
    app_port, proxy_port = free_port(), free_port()
    gunicorn_args = [a.replace("127.0.0.1:8000", f"127.0.0.1:{app_port}") for a in gunicorn_args]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "FIELDOBS_DATA_DIR": str(data_dir), "FIELDOBS_TRUSTED_PROXIES": "1"}
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    tmp_path.chmod(0o755)
    nginx_dir.chmod(0o777)  # nginx workers drop root and write buffered bodies here
    conf = NGINX_CONF.read_text()
    conf = conf.replace("127.0.0.1:8000", f"127.0.0.1:{app_port}")
    conf = conf.replace("127.0.0.1:8080", f"127.0.0.1:{proxy_port}")
    conf = re.sub(r"/var/log/nginx/|/run/", f"{nginx_dir}/", conf)
    temp_paths = "".join(
        f"    {kind}_temp_path {nginx_dir}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = conf.replace("http {\n", "http {\n" + temp_paths, 1)
    (nginx_dir / "nginx.conf").write_text(conf)
    log = (tmp_path / "gunicorn.log").open("wb")
    app = subprocess.Popen(
        [str(GUNICORN), *gunicorn_args],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    proxy = subprocess.Popen(
        [
            nginx_binary,
            "-p",
            str(nginx_dir),
            "-e",
            str(nginx_dir / "startup.log"),
            "-c",
            str(nginx_dir / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{app_port}/healthz")
        _wait_for(f"http://127.0.0.1:{proxy_port}/healthz")
        yield proxy_port
    finally:
        for process in (proxy, app):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        log.close()


def slow_client(port: int, stop: threading.Event) -> None:
    """Send a batch push whose body arrives one byte every 2 s."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"POST /api/v1/sync/visits HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            )
            while not stop.wait(2):
                sock.sendall(b" ")
    except OSError:
        pass  # dropped by a read timeout: that is the point


def probe_while_slow(port: int) -> list[float | None]:
    """Hold 24 slow clients open and probe /healthz meanwhile; return latencies (None: failed)."""
    stop = threading.Event()
    clients = [threading.Thread(target=slow_client, args=(port, stop)) for _ in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    time.sleep(1)
    latencies: list[float | None] = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=15) as r:
                latencies.append(
                    (time.perf_counter() - started) * 1000 if r.status == 200 else None
                )
        except OSError:
            latencies.append(None)
        time.sleep(0.5)
    stop.set()
    for client in clients:
        client.join()
    return latencies


@pytest.mark.slow
def test_healthz_answers_through_24_slow_clients(tmp_path: Path) -> None:
    with production(tmp_path) as port:
        latencies = probe_while_slow(port)
    shown = ", ".join("failed" if ms is None else f"{ms:.0f}" for ms in latencies)
    print(f"/healthz latencies (ms) with {SLOW_CLIENTS} slow clients: {shown}")
    assert latencies
    assert None not in latencies
