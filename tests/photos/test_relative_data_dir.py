"""Photos are served under `make run`: a real `fieldobs run` started in a folder with ./var."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.photo_factory import assert_sanitised, jpeg, new_id
from tests.helpers.server_process import free_port
from tests.helpers.visit_factory import make_visit, photo_entry

pytestmark = pytest.mark.slow

FIELDOBS = Path(sys.executable).parent / "fieldobs"
PASSWORD = "relative-folder-photos-7"


def fieldobs(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `fieldobs` command as `make run` does: in `cwd`, with the default ./var."""
    return subprocess.run(
        [str(FIELDOBS), *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIELDOBS_", "FLASK_"))}
    return {**env, "FIELDOBS_DATA_DIR": "./var"}


def call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, bytes]:
    """Send one request; return the status and the body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if isinstance(body, bytes):
        data, headers["Content-Type"] = body, "image/jpeg"
    elif body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """Start `fieldobs run` in a temp folder with FIELDOBS_DATA_DIR=./var; yield its URL."""
    fieldobs(tmp_path, "init-db")
    fieldobs(tmp_path, "users", "create", "boss", "--role", "admin", "--password", PASSWORD)
    fieldobs(tmp_path, "users", "create", "walker", "--role", "shopper", "--password", PASSWORD)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [str(FIELDOBS), "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=_env(),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while call_quietly(base) != 200:
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        log.close()


def call_quietly(base: str) -> int | None:
    try:
        return call(base, "GET", "/healthz")[0]
    except OSError:
        return None


def token(base: str, username: str) -> str:
    status, body = call(
        base, "POST", "/api/v1/auth/token", body={"username": username, "password": PASSWORD}
    )
    assert status == 200, body
    return str(json.loads(body)["token"])


def test_a_photo_and_its_thumbnail_are_served_with_a_relative_data_folder(
    served: str, tmp_path: Path
) -> None:
    admin, shopper = token(served, "boss"), token(served, "walker")
    status, body = call(served, "POST", "/api/v1/areas", admin, {"name": "North"})
    assert status == 201, body
    location = {"name": "Leeds", "area_id": json.loads(body)["id"], "timezone": "Europe/London"}
    status, body = call(served, "POST", "/api/v1/locations", admin, location)
    assert status == 201, body
    status, body = call(served, "GET", "/api/v1/checklists/mystery-shop", shopper)
    assert status == 200, body
    data, photo_id = jpeg(seed=71), new_id()
    visit = make_visit(
        json.loads(body),
        json.loads(call(served, "GET", "/api/v1/locations", admin)[1])["locations"][0]["id"],
        photos=[photo_entry(data, photo_id=photo_id)],
    )
    status, body = call(served, "PUT", f"/api/v1/visits/{visit['id']}", shopper, visit)
    assert status == 201, body
    path = f"/api/v1/visits/{visit['id']}/photos/{photo_id}"
    status, body = call(served, "PUT", path, shopper, data)
    assert status == 201, body
    assert any((tmp_path / "var" / "photos").rglob("*"))  # where `make run` keeps them
    status, image = call(served, "GET", f"/api/v1/photos/{photo_id}", shopper)
    assert status == 200, image
    assert_sanitised(image, (800, 600))
    status, thumb = call(served, "GET", f"/api/v1/photos/{photo_id}/thumb", shopper)
    assert status == 200, thumb
    assert_sanitised(thumb)
