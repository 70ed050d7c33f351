"""The contract's error shape everywhere, and the health check."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers.app import Org


def test_healthz_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", "/api/v1/nowhere", 404, "not_found"),
        ("DELETE", "/healthz", 405, "method_not_allowed"),
        ("PUT", "/api/v1/areas", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_use_the_error_shape(
    client: FlaskClient, org: Org, method: str, path: str, status: int, code: str
) -> None:
    response = client.open(path, method=method, headers=org.auth("admin"))
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


@pytest.mark.parametrize("body", ["{not json", '{"name": ', "\xff\xfe"])
def test_malformed_json_is_400(client: FlaskClient, org: Org, body: str) -> None:
    response = client.post(
        "/api/v1/areas", data=body, content_type="application/json", headers=org.auth("admin")
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "X", "extra": 1}, "extra"), ([], "_schema")],
)
def test_invalid_fields_are_named(client: FlaskClient, org: Org, body: object, field: str) -> None:
    response = client.post("/api/v1/areas", json=body, headers=org.auth("admin"))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_openapi_document_is_public_and_lists_the_contract(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ["/api/v1/auth/token", "/api/v1/areas", "/api/v1/locations", "/api/v1/checklists"]:
        assert path in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
