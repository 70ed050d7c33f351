"""Usernames without look-alikes; passwords that are not common, not the username, not endless."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fieldobs.people.credentials import (
    MAX_PASSWORD_LENGTH,
    is_common_password,
    password_problems,
    username_problems,
)
from tests.helpers.app import PASSWORD, Org

DEMO_PASSWORD = "demo-password"


def _create(client: FlaskClient, org: Org, **fields: object) -> TestResponse:
    body = {"username": "newbie", "password": "a long unusual phrase", "role": "shopper", **fields}
    return client.post("/api/v1/users", json=body, headers=org.auth("admin"))


@pytest.mark.parametrize("password", ["password", "12345678", "Qwertyuiop", "iloveyou", "sunshine"])
def test_common_passwords_are_refused(client: FlaskClient, org: Org, password: str) -> None:
    response = _create(client, org, password=password)
    assert response.status_code == 422
    assert "most used" in response.get_json()["error"]["fields"]["password"][0]


@pytest.mark.parametrize("password", [PASSWORD, DEMO_PASSWORD, "a long unusual phrase"])
def test_suite_and_demo_passwords_are_not_common(password: str) -> None:
    assert not is_common_password(password)
    assert password_problems(password, "admin") == []


def test_password_equal_to_username_is_refused(client: FlaskClient, org: Org) -> None:
    response = _create(client, org, username="Marguerite7", password="marguerite7")
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["password"] == ["must not be the username"]


def test_one_maximum_password_length_for_creation_and_login(client: FlaskClient, org: Org) -> None:
    too_long = "x" * (MAX_PASSWORD_LENGTH + 1)
    assert _create(client, org, password=too_long).status_code == 422
    login = client.post("/api/v1/auth/token", json={"username": "admin", "password": too_long})
    assert login.status_code == 422
    assert "password" in login.get_json()["error"]["fields"]
    longest = "correct horse " + "y" * (MAX_PASSWORD_LENGTH - 14)
    assert _create(client, org, username="longpass", password=longest).status_code == 201
    login = client.post("/api/v1/auth/token", json={"username": "longpass", "password": longest})
    assert login.status_code == 200


@pytest.mark.parametrize(
    "username",
    ["\u0430dmin", "admin\u200b", "ad\x00min", "ad min", "admin@example", "é", "", "a" * 65],
)
def test_look_alike_and_invisible_usernames_are_refused(
    client: FlaskClient, org: Org, username: str
) -> None:
    response = _create(client, org, username=username)
    assert response.status_code == 422
    assert "username" in response.get_json()["error"]["fields"]
    assert username_problems(username)


def test_usernames_are_case_folded(client: FlaskClient, org: Org) -> None:
    created = _create(client, org, username="Jo.Smith_2-b", display_name="Jo Smith (North)")
    assert created.status_code == 201
    assert created.get_json()["username"] == "jo.smith_2-b"
    assert created.get_json()["display_name"] == "Jo Smith (North)"
    assert _create(client, org, username="JO.SMITH_2-B").status_code == 409
    login = client.post(
        "/api/v1/auth/token",
        json={"username": "JO.Smith_2-B", "password": "a long unusual phrase"},
    )
    assert login.status_code == 200


def test_every_bad_user_field_is_named_at_once(client: FlaskClient, org: Org) -> None:
    response = _create(client, org, username="\u0430dmin", password="password", role="king")
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"username", "password", "role"}
