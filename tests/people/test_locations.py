"""Areas and locations: validation, scope, retirement, and CSV import."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.errors import Invalid
from fieldobs.people.orgs import import_locations_csv
from tests.helpers.app import Org
from tests.helpers.visit_factory import make_visit


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "area_id": 1, "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "X", "area_id": 1, "timezone": "BST"}, "timezone"),
        ({"name": "X", "area_id": 999, "timezone": "Europe/London"}, "area_id"),
        ({"name": "X", "area_id": "1", "timezone": "Europe/London"}, "area_id"),
        ({"area_id": 1, "timezone": "Europe/London"}, "name"),
    ],
)
def test_invalid_location_names_the_field(
    client: FlaskClient, org: Org, body: dict[str, object], field: str
) -> None:
    response = client.post("/api/v1/locations", json=body, headers=org.auth("admin"))
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_duplicate_area_name_is_409(client: FlaskClient, org: Org) -> None:
    response = client.post("/api/v1/areas", json={"name": "North"}, headers=org.auth("admin"))
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("admin", {"leeds", "york", "brighton", "dublin"}),
        ("lead", {"leeds", "york"}),
        ("manager", {"leeds"}),
        ("manager_south", {"brighton"}),
        ("shopper", {"leeds", "york", "brighton", "dublin"}),
    ],
)
def test_location_list_is_scoped(
    client: FlaskClient, org: Org, user: str, expected: set[str]
) -> None:
    body = client.get("/api/v1/locations", headers=org.auth(user)).get_json()
    by_id = {v: k for k, v in org.locations.items()}
    assert {by_id[loc["id"]] for loc in body["locations"]} == expected


def test_retired_location_disappears_but_keeps_history(client: FlaskClient, org: Org) -> None:
    admin = org.auth("admin")
    assert (
        client.delete(f"/api/v1/locations/{org.locations['york']}", headers=admin).status_code
        == 204
    )
    assert (
        client.get(f"/api/v1/locations/{org.locations['york']}", headers=admin).status_code == 404
    )
    names = [
        loc["name"]
        for loc in client.get("/api/v1/locations", headers=admin).get_json()["locations"]
    ]
    assert "York" not in names


GOOD_CSV = """name,area,timezone,address,external_ref
Hull,North,Europe/London,1 King St,S-100
Cork,West,Europe/Dublin,,S-101
"""


def test_csv_import_creates_locations_and_areas(app: Flask) -> None:
    with app.app_context():
        counts = import_locations_csv(get_db(), GOOD_CSV)
        again = import_locations_csv(get_db(), GOOD_CSV.replace("1 King St", "2 King St"))
        address = (
            get_db()
            .execute("SELECT address FROM locations WHERE external_ref = 'S-100'")
            .fetchone()
        )
    assert counts == {"created": 2, "updated": 0, "areas_created": 1}
    assert again == {"created": 0, "updated": 2, "areas_created": 0}
    assert address[0] == "2 King St"


@pytest.mark.parametrize(
    ("text", "problem_key", "fragment"),
    [
        (
            "name,area,timezone\nA,North,Europe/London\n,North,Europe/London\n",
            "line 3",
            "name is empty",
        ),
        ("name,area,timezone\nA,North,Nowhere/City\n", "line 2", "unknown IANA time zone"),
        ("name,area\nA,North\n", "header", "missing column 'timezone'"),
        (
            "name,area,timezone,external_ref\nA,N,UTC,X1\nB,N,UTC,X1\n",
            "line 3",
            "repeats line 2",
        ),
    ],
)
def test_csv_import_reports_bad_rows_by_line_and_imports_nothing(
    app: Flask, text: str, problem_key: str, fragment: str
) -> None:
    with app.app_context():
        before = get_db().execute("SELECT count(*) FROM locations").fetchone()[0]
        with pytest.raises(Invalid) as caught:
            import_locations_csv(get_db(), text)
        after = get_db().execute("SELECT count(*) FROM locations").fetchone()[0]
    assert caught.value.fields is not None
    assert any(fragment in problem for problem in caught.value.fields[problem_key])
    assert after == before


def test_time_zone_change_refiles_visits_into_local_months(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    walk = client.get(
        "/api/v1/checklists/back-to-the-floor", headers=org.auth("manager")
    ).get_json()
    # 23:30 UTC on 31 October is still October in London and already November in Tokyo.
    visit = make_visit(
        walk,
        org.locations["leeds"],
        started_at="2026-10-31T23:00:00Z",
        finished_at="2026-10-31T23:30:00Z",
    )
    headers = org.auth("manager")
    assert (
        client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=headers).status_code == 201
    )

    def month() -> str:
        with app.app_context():
            row = (
                get_db()
                .execute("SELECT month FROM score_visits WHERE visit_id = ?", [visit["id"]])
                .fetchone()
            )
        return str(row[0])

    assert month() == "2026-10"
    response = client.patch(
        f"/api/v1/locations/{org.locations['leeds']}",
        json={"timezone": "Asia/Tokyo"},
        headers=org.auth("admin"),
    )
    assert response.status_code == 200
    assert month() == "2026-11"


def test_two_bad_location_fields_are_named_at_once(client: FlaskClient, org: Org) -> None:
    body = {"name": "", "area_id": org.areas["north"], "timezone": "Mars/Base"}
    response = client.post("/api/v1/locations", json=body, headers=org.auth("admin"))
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"name", "timezone"}
    patch = client.patch(
        f"/api/v1/locations/{org.locations['leeds']}",
        json={"name": "", "timezone": "Mars/Base"},
        headers=org.auth("admin"),
    )
    assert set(patch.get_json()["error"]["fields"]) == {"name", "timezone"}


def test_duplicate_external_ref_is_409(client: FlaskClient, org: Org) -> None:
    body = {
        "name": "Hull",
        "area_id": org.areas["north"],
        "timezone": "Europe/London",
        "external_ref": "ST-0042",
    }
    assert client.post("/api/v1/locations", json=body, headers=org.auth("admin")).status_code == 201
    again = client.post(
        "/api/v1/locations", json={**body, "name": "Hull 2"}, headers=org.auth("admin")
    )
    assert again.status_code == 409
    assert "external_ref" in again.get_json()["error"]["fields"]
