"""Hostile JSON bodies get 400/415/422 naming the field, on every JSON endpoint, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema

from fieldobs.api.json_body import PER_ITEM_ENDPOINTS, json_schema_of
from tests.helpers.app import Org

VISIT_ID = "6f1c2a4e-8d3b-4c1e-9a7f-2b5d8e0c4a11"
LONE_SURROGATE = '"Great \\ud83d"'  # half an emoji, as a JS client cuts it


def _json_endpoints(app: Flask) -> list[tuple[str, str, str, list[str]]]:
    """Return (method, path, endpoint, field names) of every endpoint that reads a JSON body."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        schema = json_schema_of(view)
        if schema is None:
            continue
        instance = schema() if isinstance(schema, type) else schema
        assert isinstance(instance, Schema)
        path = re.sub(r"<int:\w+>", "1", rule.rule.replace("<visit_id>", VISIT_ID))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path, rule.endpoint, sorted(instance.fields)))
    return found


def _send(client: FlaskClient, org: Org, method: str, path: str, body: str, **kw: Any) -> Any:
    headers = {"Content-Type": "application/json", **org.auth("admin"), **kw}
    return client.open(path, method=method, data=body.encode(), headers=headers)


def test_there_are_json_endpoints_to_check(app: Flask) -> None:
    assert len(_json_endpoints(app)) >= 12


def test_lone_surrogate_in_any_field_is_422_naming_it(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    for method, path, endpoint, names in _json_endpoints(app):
        if endpoint in PER_ITEM_ENDPOINTS:
            continue  # a batch judges each item alone (tests/visits)
        for name in names:
            body = "{" + json.dumps(name) + ": " + LONE_SURROGATE + "}"
            response = _send(client, org, method, path, body)
            assert response.status_code == 422, (method, path, name, response.get_json())
            assert name in response.get_json()["error"]["fields"], (method, path, name)


def test_lone_surrogate_without_a_token_is_422(client: FlaskClient) -> None:
    body = '{"username": ' + LONE_SURROGATE + ', "password": "x"}'
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 422
    assert "username" in response.get_json()["error"]["fields"]
    json.dumps(response.get_json(), ensure_ascii=False).encode()  # the answer is valid UTF-8


def test_lone_surrogate_in_a_key_is_named_readably(client: FlaskClient) -> None:
    body = '{"a\\udc00": 1}'
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["a\ufffd"]


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deep_nesting_is_400(app: Flask, client: FlaskClient, org: Org, depth: int) -> None:
    body = '{"name": ' + "[" * depth + "]" * depth + "}"
    for method, path, _, _ in _json_endpoints(app):
        response = _send(client, org, method, path, body)
        if response.status_code == 413:
            continue  # 100,000 levels are larger than small JSON endpoints take
        assert response.status_code == 400, (method, path, response.get_json())
        assert response.get_json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("number", "problem"),
    [("9" * 5000, "4300 digits"), ("-" + "9" * 4301, "4300 digits"), ("1e999", "out of range")],
)
def test_unusable_numbers_are_422_naming_the_field(
    app: Flask, client: FlaskClient, org: Org, number: str, problem: str
) -> None:
    for method, path, _, names in _json_endpoints(app):
        body = "{" + json.dumps(names[0]) + ": " + number + "}"
        response = _send(client, org, method, path, body)
        assert response.status_code == 422, (method, path, response.get_json())
        assert problem in response.get_json()["error"]["fields"][names[0]][0]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_400(client: FlaskClient, constant: str) -> None:
    body = '{"username": "a", "password": ' + constant + "}"
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_type_is_415(
    app: Flask, client: FlaskClient, org: Org, content_type: str
) -> None:
    for method, path, _, _ in _json_endpoints(app):
        response = _send(
            client, org, method, path, '{"name": "x"}', **{"Content-Type": content_type}
        )
        assert response.status_code == 415, (method, path, response.get_json())
        assert response.get_json()["error"]["code"] == "unsupported_media_type"


def test_json_with_a_structured_suffix_is_json(client: FlaskClient, org: Org) -> None:
    response = client.post(
        "/api/v1/areas",
        data='{"name": "East"}',
        headers={"Content-Type": "application/merge-patch+json", **org.auth("admin")},
    )
    assert response.status_code == 201


def test_valid_escaped_pairs_are_kept(client: FlaskClient, org: Org) -> None:
    response = _send(client, org, "POST", "/api/v1/areas", '{"name": "Caf\\u00e9 \\ud83d\\ude00"}')
    assert response.status_code == 201
    assert response.get_json()["name"] == "Café 😀"
