"""The OpenAPI document describes every answer, and the server answers what it describes."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.app import Org

BINARY_OR_EMPTY = {"204", "304"}
# tus answers with headers only (tus 1.0.0 creation: 201 and a Location).
HEADERS_ONLY = {"POST /api/v1/uploads 201"}


def _document(client: FlaskClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    return document


def test_every_successful_json_answer_has_a_schema(client: FlaskClient) -> None:
    """Walk the served document: a 2xx answer has a content schema unless it has no body."""
    missing = []
    for path, item in _document(client)["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if not status.startswith("2") or status in BINARY_OR_EMPTY or method == "head":
                    continue
                content = response.get("content", {})
                if not any(media.get("schema") for media in content.values()):
                    missing.append(f"{method.upper()} {path} {status}")
    assert set(missing) == HEADERS_ONLY


def test_binary_bodies_and_tus_headers_are_described(client: FlaskClient) -> None:
    """tus PATCH takes offset+octet-stream, photo PUT an image, photo GETs answer images."""
    paths = _document(client)["paths"]
    patch = paths["/api/v1/uploads/{upload_id}"]["patch"]
    assert "application/offset+octet-stream" in patch["requestBody"]["content"]
    assert {p["name"] for p in patch["parameters"]} >= {"Tus-Resumable", "Upload-Offset"}
    assert "Upload-Offset" in patch["responses"]["204"]["headers"]
    put = paths["/api/v1/visits/{visit_id}/photos/{photo_id}"]["put"]
    assert "image/jpeg" in put["requestBody"]["content"]
    assert "image/jpeg" in paths["/api/v1/photos/{photo_id}"]["get"]["responses"]["200"]["content"]
    post = paths["/api/v1/uploads"]["post"]
    assert {"Location", "Upload-Offset"} <= post["responses"]["201"]["headers"].keys()


def test_calls_without_a_token_are_documented_so(client: FlaskClient) -> None:
    """tus OPTIONS and signing in need no token: their operations say so."""
    paths = _document(client)["paths"]
    assert paths["/api/v1/uploads"]["options"]["security"] == []
    assert paths["/api/v1/auth/token"]["post"]["security"] == []
    assert "security" not in paths["/api/v1/visits"]["get"]


def test_an_id_out_of_range_is_not_found_for_every_method(client: FlaskClient, org: Org) -> None:
    """An id past SQLite's range names nothing: 404, not 405, whatever the method."""
    for method in ("GET", "PATCH", "DELETE"):
        response = client.open(
            "/api/v1/locations/9223372036854775808", method=method, headers=org.auth("admin")
        )
        assert response.status_code == 404, method


def test_a_null_in_a_batch_is_that_visit_s_own_result(client: FlaskClient, org: Org) -> None:
    """One bad visit never fails its batch, even one that is not an object."""
    response = client.post(
        "/api/v1/sync/visits", json={"visits": [None]}, headers=org.auth("shopper")
    )
    assert response.status_code == 200
    assert response.get_json()["results"][0]["status"] == 422


def test_no_content_has_no_content_type(app: Flask, client: FlaskClient, org: Org) -> None:
    """A 204 answer carries no body, hence no Content-Type."""
    response = client.delete(
        f"/api/v1/locations/{org.locations['york']}", headers=org.auth("admin")
    )
    assert response.status_code == 204
    assert "Content-Type" not in response.headers
