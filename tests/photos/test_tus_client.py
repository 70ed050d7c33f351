"""The real tuspy client against a real gunicorn: cut connections, SIGKILL, resume by stored URL."""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError
from tusclient.storage.filestorage import FileStorage
from tusclient.uploader.uploader import Uploader

from tests.helpers.app import Org
from tests.helpers.photo_factory import assert_sanitised, big_photo, new_id
from tests.helpers.server_process import ServerProcess
from tests.helpers.visit_factory import make_visit, photo_entry

pytestmark = pytest.mark.slow

MB = 1 << 20
# What to do to one request, decided from its first bytes: ("cut" | "stall", bytes to let through).
Plan = Callable[[bytes], "tuple[str, int] | None"]


class CuttingProxy:
    """Forward TCP to a server; cut or stall chosen requests after some bytes."""

    def __init__(self, upstream_port: int, plan: Plan) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.plan = plan
        self.cuts = 0
        self.stalled = threading.Event()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        """Return the proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            client.close()
            return
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        try:
            data = client.recv(65536)
            with self._lock:
                action = self.plan(data) if data else None
            budget = None if action is None else action[1]
            while data:
                if budget is not None and len(data) >= budget:
                    upstream.sendall(data[:budget])
                    assert action is not None
                    if action[0] == "stall":
                        # Keep both ends open and silent until the server goes away.
                        self.stalled.set()
                        upstream.settimeout(None)
                        upstream.recv(1)
                    else:
                        with self._lock:
                            self.cuts += 1
                    break
                upstream.sendall(data)
                if budget is not None:
                    budget -= len(data)
                data = client.recv(65536)
        except OSError:
            pass
        _close(client, upstream)

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    _close(source, target)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def patch_at(offsets: list[int], action: str, through: int) -> Plan:
    """Plan: act on the first PATCH at or beyond each offset, once each."""
    pending = sorted(offsets)

    def decide(head: bytes) -> tuple[str, int] | None:
        match = re.search(rb"\r\nupload-offset: *(\d+)", head, re.IGNORECASE)
        if not head.startswith(b"PATCH ") or match is None:
            return None
        offset = int(match.group(1))
        if pending and offset >= pending[0]:
            pending.pop(0)
            return action, through
        return None

    return decide


def call(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, bytes]:
    """Send one request to the server; return the status and the raw body."""
    req = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def server(data_dir: Path) -> Iterator[ServerProcess]:
    """Run gunicorn with two worker processes on a copy of the seeded database."""
    with ServerProcess(data_dir, workers=2) as running:
        yield running


@pytest.fixture
def photo_file(tmp_path: Path) -> Path:
    """Write the 6 MB phone photo to a file, as it sits on the phone."""
    path = tmp_path / "IMG_0042.JPG"
    path.write_bytes(big_photo())
    assert len(big_photo()) > 5 * MB
    return path


class PhotoStream(io.BytesIO):
    """The photo as tuspy reads it: a stream that stays open for the whole upload.

    With file_path, tuspy leaks the file it opens to measure the size; with a stream it
    closes the stream after fingerprinting and then reads it again.
    """

    def close(self) -> None:
        """Keep the bytes readable (tuspy closes the stream mid-upload)."""


def uploader(
    client: TusClient, path: Path, storage: FileStorage, ids: dict[str, str], **kw: Any
) -> Uploader:
    """Return a tuspy uploader that finds and keeps its URL in `storage`, as a phone app does."""
    return client.uploader(
        file_stream=PhotoStream(path.read_bytes()),
        chunk_size=MB,
        metadata={**ids, "filename": path.name, "filetype": "image/jpeg"},
        store_url=True,
        url_storage=storage,
        retries=0,
        **kw,
    )


def assert_arrived_whole_and_sanitised(
    server: ServerProcess, org: Org, ids: dict[str, str], data: bytes
) -> None:
    """Push the visit naming the photo; it is submitted at once and the photo is served clean."""
    token = org.tokens["shopper"]
    status, raw = call(server.url, "GET", "/api/v1/checklists/mystery-shop", token)
    assert status == 200
    visit = make_visit(
        json.loads(raw),
        org.locations["leeds"],
        visit_id=ids["visit_id"],
        photos=[photo_entry(data, photo_id=ids["photo_id"])],
    )
    status, raw = call(server.url, "PUT", f"/api/v1/visits/{visit['id']}", token, visit)
    assert status == 201
    # Submitted means the received bytes' sha256 equals the manifest's: the photo arrived whole.
    assert json.loads(raw)["status"] == "submitted"
    status, served = call(server.url, "GET", f"/api/v1/photos/{ids['photo_id']}", token)
    assert status == 200
    assert_sanitised(served, (4032, 3024))


def test_tuspy_resumes_by_stored_url_after_two_cut_connections(
    server: ServerProcess, org: Org, photo_file: Path, tmp_path: Path
) -> None:
    ids = {"visit_id": new_id(), "photo_id": new_id()}
    storage = FileStorage(str(tmp_path / "tus-urls.json"))
    plan = patch_at([MB, 3 * MB], "cut", through=300_000)
    with CuttingProxy(server.port, plan) as proxy:
        client = TusClient(
            f"{proxy.url}/api/v1/uploads",
            headers={"Authorization": f"Bearer {org.tokens['shopper']}"},
        )
        starts: list[int] = []
        for _ in range(10):
            # A fresh uploader each time, as after the app was closed: it resumes from storage.
            attempt = uploader(client, photo_file, storage, ids)
            starts.append(attempt.offset)
            try:
                attempt.upload()
                break
            except TusCommunicationError:
                continue
        else:
            pytest.fail("the upload never completed")
    assert proxy.cuts == 2
    assert attempt.offset == photo_file.stat().st_size
    assert starts[0] == 0
    assert len(starts) >= 3
    assert all(offset > 0 for offset in starts[1:])
    # Without checksums the bytes that made it through a cut are kept: not a chunk boundary.
    assert any(offset % MB for offset in starts[1:])
    storage.close()
    assert_arrived_whole_and_sanitised(server, org, ids, photo_file.read_bytes())


def test_tuspy_resumes_after_the_server_is_killed_mid_upload(
    server: ServerProcess, org: Org, photo_file: Path, tmp_path: Path
) -> None:
    ids = {"visit_id": new_id(), "photo_id": new_id()}
    storage = FileStorage(str(tmp_path / "tus-urls.json"))
    with CuttingProxy(server.port, patch_at([2 * MB], "stall", through=400_000)) as proxy:
        client = TusClient(
            f"{proxy.url}/api/v1/uploads",
            headers={"Authorization": f"Bearer {org.tokens['shopper']}"},
        )
        first = uploader(client, photo_file, storage, ids, upload_checksum=True)
        failures: list[BaseException] = []

        def run() -> None:
            try:
                first.upload()
            except TusCommunicationError as error:
                failures.append(error)

        sender = threading.Thread(target=run)
        sender.start()
        assert proxy.stalled.wait(30), "the third chunk never got under way"
        server.kill()  # SIGKILL master and workers mid-PATCH: no clean shutdown
        sender.join(30)
        assert failures, "the upload should have failed with the server gone"
        server.start()
        resumed = uploader(client, photo_file, storage, ids, upload_checksum=True)
        # Two chunks were acknowledged; the one in flight was never counted.
        assert resumed.offset == 2 * MB
        resumed.upload()
        assert resumed.offset == photo_file.stat().st_size
    storage.close()
    assert_arrived_whole_and_sanitised(server, org, ids, photo_file.read_bytes())
