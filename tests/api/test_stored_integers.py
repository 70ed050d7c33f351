"""Numbers beyond SQLite's 64-bit integers: a field error or a 404, never a 500."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, ValidationError

from fieldobs.stored_integers import (
    LARGEST,
    SMALLEST,
    StoredInteger,
    is_stored_integer,
    parse_stored_integer,
)
from tests.helpers.app import Org

TOO_LARGE = f"Must be between {SMALLEST} and {LARGEST}."


class Query(Schema):
    location_id = StoredInteger()


@pytest.mark.parametrize("value", [LARGEST, SMALLEST, 0, "42"])
def test_stored_integer_loads_what_sqlite_stores(value: int | str) -> None:
    assert Query().load({"location_id": value}) == {"location_id": int(value)}


@pytest.mark.parametrize("value", [LARGEST + 1, SMALLEST - 1, 10**400, str(10**30)])
def test_stored_integer_refuses_larger_numbers_by_name(value: int | str) -> None:
    with pytest.raises(ValidationError) as caught:
        Query().load({"location_id": value})
    assert caught.value.messages == {"location_id": [TOO_LARGE]}


@pytest.mark.parametrize(
    ("value", "stored"),
    [(1, True), (LARGEST, True), (LARGEST + 1, False), (True, False), (1.0, False), ("1", False)],
)
def test_is_stored_integer(value: object, stored: bool) -> None:
    assert is_stored_integer(value) is stored


def test_every_url_with_a_huge_id_names_nothing(app: Flask, client: FlaskClient, org: Org) -> None:
    rules = [rule for rule in app.url_map.iter_rules() if "<int:" in rule.rule]
    assert rules, "no route takes an integer id"
    for rule in rules:
        path = _with_huge_ids(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, headers=org.auth("admin"), json={})
            # werkzeug may answer 405 when a sibling rule of the same path takes other methods.
            assert response.status_code in (404, 405), (method, path, response.get_json())


def _with_huge_ids(template: str) -> str:
    """Fill every <int:...> of a URL rule with 10**30 and any other argument with 'x'."""
    parts = []
    for piece in template.replace(">", "<").split("<"):
        if piece.startswith("int:") or piece.startswith("int("):
            parts.append(str(10**30))
        elif ":" in piece or piece.isidentifier():
            parts.append("x")
        else:
            parts.append(piece)
    return "".join(parts)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/visits?location_id=100000000000000000000000",
        "/api/v1/assignments?location_id=100000000000000000000000",
        "/api/v1/review/queue?location_id=100000000000000000000000",
    ],
)
def test_query_number_beyond_sqlite_is_422_naming_it(
    client: FlaskClient, org: Org, path: str
) -> None:
    response = client.get(path, headers=org.auth("admin"))
    assert response.status_code == 422, response.get_json()
    name = path.split("?")[1].split("=")[0]
    assert response.get_json()["error"]["fields"] == {name: [TOO_LARGE]}


def test_openapi_says_ids_are_64_bit(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    visit = spec["components"]["schemas"]["Visit"]["properties"]
    assert visit["location_id"] == {"type": "integer", "format": "int64"}
    [location] = spec["paths"]["/api/v1/locations/{location_id}"]["parameters"]
    assert location["schema"] == {"type": "integer", "minimum": 0, "maximum": LARGEST}


@pytest.mark.parametrize(
    "value", ["²", "%C2%B2", "１２", "٣", "1²", " 1", "1e3", "99999999999999999999"]
)
def test_query_integers_are_ascii_digits_within_64_bits(
    client: FlaskClient, org: Org, value: str
) -> None:
    response = client.get(f"/api/v1/locations?area_id={value}", headers=org.auth("admin"))
    assert response.status_code == 422, response.get_json()
    assert "area_id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/api/v1/areas/１", "/api/v1/locations/²", "/api/v1/areas/٣"])
def test_url_ids_are_ascii_digits(client: FlaskClient, org: Org, path: str) -> None:
    assert client.get(path, headers=org.auth("admin")).status_code == 404


@pytest.mark.parametrize(
    ("text", "number"),
    [("0", 0), ("42", 42), (str(LARGEST), LARGEST), (str(LARGEST + 1), None), ("9" * 5000, None)]
    + [(bad, None) for bad in ["", "²", "１", "-1", "+1", " 1", "1.0", "0x1"]],
)
def test_parse_stored_integer(text: str, number: int | None) -> None:
    assert parse_stored_integer(text) == number
