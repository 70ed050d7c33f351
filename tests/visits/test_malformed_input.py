"""Malformed input to visits and reviews: a 400 or 422 naming the field, never a 500."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from fieldobs.scoring.answers import MAX_ANSWER_PHOTOS, MAX_COMMENT_LENGTH
from fieldobs.visits.schema import MAX_ANSWERS, MAX_ITEM_ID_LENGTH, MAX_NOTES_LENGTH, MAX_PHOTOS
from tests.helpers.app import Org
from tests.helpers.ops_factory import push, review, visit_now
from tests.helpers.responses import json_object
from tests.helpers.visit_factory import make_visit, photo_entry

SURROGATE = "Great \ud83d"
# A URL carries UTF-8 bytes: a surrogate's would-be bytes are the closest a client gets.
RAW_SURROGATE = "%ED%A0%BD"


def query(values: dict[str, str]) -> str:
    """Return a query string; RAW_SURROGATE is sent as is, the rest percent-encoded."""
    return "&".join(
        f"{name}={value if value == RAW_SURROGATE else quote(value)}"
        for name, value in values.items()
    )


@pytest.fixture
def mystery(client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return the latest mystery-shop checklist."""
    return json_object(client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")))


def fields_of(response: Any) -> dict[str, list[str]]:
    """Return the error's fields."""
    fields: dict[str, list[str]] = response.get_json()["error"].get("fields", {})
    return fields


def names(response: Any, field: str) -> bool:
    """Tell whether the error names the field (a query field may come as query.<name>)."""
    return any(
        name in (field, f"query.{field}") or name.startswith(f"{field}.")
        for name in fields_of(response)
    )


# --- query strings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"since": "9999-12-31"}, "since"),
        ({"since": "9999-12-31T23:59:59-01:00"}, "since"),
        ({"since": "0001-01-01T00:00"}, "since"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"since": "2026-W48-1T07:00:00Z"}, "since"),
        ({"since": RAW_SURROGATE}, "since"),
        ({"location_id": "²"}, "location_id"),
        ({"location_id": str(2**64)}, "location_id"),
        ({"limit": "²"}, "limit"),
        ({"limit": str(2**64)}, "limit"),
        ({"status": RAW_SURROGATE}, "status"),
        ({"cursor": "²"}, "cursor"),
        ({"cursor": RAW_SURROGATE}, "cursor"),
    ],
)
@pytest.mark.parametrize("user", ["admin", "manager", "shopper"])
def test_bad_visit_list_queries_name_the_field(
    client: FlaskClient, org: Org, values: dict[str, str], field: str, user: str
) -> None:
    response = client.get(f"/api/v1/visits?{query(values)}", headers=org.auth(user))
    assert response.status_code in (400, 422), response.get_json()
    assert names(response, field), response.get_json()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"location_id": "²"}, "location_id"),
        ({"location_id": str(2**64)}, "location_id"),
        ({"limit": "¹"}, "limit"),
        ({"cursor": "²"}, "cursor"),
        ({"cursor": RAW_SURROGATE}, "cursor"),
    ],
)
def test_bad_review_queue_queries_name_the_field(
    client: FlaskClient, org: Org, values: dict[str, str], field: str
) -> None:
    response = client.get(f"/api/v1/review/queue?{query(values)}", headers=org.auth("admin"))
    assert response.status_code in (400, 422), response.get_json()
    assert names(response, field), response.get_json()


def test_since_at_the_calendar_edges_that_exist_in_utc_is_fine(
    client: FlaskClient, org: Org
) -> None:
    for since in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        response = client.get(
            "/api/v1/visits", query_string={"since": since}, headers=org.auth("admin")
        )
        assert response.status_code == 200, response.get_json()


# --- review bodies --------------------------------------------------------------------------


def pushed(client: FlaskClient, org: Org, mystery: dict[str, Any]) -> str:
    """Push a mystery shop at Leeds; return its id."""
    visit = visit_now(mystery, org.locations["leeds"])
    assert push(client, org, visit).status_code == 201
    return str(visit["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "return", "note": SURROGATE}, "note"),
        ({"action": "release", "item_comments": {"greeting.smile": SURROGATE}}, "item_comments"),
        ({"action": "release", "item_comments": {SURROGATE: "fine"}}, "item_comments"),
        ({"action": SURROGATE}, "action"),
    ],
)
def test_lone_surrogates_in_a_review_are_422(
    client: FlaskClient, org: Org, mystery: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    visit_id = pushed(client, org, mystery)
    response = review(client, org, visit_id, **body)
    assert response.status_code == 422, response.get_json()
    assert names(response, field), response.get_json()


def test_a_review_with_two_bad_fields_names_both(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit_id = pushed(client, org, mystery)
    response = review(client, org, visit_id, "return", note=" ", item_comments={"x": ""})
    assert response.status_code == 422
    assert "note" in fields_of(response), fields_of(response)
    assert names(response, "item_comments"), fields_of(response)


def test_a_review_note_too_long_and_a_bad_action_are_named_together(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit_id = pushed(client, org, mystery)
    response = review(client, org, visit_id, "keep", note="x" * 5001)
    assert response.status_code == 422
    assert {"action", "note"} <= set(fields_of(response))


# --- visit bodies: every bad field in one 422 -----------------------------------------------


def test_a_visit_with_several_bad_fields_names_each(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    photo = photo_entry(b"p")
    visit = make_visit(
        mystery,
        org.locations["leeds"],
        revision=0,
        started_at="2026-11-23T10:00:00Z",
        finished_at="2026-11-23T09:00:00Z",
        photos=[photo, photo],
        notes=SURROGATE,
    )
    response = push(client, org, visit)
    assert response.status_code == 422
    assert {"revision", "finished_at", "photos", "notes"} <= set(fields_of(response)), fields_of(
        response
    )


def test_a_visit_with_bad_answers_and_a_bad_location_names_both(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, 2**40)
    visit["answers"][0]["value"] = "maybe"
    response = push(client, org, visit)
    assert response.status_code == 422
    assert {"location_id", "answers.0.value"} <= set(fields_of(response)), fields_of(response)


# --- limits ---------------------------------------------------------------------------------


def test_limits_are_shared_by_the_schema_and_the_openapi_document(
    client: FlaskClient,
) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    visit = spec["components"]["schemas"]["Visit"]["properties"]
    photo = spec["components"]["schemas"]["PhotoManifest"]["properties"]
    assert visit["photos"]["maxItems"] == MAX_PHOTOS
    assert visit["answers"]["maxItems"] == MAX_ANSWERS
    assert visit["notes"]["maxLength"] == MAX_NOTES_LENGTH
    answer = visit["answers"]["items"]["properties"]
    assert answer["comment"]["maxLength"] == MAX_COMMENT_LENGTH
    assert answer["photos"]["maxItems"] == MAX_ANSWER_PHOTOS
    assert photo["item"]["maxLength"] == MAX_ITEM_ID_LENGTH
    assert visit["started_at"]["format"] == "date-time"


def test_a_manifest_over_the_limit_is_refused_by_its_length_alone(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    # Entries past the limit are never read: one problem for the list, none per entry.
    visit = make_visit(
        mystery, org.locations["leeds"], photos=[{"junk": n} for n in range(MAX_PHOTOS + 1)]
    )
    response = push(client, org, visit)
    assert response.status_code == 422
    assert fields_of(response) == {"photos": [f"at most {MAX_PHOTOS} entries"]}


def test_a_manifest_at_the_limit_is_accepted(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    photos = [{**photo_entry(str(n).encode())} for n in range(MAX_PHOTOS)]
    response = push(client, org, make_visit(mystery, org.locations["leeds"], photos=photos))
    assert response.status_code == 201, fields_of(response)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"notes": "x" * (MAX_NOTES_LENGTH + 1)}, "notes"),
        ({"answers": [{"item": "x"}] * (MAX_ANSWERS + 1)}, "answers"),
        (
            {"photos": [{**photo_entry(b"i"), "item": "x" * (MAX_ITEM_ID_LENGTH + 1)}]},
            "photos.0.item",
        ),
    ],
)
def test_every_list_and_string_has_a_maximum(
    client: FlaskClient, org: Org, mystery: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    response = push(client, org, {**make_visit(mystery, org.locations["leeds"]), **change})
    assert response.status_code == 422
    assert field in fields_of(response), fields_of(response)


def test_a_comment_over_the_limit_is_refused(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    visit["answers"][0]["comment"] = "x" * (MAX_COMMENT_LENGTH + 1)
    response = push(client, org, visit)
    assert response.status_code == 422
    assert "answers.0.comment" in fields_of(response)
    visit["answers"][0]["comment"] = "x" * MAX_COMMENT_LENGTH
    assert push(client, org, visit).status_code == 201


def test_an_answers_photo_list_over_the_limit_is_refused(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = make_visit(mystery, org.locations["leeds"])
    visit["answers"][0]["photos"] = [str(uuid.uuid4()) for _ in range(MAX_ANSWER_PHOTOS + 1)]
    response = push(client, org, visit)
    assert response.status_code == 422
    assert fields_of(response).get("answers.0.photos") == [f"at most {MAX_ANSWER_PHOTOS} entries"]


@pytest.mark.parametrize(
    "moment",
    [
        "2026-W48-1T07:00:00Z",
        "2026-332T07:00:00Z",
        "20261123T070000Z",
        "2026-11-23T07:00Z",
        "2026-11-23 07:00:00Z",
        "2026-11-23T07:00:00+0100",
        "2026-11-23T07:00:00",
    ],
)
def test_device_times_must_be_rfc_3339(
    client: FlaskClient, org: Org, mystery: dict[str, Any], moment: str
) -> None:
    visit = make_visit(mystery, org.locations["leeds"], started_at=moment)
    response = push(client, org, visit)
    assert response.status_code == 422
    assert "started_at" in fields_of(response)


@pytest.mark.parametrize("version", [1, 6, 7])
def test_ids_that_carry_a_time_are_refused(
    client: FlaskClient, org: Org, mystery: dict[str, Any], version: int
) -> None:
    random = str(uuid.uuid4())
    made = uuid.UUID(f"{random[:14]}{version}{random[15:]}")  # the version nibble
    assert made.version == version
    visit = make_visit(mystery, org.locations["leeds"], visit_id=str(made))
    response = push(client, org, visit)
    assert response.status_code == 422
    assert "version 4" in fields_of(response)["id"][0]
    photo = {**photo_entry(b"v"), "id": str(made)}
    response = push(client, org, make_visit(mystery, org.locations["leeds"], photos=[photo]))
    assert response.status_code == 422
    assert "photos.0.id" in fields_of(response)
