"""Every endpoint declares its roles; each role gets 2xx, 403 or (outside scope) 404."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.api.security import DOCS_BLUEPRINT, declared_roles
from tests.helpers.app import Org


def test_every_api_endpoint_declares_its_roles(app: Flask) -> None:
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and not rule.endpoint.startswith(f"{DOCS_BLUEPRINT}.")
        and declared_roles(app.view_functions[rule.endpoint]) is None
    ]
    assert undeclared == []


ALL = {"admin", "lead", "manager", "manager_south", "shopper"}


def expect(default: int, **overrides: int) -> dict[str, int]:
    """Return the expected status per user: a default and the exceptions."""
    return {user: overrides.get(user, default) for user in ALL}


ADMIN_ONLY_201 = expect(403, admin=201)
ADMIN_ONLY_200 = expect(403, admin=200)

# (method, path with {placeholders} from the seeded org, JSON body, expected status per user)
MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/api/v1/areas", None, expect(200)),
    ("POST", "/api/v1/areas", {"name": "East"}, ADMIN_ONLY_201),
    ("GET", "/api/v1/areas/{north}", None, expect(200, manager_south=404)),
    ("GET", "/api/v1/areas/{south}", None, expect(200, lead=404, manager=404)),
    ("GET", "/api/v1/locations", None, expect(200)),
    (
        "POST",
        "/api/v1/locations",
        {"name": "Hull", "area_id": "{north}", "timezone": "Europe/London"},
        ADMIN_ONLY_201,
    ),
    ("GET", "/api/v1/locations/{leeds}", None, expect(200, manager_south=404)),
    ("GET", "/api/v1/locations/{york}", None, expect(200, manager=404, manager_south=404)),
    (
        "GET",
        "/api/v1/locations/{dublin}",
        None,
        expect(200, lead=404, manager=404, manager_south=404),
    ),
    ("PATCH", "/api/v1/locations/{york}", {"name": "York Minster"}, ADMIN_ONLY_200),
    ("DELETE", "/api/v1/locations/{dublin}", None, expect(403, admin=204)),
    ("GET", "/api/v1/users", None, ADMIN_ONLY_200),
    (
        "POST",
        "/api/v1/users",
        {"username": "new", "password": "long enough pw", "role": "shopper"},
        ADMIN_ONLY_201,
    ),
    ("GET", "/api/v1/users/{shopper_id}", None, ADMIN_ONLY_200),
    ("DELETE", "/api/v1/users/{shopper2_id}", None, ADMIN_ONLY_200),
    ("GET", "/api/v1/checklists", None, expect(200)),
    ("GET", "/api/v1/checklists/mystery-shop", None, expect(200)),
    ("GET", "/api/v1/checklists/mystery-shop/versions/1", None, expect(200)),
    ("GET", "/api/v1/checklists/no-such-checklist", None, expect(404)),
    ("GET", "/api/v1/visits", None, expect(200)),
    ("GET", "/api/v1/sync/changes", None, expect(200)),
]


def _fill(value: Any, org: Org) -> Any:
    names = {**org.areas, **org.locations, **{f"{u}_id": i for u, i in org.users.items()}}
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in names:
            return names[value[1:-1]]
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, org) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "user", "status"),
    [
        pytest.param(method, path, body, user, expected[user], id=f"{method} {path} as {user}")
        for method, path, body, expected in MATRIX
        for user in sorted(ALL)
    ],
)
def test_role_and_scope_decide_the_status(
    client: FlaskClient, org: Org, method: str, path: str, body: Any, user: str, status: int
) -> None:
    response = client.open(
        _fill(path, org), method=method, json=_fill(body, org), headers=org.auth(user)
    )
    assert response.status_code == status, response.get_json()
    if status >= 400:
        assert set(response.get_json()["error"]) >= {"code", "message"}


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX)
def test_every_endpoint_requires_a_token(
    client: FlaskClient, org: Org, method: str, path: str, body: Any, expected: dict[str, int]
) -> None:
    response = client.open(_fill(path, org), method=method, json=_fill(body, org))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
