"""Console sign-in: cookies, CSRF, sign-out, password changes, disabling and resets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.app import PASSWORD
from tests.helpers.console_world import World, csrf_token, sign_in


def test_session_cookie_is_httponly_and_lax(web_app: Flask) -> None:
    client = web_app.test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(
        "/", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("fieldobs_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(web_app: Flask) -> None:
    client = web_app.test_client()
    token = csrf_token(client.get("/", base_url="https://localhost").get_data(as_text=True))
    response = client.post(
        "/",
        base_url="https://localhost",
        # Over HTTPS the CSRF check also wants a same-site Referer (Flask-WTF's strict mode).
        headers={"Referer": "https://localhost/"},
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
    )
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("fieldobs_session=")
    )
    assert "Secure" in cookie


def test_wrong_password_is_refused_without_a_session(web_app: Flask) -> None:
    client = web_app.test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"username": "admin", "password": "no", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/areas").status_code == 302


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/", {"username": "admin", "password": PASSWORD}),
        ("/sign-out", {}),
        ("/admin/people/5/disable", {}),
        ("/account", {"current_password": PASSWORD, "new_password": "x" * 12}),
    ],
)
def test_form_post_without_csrf_token_is_refused(
    path: str, data: dict[str, str], signed_in: Callable[[str], FlaskClient]
) -> None:
    client = signed_in("admin")
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.get("/admin/people").status_code == 200  # still signed in, nothing changed


def test_bearer_api_needs_no_csrf_token(web_app: Flask, world: World) -> None:
    response = web_app.test_client().post(
        "/api/v1/areas", json={"name": "East"}, headers=world.org.auth("admin")
    )
    assert response.status_code == 201


def test_sign_out_revokes_the_session(signed_in: Callable[[str], FlaskClient]) -> None:
    client = signed_in("lead")
    cookie = client.get_cookie("fieldobs_session")
    assert cookie is not None
    token = csrf_token(client.get("/account").get_data(as_text=True))
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    # The old cookie, replayed, no longer works.
    client.set_cookie("fieldobs_session", cookie.value)
    assert client.get("/areas/1").status_code == 302


def test_sign_in_returns_to_the_page_asked_for(web_app: Flask) -> None:
    client = web_app.test_client()
    page = client.get("/?next=/stores/1").get_data(as_text=True)
    response = client.post(
        "/",
        data={
            "username": "lead",
            "password": PASSWORD,
            "csrf_token": csrf_token(page),
            "next": "/stores/1",
        },
    )
    assert response.headers["Location"] == "/stores/1"


def test_sign_in_never_redirects_off_site(web_app: Flask) -> None:
    client = web_app.test_client()
    page = client.get("/").get_data(as_text=True)
    response = client.post(
        "/",
        data={
            "username": "lead",
            "password": PASSWORD,
            "csrf_token": csrf_token(page),
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/"


def test_changing_password_ends_other_sessions_and_tokens(
    web_app: Flask, world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    other = signed_in("manager")
    client = signed_in("manager")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    response = client.post(
        "/account",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a new long password",
            "confirm_password": "a new long password",
        },
    )
    assert response.status_code == 200
    assert client.get("/stores/1").status_code == 200  # this session stays
    assert other.get("/stores/1").status_code == 302  # the other one ended
    api = web_app.test_client().get("/api/v1/locations", headers=world.org.auth("manager"))
    assert api.status_code == 401
    sign_in(web_app.test_client(), "manager", "a new long password")


def test_wrong_current_password_is_shown_beside_the_field(
    signed_in: Callable[[str], FlaskClient],
) -> None:
    client = signed_in("manager")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    response = client.post(
        "/account",
        data={
            "csrf_token": token,
            "current_password": "wrong",
            "new_password": "long enough pw",
            "confirm_password": "long enough pw",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'href="#f-current_password"' in html
    assert "is not right" in html


@pytest.mark.parametrize("action", ["disable", "password"])
def test_disabling_or_resetting_ends_sessions_and_tokens(
    action: str, web_app: Flask, world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    victim = signed_in("lead")
    admin = signed_in("admin")
    token = csrf_token(admin.get("/admin/people").get_data(as_text=True))
    user_id = world.org.users["lead"]
    response = admin.post(
        f"/admin/people/{user_id}/{action}",
        data={"csrf_token": token, "new_password": "brand new password"},
    )
    assert response.status_code == 303
    assert victim.get("/areas/1").status_code == 302
    api = web_app.test_client().get("/api/v1/areas", headers=world.org.auth("lead"))
    assert api.status_code == 401


def test_re_enabled_user_signs_in_again(
    web_app: Flask, world: World, signed_in: Callable[[str], FlaskClient]
) -> None:
    admin = signed_in("admin")
    user_id = world.org.users["shopper2"]
    for action in ("disable", "enable"):
        token = csrf_token(admin.get("/admin/people").get_data(as_text=True))
        assert admin.post(f"/admin/people/{user_id}/{action}", data={"csrf_token": token})
    sign_in(web_app.test_client(), "shopper2")


def test_repeated_wrong_passwords_are_throttled(web_app: Flask) -> None:
    client = web_app.test_client()
    token = csrf_token(client.get("/").get_data(as_text=True))
    statuses = [
        client.post(
            "/", data={"username": "lead", "password": "wrong", "csrf_token": token}
        ).status_code
        for _ in range(8)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429
