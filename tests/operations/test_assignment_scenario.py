"""An assignment carries the scenario its shopper plays (what to ask, buy or raise): made by the
admin or the CSV import, limited in length, pulled by the shopper, documented; and a form
with several bad fields names them all in one 422."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from fieldobs.operations.assignment_rules import SCENARIO_MAX_CHARS
from tests.helpers.app import Org
from tests.helpers.ops_factory import in_hours, pull

SCENARIO = "Ask for a waterproof jacket under £80; then ask to return a gift without a receipt."


def assignment(org: Org, **changes: Any) -> dict[str, Any]:
    """Return a valid assignment request, changed as given."""
    return {
        "shopper": "shopper",
        "location_id": org.locations["leeds"],
        "checklist": "mystery-shop",
        "window_start": in_hours(-2),
        "window_end": in_hours(24),
        **changes,
    }


def post(client: FlaskClient, org: Org, body: Any, **kwargs: Any) -> Any:
    """POST an assignment as the admin."""
    return client.post("/api/v1/assignments", json=body, headers=org.auth("admin"), **kwargs)


def test_the_scenario_reaches_the_shopper_and_the_admin(client: FlaskClient, org: Org) -> None:
    made = post(client, org, assignment(org, scenario=f"  {SCENARIO}\n"))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["scenario"] == SCENARIO
    [pulled] = pull(client, org, "shopper")["assignments"]
    assert pulled["scenario"] == SCENARIO
    own = client.get(f"/api/v1/assignments/{pulled['id']}", headers=org.auth("shopper"))
    assert own.get_json()["scenario"] == SCENARIO


def test_without_a_scenario_it_is_empty(client: FlaskClient, org: Org) -> None:
    made = post(client, org, assignment(org))
    assert made.status_code == 201
    assert made.get_json()["scenario"] == ""


@pytest.mark.parametrize(
    "scenario", ["x" * (SCENARIO_MAX_CHARS + 1), 42, ["a"], "Great \ud83d"], ids=str
)
def test_a_bad_scenario_is_422_naming_it(client: FlaskClient, org: Org, scenario: Any) -> None:
    response = post(client, org, assignment(org, scenario=scenario))
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == {"scenario"}


def test_a_scenario_at_the_limit_is_kept_whole(client: FlaskClient, org: Org) -> None:
    text = "é" * SCENARIO_MAX_CHARS
    made = post(client, org, assignment(org, scenario=text))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["scenario"] == text


def test_the_csv_import_takes_a_scenario_column(client: FlaskClient, org: Org) -> None:
    leeds, york = org.locations["leeds"], org.locations["york"]
    text = (
        "shopper,location_id,checklist,window_start,window_end,scenario\n"
        f'shopper,{leeds},mystery-shop,2030-07-01,2030-07-01,"{SCENARIO}"\n'
        f"shopper2,{york},mystery-shop,2030-07-01,2030-07-01,\n"
    )
    response = client.post(
        "/api/v1/assignments/import",
        data=text,
        content_type="text/csv",
        headers=org.auth("admin"),
    )
    assert response.status_code == 201, response.get_json()
    assert [a["scenario"] for a in response.get_json()["assignments"]] == [SCENARIO, ""]


def test_the_csv_import_refuses_a_long_scenario_by_line(client: FlaskClient, org: Org) -> None:
    text = (
        "shopper,location_id,checklist,window_start,window_end,scenario\n"
        f"shopper,{org.locations['leeds']},mystery-shop,2030-07-01,2030-07-01,"
        f"{'x' * (SCENARIO_MAX_CHARS + 1)}\n"
    )
    response = client.post(
        "/api/v1/assignments/import",
        data=text,
        content_type="text/csv",
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    [problem] = response.get_json()["error"]["fields"]["line 2"]
    assert problem.startswith("scenario:")


def test_reassigning_keeps_the_scenario(client: FlaskClient, org: Org) -> None:
    made = post(client, org, assignment(org, scenario=SCENARIO)).get_json()
    moved = client.post(
        f"/api/v1/assignments/{made['id']}/reassign",
        json={"shopper": "shopper2"},
        headers=org.auth("admin"),
    )
    assert moved.status_code == 201, moved.get_json()
    assert moved.get_json()["scenario"] == SCENARIO


def test_the_openapi_document_describes_the_scenario(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert schemas["AssignmentIn"]["properties"]["scenario"]["maxLength"] == SCENARIO_MAX_CHARS
    assert "scenario" in schemas["Assignment"]["properties"]
    operation = spec["paths"]["/api/v1/assignments"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/AssignmentIn")
    csv_help = spec["paths"]["/api/v1/assignments/import"]["post"]["requestBody"]["description"]
    assert "scenario" in csv_help


# A form with several bad fields names them all ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        # A type error (schema) beside a reference error (domain).
        ({"shopper": "ghost", "location_id": "abc"}, {"shopper", "location_id"}),
        ({"location_id": 1.5, "checklist": "nope"}, {"location_id", "checklist"}),
        (
            {"scenario": 7, "window_start": "soon", "shopper": "manager"},
            {"scenario", "window_start", "shopper"},
        ),
        ({"checklist": "\ud83d", "location_id": 2**64}, {"checklist", "location_id"}),
    ],
)
def test_every_bad_field_is_named_in_one_422(
    client: FlaskClient, org: Org, changes: dict[str, Any], fields: set[str]
) -> None:
    response = post(client, org, assignment(org, **changes))
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == fields


def test_missing_fields_are_named_together(client: FlaskClient, org: Org) -> None:
    response = post(client, org, {"shopper": "ghost"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {
        "shopper",
        "location_id",
        "checklist",
        "window_start",
        "window_end",
    }


def test_a_form_sent_as_another_type_is_415(client: FlaskClient, org: Org) -> None:
    response = client.post(
        "/api/v1/assignments",
        data="shopper=shopper",
        content_type="application/x-www-form-urlencoded",
        headers=org.auth("admin"),
    )
    assert response.status_code == 415


# A 5,000-digit number is JSON: it is a 422 naming its field (tests/api/test_malformed_json.py).
@pytest.mark.parametrize("body", [b"{", b"[" * 2000 + b"]" * 2000])
def test_a_body_that_is_not_json_is_400(client: FlaskClient, org: Org, body: bytes) -> None:
    response = client.post(
        "/api/v1/assignments",
        data=body,
        content_type="application/json",
        headers=org.auth("admin"),
    )
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "malformed_json"
