"""Every endpoint refuses a body larger than it takes, with 413, before reading it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from fieldobs.api.json_body import PER_ITEM_ENDPOINTS
from fieldobs.api.limits import ENDPOINT_LIMITS
from tests.helpers.app import Org, make_app

FIFTY_MB = 50 * 1024 * 1024


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: memoryview) -> int:  # type: ignore[override]
        raise AssertionError("the body was read")


class EndlessBody(io.RawIOBase):
    """A chunked body that never ends; counts what was read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        buffer[:size] = b" " * size
        self.read_bytes += size
        return size


def send(
    app: Flask, method: str, path: str, body: io.RawIOBase, headers: dict[str, str]
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Send a request whose body stream is given as is (the test client would read it)."""
    environ = EnvironBuilder(path=path, method=method, headers=list(headers.items())).get_environ()
    environ["wsgi.input"] = body
    if "Content-Length" in headers:
        environ["CONTENT_LENGTH"] = headers["Content-Length"]
    else:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True  # as gunicorn says for a chunked body
    app_iter, status, response_headers = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    payload = b"".join(app_iter)
    return int(status.split()[0]), dict(response_headers), json.loads(payload)


@pytest.mark.parametrize(
    ("method", "path", "user"),
    [
        ("POST", "/api/v1/auth/token", None),
        ("POST", "/api/v1/areas", "admin"),
        ("POST", "/api/v1/sync/visits", "shopper"),
        ("PUT", "/api/v1/visits/6f1c2a4e-8d3b-4c1e-9a7f-2b5d8e0c4a11", "shopper"),
        ("PATCH", "/api/v1/uploads/abc", "shopper"),
        ("PUT", "/api/v1/visits/6f1c2a4e-8d3b-4c1e-9a7f-2b5d8e0c4a11/photos/x", "shopper"),
        ("GET", "/healthz", None),
        ("POST", "/api/v1/nowhere", None),
    ],
)
def test_declared_oversized_body_is_413_unread(
    app: Flask, org: Org, method: str, path: str, user: str | None
) -> None:
    headers = {
        "Content-Length": str(FIFTY_MB),
        "Content-Type": "application/json",
        "Tus-Resumable": "1.0.0",
        **(org.auth(user) if user else {}),
    }
    status, response_headers, body = send(app, method, path, UnreadableBody(), headers)
    assert status == 413
    assert body["error"]["code"] == "too_large"
    assert str(FIFTY_MB) in body["error"]["message"]
    assert response_headers["Connection"] == "close"


@pytest.mark.parametrize(
    ("path", "setting"),
    [
        ("/api/v1/auth/token", "MAX_JSON_BODY_BYTES"),
        ("/api/v1/sync/visits", "MAX_BATCH_BODY_BYTES"),
    ],
)
def test_chunked_body_is_413_once_past_the_limit(
    app: Flask, org: Org, path: str, setting: str
) -> None:
    endless = EndlessBody()
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    status, _, body = send(app, "POST", path, endless, {**headers, **org.auth("shopper")})
    assert status == 413
    assert body["error"]["code"] == "too_large"
    limit = app.config[setting]
    assert limit <= endless.read_bytes <= limit + 64 * 1024


def test_each_endpoint_has_its_own_limit(client: FlaskClient, org: Org) -> None:
    padding = {"pad": "x" * 200_000}  # over the JSON limit, under the batch and visit limits
    small_json = client.post("/api/v1/areas", json=padding, headers=org.auth("admin"))
    assert small_json.status_code == 413
    batch = client.post(
        "/api/v1/sync/visits", json={"visits": [], **padding}, headers=org.auth("shopper")
    )
    assert batch.status_code == 422  # read and judged: the unknown field, not the size


def test_limits_follow_the_settings(data_dir: Path) -> None:
    app = make_app(data_dir, MAX_JSON_BODY_BYTES=10)
    response = app.test_client().post(
        "/api/v1/auth/token",
        data=json.dumps({"username": "a" * 20}),
        content_type="application/json",
    )
    assert response.status_code == 413


def test_every_endpoint_named_by_the_checks_exists(app: Flask) -> None:
    assert set(ENDPOINT_LIMITS) <= set(app.view_functions)
    assert set(PER_ITEM_ENDPOINTS) <= set(app.view_functions)


def test_openapi_documents_the_limits(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert (
        "413" in json.dumps(spec["info"]["description"])
        or "too large" in json.dumps(spec["info"]["description"]).lower()
    )
