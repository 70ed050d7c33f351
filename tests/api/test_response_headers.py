"""JSON is never sniffed, personal answers never cached, a half-read connection never reused."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.app import Org


def test_json_answers_are_not_sniffed(client: FlaskClient, org: Org) -> None:
    for response in [
        client.get("/healthz"),
        client.get("/api/v1/areas", headers=org.auth("admin")),
        client.get("/api/v1/nowhere"),
        client.get("/api/v1/openapi.json"),
    ]:
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_authenticated_json_is_not_stored_by_caches(client: FlaskClient, org: Org) -> None:
    response = client.get("/api/v1/areas", headers=org.auth("manager"))
    assert response.headers["Cache-Control"] == "no-store"
    refused = client.get("/api/v1/users", headers=org.auth("manager"))
    assert refused.status_code == 403
    assert refused.headers["Cache-Control"] == "no-store"


def test_public_json_keeps_its_caching(client: FlaskClient) -> None:
    assert "no-store" not in client.get("/healthz").headers.get("Cache-Control", "")


def test_early_error_with_unread_body_closes_the_connection(client: FlaskClient, org: Org) -> None:
    # 401 before the body is read: its bytes must not be taken as the next request.
    response = client.post("/api/v1/areas", json={"name": "X" * 1000})
    assert response.status_code == 401
    assert response.headers["Connection"] == "close"
    read = client.post("/api/v1/areas", json={"name": ""}, headers=org.auth("admin"))
    assert read.status_code == 422
    assert "Connection" not in read.headers  # the body was read: the connection is reusable


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        sqlite3.OperationalError("database or disk is full"),
    ],
)
def test_full_disk_is_507_with_retry_after(
    app: Flask, client: FlaskClient, org: Org, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def full(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr("fieldobs.api.orgs.create_area", full)
    response = client.post("/api/v1/areas", json={"name": "East"}, headers=org.auth("admin"))
    assert response.status_code == 507
    assert response.get_json()["error"]["code"] == "insufficient_storage"
    assert int(response.headers["Retry-After"]) > 0


def test_full_disk_is_recognised_through_a_wrapping_error(
    client: FlaskClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    def wrapped(*_args: object, **_kwargs: object) -> None:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise RuntimeError("could not write") from cause

    monkeypatch.setattr("fieldobs.api.orgs.create_area", wrapped)
    response = client.post("/api/v1/areas", json={"name": "East"}, headers=org.auth("admin"))
    assert response.status_code == 507


def test_real_full_database_is_507(
    app: Flask, client: FlaskClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldobs.db import get_db

    with app.app_context():
        db = get_db()
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    original = get_db

    def capped() -> object:
        db = original()
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    monkeypatch.setattr("fieldobs.api.orgs.get_db", capped)
    statuses = []
    for index in range(200):  # until the pages there are fill up
        name = f"{index:03d}" + "E" * 190
        statuses.append(
            client.post("/api/v1/areas", json={"name": name}, headers=org.auth("admin")).status_code
        )
        if statuses[-1] != 201:
            break
    assert statuses[-1] == 507
    assert set(statuses[:-1]) <= {201}
