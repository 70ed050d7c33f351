"""Exactly-once visit push: 201 new, 200 replay, 409 conflict, 422 invalid, corrections."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.storage.connection import transaction
from fieldobs.visits.review import return_visit
from tests.helpers.app import Org
from tests.helpers.responses import json_object
from tests.helpers.visit_factory import make_visit, photo_entry


@pytest.fixture
def mystery(client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return the latest mystery-shop checklist."""
    return json_object(client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")))


@pytest.fixture
def walkthrough(client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return the latest back-to-the-floor checklist."""
    return json_object(
        client.get("/api/v1/checklists/back-to-the-floor", headers=org.auth("manager"))
    )


def put(client: FlaskClient, org: Org, visit: dict[str, Any], user: str = "shopper") -> Any:
    """PUT a visit as a user."""
    return client.put(f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth(user))


def count_rows(data_dir: Path, table: str) -> int:
    """Count the rows of a table straight from the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_new_visit_is_201_with_scores(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    response = put(client, org, visit)
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "submitted"
    assert body["score"] == 100.0
    assert {s["id"] for s in body["sections"]} >= {"greeting", "ownership", "tone"}


def test_replay_is_200_and_writes_nothing(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    first = put(client, org, visit)
    changes_before = count_rows(data_dir, "visit_revisions")
    reordered = json.loads(json.dumps(visit, sort_keys=True))  # same content, other key order
    second = put(client, org, reordered)
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    assert count_rows(data_dir, "visits") == 1
    assert count_rows(data_dir, "visit_revisions") == changes_before


def test_same_id_other_content_is_409_and_keeps_the_stored_visit(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    put(client, org, visit)
    response = put(client, org, {**visit, "notes": "edited afterwards"})
    assert response.status_code == 409
    stored = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("shopper")).get_json()
    assert "notes" not in stored


def test_uppercase_uuid_is_the_same_visit(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    put(client, org, visit)
    shouted = {**visit, "id": visit["id"].upper()}
    response = client.put(
        f"/api/v1/visits/{shouted['id']}", json=shouted, headers=org.auth("shopper")
    )
    assert response.status_code == 200


def test_another_users_visit_id_is_409(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    put(client, org, visit)
    assert put(client, org, visit, user="shopper2").status_code == 409


def _invalid_cases(mystery: dict[str, Any], org: Org) -> list[tuple[dict[str, Any], str]]:
    base = make_visit(mystery, org.locations["leeds"])
    first_item = base["answers"][0]["item"]
    return [
        ({**base, "revision": 2}, "revision"),
        ({**base, "location_id": 999}, "location_id"),
        ({**base, "checklist": {"slug": "mystery-shop", "version": 99}}, "checklist"),
        ({**base, "checklist": {"slug": "nope", "version": 1}}, "checklist"),
        ({**base, "answers": [{"item": "nope", "value": 1}, *base["answers"]]}, "answers.0.item"),
        (
            {**base, "answers": [{"item": first_item, "value": "soon"}, *base["answers"][1:]]},
            "answers.0.value",
        ),
        ({**base, "answers": base["answers"][1:]}, "answers"),
        ({**base, "started_at": "yesterday"}, "started_at"),
        ({**base, "finished_at": "2026-11-23T09:30:00"}, "finished_at"),
        ({**base, "finished_at": "2026-11-23T08:00:00Z"}, "finished_at"),
        ({**base, "id": "not-a-uuid"}, "id"),
        ({**base, "id": str(uuid.uuid1())}, "id"),
        (
            {
                **base,
                "photos": [
                    {
                        "id": str(uuid.uuid4()),
                        "sha256": "x",
                        "size": 1,
                        "content_type": "image/jpeg",
                    }
                ],
            },
            "photos.0.sha256",
        ),
        ({**base, "surprise": True}, "surprise"),
    ]


@pytest.mark.parametrize("case", range(14))
def test_invalid_visit_is_422_naming_the_field(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path, case: int
) -> None:
    visit, field = _invalid_cases(mystery, org)[case]
    url_id = visit["id"] if field != "id" else str(uuid.uuid4())
    response = client.put(f"/api/v1/visits/{url_id}", json=visit, headers=org.auth("shopper"))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert count_rows(data_dir, "visits") == 0


def test_url_and_body_ids_must_match(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    response = client.put(f"/api/v1/visits/{uuid.uuid4()}", json=visit, headers=org.auth("shopper"))
    assert response.status_code == 422
    assert "id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("user", "checklist", "location", "status"),
    [
        ("shopper", "mystery", "leeds", 201),
        ("shopper", "walkthrough", "leeds", 422),
        ("manager", "walkthrough", "leeds", 201),
        ("manager", "walkthrough", "york", 422),
        ("manager", "mystery", "leeds", 422),
        ("lead", "walkthrough", "york", 201),
        ("lead", "walkthrough", "brighton", 422),
    ],
)
def test_role_decides_which_checklists_and_locations(
    client: FlaskClient,
    org: Org,
    mystery: dict[str, Any],
    walkthrough: dict[str, Any],
    user: str,
    checklist: str,
    location: str,
    status: int,
) -> None:
    definition = mystery if checklist == "mystery" else walkthrough
    visit = make_visit(definition, org.locations[location])
    assert put(client, org, visit, user=user).status_code == status


def test_visit_with_photos_waits_for_them(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"], photos=[photo_entry(b"jpeg bytes")])
    body = put(client, org, visit).get_json()
    assert body["status"] == "awaiting_photos"
    stored = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("shopper")).get_json()
    assert [p["state"] for p in stored["photos"]] == ["expected"]


def test_old_checklist_version_is_scored_by_that_version(
    app: Flask, client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    # Publish version 2 where the first section's weight changes; a v1 visit keeps v1 scoring.
    from fieldobs.checklists.published import _publish

    changed = {k: v for k, v in mystery.items() if k not in {"version", "published_at"}}
    changed["title"] = "Mystery shop, revised"
    changed["sections"] = [s for s in changed["sections"] if s["id"] != "greeting"]
    with app.app_context(), transaction(get_db()):
        _publish(get_db(), changed)
    visit = make_visit(mystery, org.locations["leeds"], quality=1.0)
    body = put(client, org, visit).get_json()
    assert "greeting" in {s["id"] for s in body["sections"]}
    stored = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("admin")).get_json()
    assert stored["checklist"] == {"slug": "mystery-shop", "version": 1}


def _return(app: Flask, visit_id: str) -> None:
    with app.app_context(), transaction(get_db()):
        return_visit(get_db(), visit_id, "please add the wait time")


def test_returned_visit_takes_the_next_revision(
    app: Flask, client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"], quality=1.0)
    put(client, org, visit)
    corrected = {
        **make_visit(mystery, org.locations["leeds"], visit_id=visit["id"], quality=0.0),
        "revision": 2,
    }
    assert put(client, org, corrected).status_code == 409  # not returned yet
    _return(app, visit["id"])
    response = put(client, org, corrected)
    assert response.status_code == 200
    assert response.get_json()["revision"] == 2
    assert response.get_json()["score"] < 50
    assert put(client, org, corrected).status_code == 200  # its replay
    assert put(client, org, visit).status_code == 200  # a late retry of revision 1
    assert put(client, org, {**visit, "notes": "other"}).status_code == 409
    assert put(client, org, {**corrected, "revision": 3}).status_code == 409


@pytest.mark.parametrize(
    ("finished_at", "flag"),
    [
        ("2099-01-01T00:00:00Z", "device_clock_ahead"),
        ("2001-01-01T00:30:00Z", "device_clock_behind"),
    ],
)
def test_wild_device_clock_is_kept_and_flagged(
    client: FlaskClient, org: Org, mystery: dict[str, Any], finished_at: str, flag: str
) -> None:
    started_at = finished_at.replace("T00:30", "T00:00").replace("T00:00:00Z", "T00:00:00Z")
    visit = make_visit(
        mystery, org.locations["leeds"], started_at=started_at, finished_at=finished_at
    )
    assert put(client, org, visit).status_code == 201
    stored = client.get(f"/api/v1/visits/{visit['id']}", headers=org.auth("admin")).get_json()
    assert stored["finished_at"] == finished_at
    assert flag in stored["flags"]
    assert stored["observed_at"] == stored["received_at"]


def test_batch_reports_each_visit_and_one_bad_never_fails_the_others(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path
) -> None:
    good = make_visit(mystery, org.locations["leeds"])
    other = make_visit(mystery, org.locations["york"])
    put(client, org, good)
    batch = [
        good,
        {**good, "notes": "conflict"},
        {**other, "location_id": 999},
        other,
        "not an object",
        {"id": str(uuid.uuid4())},
    ]
    response = client.post(
        "/api/v1/sync/visits", json={"visits": batch}, headers=org.auth("shopper")
    )
    assert response.status_code == 200
    statuses = [r["status"] for r in response.get_json()["results"]]
    assert statuses == [200, 409, 422, 201, 422, 422]
    assert response.get_json()["results"][2]["error"]["fields"] == {
        "location_id": ["no such location in your scope"]
    }
    assert count_rows(data_dir, "visits") == 2


def test_batch_over_the_limit_is_413(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visits = [make_visit(mystery, org.locations["leeds"]) for _ in range(101)]
    response = client.post(
        "/api/v1/sync/visits", json={"visits": visits}, headers=org.auth("shopper")
    )
    assert response.status_code == 413


def test_batch_replay_is_all_200(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path
) -> None:
    visits = [make_visit(mystery, org.locations["leeds"]) for _ in range(5)]
    first = client.post("/api/v1/sync/visits", json={"visits": visits}, headers=org.auth("shopper"))
    revisions = count_rows(data_dir, "visit_revisions")
    second = client.post(
        "/api/v1/sync/visits", json={"visits": visits}, headers=org.auth("shopper")
    )
    assert [r["status"] for r in first.get_json()["results"]] == [201] * 5
    assert [r["status"] for r in second.get_json()["results"]] == [200] * 5
    assert count_rows(data_dir, "visit_revisions") == revisions


def test_same_visit_twice_in_one_batch_is_stored_once(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    response = client.post(
        "/api/v1/sync/visits", json={"visits": [visit, visit]}, headers=org.auth("shopper")
    )
    assert [r["status"] for r in response.get_json()["results"]] == [201, 200]
    assert count_rows(data_dir, "visits") == count_rows(data_dir, "visit_revisions") == 1


STORED_AS_PUT = (
    "observer_id, location_id, checklist_slug, checklist_version, kind, status, score,"
    " section_scores, breakdown, flags, submitted_at IS NULL"
)


@pytest.mark.parametrize("quality", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("with_photo", [False, True])
def test_batch_stores_new_visits_as_put_does(
    app: Flask,
    client: FlaskClient,
    org: Org,
    mystery: dict[str, Any],
    quality: float,
    with_photo: bool,
) -> None:
    def visit() -> dict[str, Any]:
        photos = [photo_entry(uuid.uuid4().bytes)] if with_photo else []
        return make_visit(mystery, org.locations["leeds"], quality=quality, photos=photos)

    alone = visit()
    assert put(client, org, alone).status_code == 201
    batch = [visit() for _ in range(3)]
    response = client.post(
        "/api/v1/sync/visits", json={"visits": batch}, headers=org.auth("shopper")
    )
    assert [r["status"] for r in response.get_json()["results"]] == [201] * 3
    with app.app_context():
        stored = [
            get_db()
            .execute(f"SELECT {STORED_AS_PUT} FROM visits WHERE id = ?", [v["id"]])
            .fetchone()
            for v in [alone, *batch]
        ]
        manifests = [
            get_db()
            .execute("SELECT count(*) FROM visit_photos WHERE visit_id = ?", [v["id"]])
            .fetchone()[0]
            for v in [alone, *batch]
        ]
    assert stored[1:] == [stored[0]] * 3
    assert manifests == [int(with_photo)] * 4


def refused(
    client: FlaskClient, org: Org, route: str, visit: dict[str, Any], *others: dict[str, Any]
) -> dict[str, Any]:
    """Push a visit by PUT or in a batch (after it: others, each stored); return its 422 error."""
    if route == "put":
        response = put(client, org, visit)
        assert response.status_code == 422
        error: dict[str, Any] = response.get_json()["error"]
        return error
    response = client.post(
        "/api/v1/sync/visits", json={"visits": [visit, *others]}, headers=org.auth("shopper")
    )
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == [422] + [201] * len(others)
    first: dict[str, Any] = results[0]["error"]
    return first


@pytest.mark.parametrize("route", ["put", "batch"])
def test_visit_to_a_retired_location_is_422(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path, route: str
) -> None:
    york = org.locations["york"]
    assert client.delete(f"/api/v1/locations/{york}", headers=org.auth("admin")).status_code == 204
    retired, live = make_visit(mystery, york), make_visit(mystery, org.locations["leeds"])
    error = refused(client, org, route, retired, *([live] if route == "batch" else []))
    assert error["fields"] == {"location_id": ["no such location in your scope"]}
    assert count_rows(data_dir, "visits") == (0 if route == "put" else 1)


@pytest.mark.parametrize(
    ("location_id", "problem"),
    [
        (2**63, "Must be between -9223372036854775808 and 9223372036854775807."),
        (10**30, "Must be between -9223372036854775808 and 9223372036854775807."),
        (-1, "no such location in your scope"),
    ],
)
@pytest.mark.parametrize("route", ["put", "batch"])
def test_location_id_beyond_any_location_is_422(
    client: FlaskClient,
    org: Org,
    mystery: dict[str, Any],
    location_id: int,
    problem: str,
    route: str,
) -> None:
    visit = {**make_visit(mystery, org.locations["leeds"]), "location_id": location_id}
    assert refused(client, org, route, visit)["fields"] == {"location_id": [problem]}
