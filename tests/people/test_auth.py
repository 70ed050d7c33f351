"""Signing in, bearer tokens, expiry and revocation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.helpers.app import PASSWORD, Org


def test_token_for_right_password(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["role"] == "admin"
    assert body["token"].startswith("fo_")
    assert (
        client.get(
            "/api/v1/users", headers={"Authorization": f"Bearer {body['token']}"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong password"), ("nobody", PASSWORD), ("ADMIN", "wrong")],
)
def test_wrong_credentials_are_401(client: FlaskClient, username: str, password: str) -> None:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_credentials"


def test_missing_credentials_name_the_fields(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", json={})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"username", "password"}


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic abc", "Bearer fo_not_a_real_token"]
)
def test_bad_authorization_header_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/areas", headers={"Authorization": header})
    assert response.status_code == 401


def test_tokens_are_stored_hashed(client: FlaskClient, org: Org, data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    stored = [row[0] for row in conn.execute("SELECT token_hash FROM tokens")]
    conn.close()
    assert org.tokens["admin"] not in stored
    assert all(len(h) == 64 for h in stored)


def test_revoked_token_is_refused(client: FlaskClient) -> None:
    token = client.post(
        "/api/v1/auth/token", json={"username": "shopper", "password": PASSWORD}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    response = client.get("/api/v1/areas", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_token"


def test_expired_token_is_refused(client: FlaskClient, org: Org, data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with conn:
        conn.execute("UPDATE tokens SET expires_at = '2000-01-01T00:00:00.000000Z'")
    conn.close()
    response = client.get("/api/v1/areas", headers=org.auth("admin"))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "token_expired"


def test_disabled_user_loses_access(client: FlaskClient, org: Org) -> None:
    client.delete(f"/api/v1/users/{org.users['shopper2']}", headers=org.auth("admin"))
    assert client.get("/api/v1/areas", headers=org.auth("shopper2")).status_code == 401
    response = client.post(
        "/api/v1/auth/token", json={"username": "shopper2", "password": PASSWORD}
    )
    assert response.status_code == 401


def test_passwords_are_hashed_with_a_slow_kdf(data_dir: Path) -> None:
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    hashes = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
    conn.close()
    assert all(h.startswith("scrypt:") for h in hashes)
