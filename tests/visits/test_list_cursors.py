"""Every list pages by one keyset helper whose cursors are sealed: unreadable, unforgeable."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.operations.assignments import ASSIGNMENT_PAGES
from fieldobs.operations.webhooks import DELIVERY_PAGES
from fieldobs.storage.connection import Database
from fieldobs.storage.paging import CursorError, ForeignCursor, Keyset, seal
from fieldobs.visits.read import VISIT_PAGES
from fieldobs.visits.review import QUEUE_PAGES
from tests.helpers.app import Org
from tests.helpers.ops_factory import assign, checklist, push, review, visit_now

KEYSETS = [VISIT_PAGES, QUEUE_PAGES, ASSIGNMENT_PAGES, DELIVERY_PAGES]
GARBAGE = [
    "garbage",
    "²",
    "ÿé☃",
    "[" * 2000,
    "A" * 10_000,
    "eyJzIjoxZTk5OX0",  # {"s":1e999}
    # The old formats: base64 JSON of [time, id], and a bare id.
    base64.urlsafe_b64encode(b'["2026-11-23T10:00:00.000000Z", "x"]').decode().rstrip("="),
    "12",
]


@pytest.fixture
def db(app: Flask) -> Iterator[Database]:
    """Return the app's database inside an app context."""
    with app.app_context():
        yield get_db()


def unsealed_values(keyset: Keyset) -> list[Any]:
    """Return values of the keyset's shape."""
    return (
        ["2026-11-23T10:00:00.000000Z", "v1"][: len(keyset.columns)]
        if len(keyset.columns) > 1
        else [7]
    )


@pytest.mark.parametrize("keyset", KEYSETS, ids=lambda k: k.name)
@pytest.mark.parametrize("cursor", GARBAGE)
def test_every_list_refuses_garbage_naming_the_cursor(
    db: Database, keyset: Keyset, cursor: str
) -> None:
    with pytest.raises(CursorError) as caught:
        keyset.after(db, cursor)
    assert caught.value.status == 400
    assert "cursor" in (caught.value.fields or {})


@pytest.mark.parametrize("keyset", KEYSETS, ids=lambda k: k.name)
def test_a_cursor_of_one_list_is_refused_by_another(db: Database, keyset: Keyset) -> None:
    values = unsealed_values(keyset)
    assert keyset.after(db, seal(db, keyset.name, values))[1] == values
    for other in KEYSETS:
        if other is not keyset:
            with pytest.raises(CursorError):
                other.after(db, seal(db, keyset.name, unsealed_values(other)))


def test_a_cursor_sealed_under_another_key_is_foreign(db: Database, data_dir: Path) -> None:
    cursor = seal(db, VISIT_PAGES.name, unsealed_values(VISIT_PAGES))
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with conn:
        conn.execute(
            "UPDATE server_meta SET value = lower(hex(randomblob(32))) WHERE key = 'cursor_key'"
        )
    conn.close()
    with pytest.raises(ForeignCursor):
        VISIT_PAGES.after(db, cursor)


def test_descending_lists_page_backwards(db: Database) -> None:
    condition, values = DELIVERY_PAGES.after(db, seal(db, DELIVERY_PAGES.name, [10]))
    assert (condition, values) == ("(id) < (?)", [10])
    assert DELIVERY_PAGES.order_by == "id DESC"


# --- through the API ------------------------------------------------------------------------


def released_visit(client: FlaskClient, org: Org) -> str:
    """Push a mystery shop at Leeds and release it; return its id."""
    visit = visit_now(checklist(client, org), org.locations["leeds"])
    assert push(client, org, visit).status_code == 201
    assert review(client, org, str(visit["id"]), "release").status_code == 200
    return str(visit["id"])


LIST_URLS = ["/api/v1/visits", "/api/v1/review/queue", "/api/v1/assignments"]


@pytest.mark.parametrize("url", LIST_URLS)
@pytest.mark.parametrize("cursor", GARBAGE)
def test_list_endpoints_answer_garbage_cursors_with_400(
    client: FlaskClient, org: Org, url: str, cursor: str
) -> None:
    response = client.get(url, query_string={"cursor": cursor}, headers=org.auth("admin"))
    assert response.status_code == 400, response.get_json()
    assert "cursor" in response.get_json()["error"]["fields"]


def test_list_cursors_hold_no_readable_time(client: FlaskClient, org: Org) -> None:
    # Assigned first: a shopper is not sent back to a store they just visited.
    assert assign(client, org, location="york").status_code == 201
    assert assign(client, org, location="brighton").status_code == 201
    for _ in range(2):
        released_visit(client, org)
        visit = visit_now(checklist(client, org), org.locations["leeds"])
        assert push(client, org, visit).status_code == 201  # waits in the review queue
    for url in LIST_URLS:
        body = client.get(url, query_string={"limit": 1}, headers=org.auth("admin")).get_json()
        cursor = body["cursor"]
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        assert b"2026" not in raw
        with pytest.raises(ValueError, match=r"\w"):
            json.loads(raw)
        # A cursor of one list means nothing to another.
        for other in LIST_URLS:
            if other != url:
                response = client.get(
                    other, query_string={"cursor": cursor}, headers=org.auth("admin")
                )
                assert response.status_code == 400, (url, other)


def test_list_cursors_still_walk_every_page(client: FlaskClient, org: Org) -> None:
    made = {released_visit(client, org) for _ in range(5)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(
            "/api/v1/visits", query_string=query, headers=org.auth("manager")
        ).get_json()
        seen.extend(v["id"] for v in body["visits"])
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert set(seen) == made
    assert len(seen) == len(made)


# --- store staff filter no finer than they see ----------------------------------------------


def set_updated_at(data_dir: Path, visit_id: str, moment: str) -> None:
    """Set when a visit last changed (its release, say), straight in the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with conn:
        conn.execute("UPDATE visits SET updated_at = ? WHERE id = ?", [moment, visit_id])
    conn.close()


def listed(client: FlaskClient, org: Org, user: str, since: str) -> list[str]:
    """Return the ids a user lists since a time."""
    response = client.get("/api/v1/visits", query_string={"since": since}, headers=org.auth(user))
    assert response.status_code == 200, response.get_json()
    return [visit["id"] for visit in response.get_json()["visits"]]


@pytest.mark.parametrize("user", ["manager", "lead"])
def test_store_staff_cannot_bisect_a_release_time_with_since(
    client: FlaskClient, org: Org, data_dir: Path, user: str
) -> None:
    visit_id = released_visit(client, org)
    set_updated_at(data_dir, visit_id, "2026-11-23T10:37:12.345678Z")
    within_the_hour = [
        "2026-11-23T10:00:00Z",
        "2026-11-23T10:37:12.345678Z",
        "2026-11-23T10:37:12.345679Z",
        "2026-11-23T10:59:59.999999Z",
        "2026-11-23T11:30:00+01:00",
    ]
    # Every `since` within the hour they are shown gives the same answer.
    assert {tuple(listed(client, org, user, since)) for since in within_the_hour} == {(visit_id,)}
    assert listed(client, org, user, "2026-11-23T11:00:00Z") == []
    shown = client.get(f"/api/v1/visits/{visit_id}", headers=org.auth(user)).get_json()
    assert shown["updated_at"] == "2026-11-23T10:00:00.000000Z"


def test_admins_filter_to_the_exact_time(client: FlaskClient, org: Org, data_dir: Path) -> None:
    visit_id = released_visit(client, org)
    set_updated_at(data_dir, visit_id, "2026-11-23T10:37:12.345678Z")
    assert listed(client, org, "admin", "2026-11-23T10:37:12.345678Z") == [visit_id]
    assert listed(client, org, "admin", "2026-11-23T10:37:12.345679Z") == []
