"""Disabling, re-enabling and resetting users: tokens revoked, the last admin kept."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers.app import PASSWORD, Org


def _sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    return client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    ).status_code


def test_last_active_admin_cannot_be_disabled(client: FlaskClient, org: Org) -> None:
    response = client.delete(f"/api/v1/users/{org.users['admin']}", headers=org.auth("admin"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "last_admin"
    patch = client.patch(
        f"/api/v1/users/{org.users['admin']}", json={"disabled": True}, headers=org.auth("admin")
    )
    assert patch.status_code == 409
    assert client.get("/api/v1/users", headers=org.auth("admin")).status_code == 200


def test_an_admin_can_be_disabled_while_another_is_active(client: FlaskClient, org: Org) -> None:
    second = client.post(
        "/api/v1/users",
        json={"username": "admin2", "password": "another fine phrase", "role": "admin"},
        headers=org.auth("admin"),
    ).get_json()
    response = client.delete(f"/api/v1/users/{second['id']}", headers=org.auth("admin"))
    assert response.status_code == 200
    assert response.get_json()["disabled_at"]


def test_disabled_user_can_be_enabled_again(client: FlaskClient, org: Org) -> None:
    path = f"/api/v1/users/{org.users['shopper']}"
    assert client.delete(path, headers=org.auth("admin")).status_code == 200
    assert client.get("/api/v1/areas", headers=org.auth("shopper")).status_code == 401
    assert _sign_in(client, "shopper") == 401
    enabled = client.patch(path, json={"disabled": False}, headers=org.auth("admin"))
    assert enabled.status_code == 200
    assert enabled.get_json()["disabled_at"] is None
    assert _sign_in(client, "shopper") == 200
    # The tokens revoked when disabled stay revoked.
    assert client.get("/api/v1/areas", headers=org.auth("shopper")).status_code == 401


def test_password_reset_revokes_tokens(client: FlaskClient, org: Org) -> None:
    path = f"/api/v1/users/{org.users['manager']}"
    response = client.patch(
        path, json={"password": "a brand new phrase"}, headers=org.auth("admin")
    )
    assert response.status_code == 200
    assert client.get("/api/v1/areas", headers=org.auth("manager")).status_code == 401
    assert _sign_in(client, "manager") == 401
    assert _sign_in(client, "manager", "a brand new phrase") == 200


def test_password_reset_follows_the_password_rules(client: FlaskClient, org: Org) -> None:
    path = f"/api/v1/users/{org.users['manager']}"
    response = client.patch(path, json={"password": "password1"}, headers=org.auth("admin"))
    assert response.status_code == 422
    response = client.patch(path, json={"password": "manager"}, headers=org.auth("admin"))
    assert response.status_code == 422
    assert client.get("/api/v1/areas", headers=org.auth("manager")).status_code == 200


def test_only_admins_change_users(client: FlaskClient, org: Org) -> None:
    path = f"/api/v1/users/{org.users['shopper']}"
    response = client.patch(path, json={"disabled": True}, headers=org.auth("manager"))
    assert response.status_code == 403
