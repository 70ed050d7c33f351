"""Incremental pull: a change sequence, tombstones, scoped, with opaque cursors."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers.app import Org


def pull(client: FlaskClient, org: Org, user: str, cursor: str | None = None, **query: Any) -> Any:
    """Call the pull endpoint."""
    params = {**query, **({"cursor": cursor} if cursor else {})}
    return client.get("/api/v1/sync/changes", query_string=params, headers=org.auth(user))


def test_first_pull_is_everything_in_scope(client: FlaskClient, org: Org) -> None:
    body = pull(client, org, "manager").get_json()
    assert {c["slug"] for c in body["checklists"]} == {"mystery-shop", "back-to-the-floor"}
    assert [loc["id"] for loc in body["locations"]] == [org.locations["leeds"]]
    assert body["deleted"]["locations"] == []
    assert body["has_more"] is False
    assert {"cursor", "server_time", "assignments"} <= set(body)


def test_nothing_new_pulls_nothing(client: FlaskClient, org: Org) -> None:
    cursor = pull(client, org, "lead").get_json()["cursor"]
    body = pull(client, org, "lead", cursor).get_json()
    assert body["checklists"] == []
    assert body["locations"] == []


def test_changes_arrive_once_in_their_latest_state(client: FlaskClient, org: Org) -> None:
    admin = org.auth("admin")
    cursor = pull(client, org, "lead").get_json()["cursor"]
    york = org.locations["york"]
    for name in ("York 1", "York 2", "York 3"):
        client.patch(f"/api/v1/locations/{york}", json={"name": name}, headers=admin)
    body = pull(client, org, "lead", cursor).get_json()
    assert [(loc["id"], loc["name"]) for loc in body["locations"]] == [(york, "York 3")]


def test_deleted_location_arrives_as_a_tombstone_in_scope_only(
    client: FlaskClient, org: Org
) -> None:
    lead_cursor = pull(client, org, "lead").get_json()["cursor"]
    south_cursor = pull(client, org, "manager_south").get_json()["cursor"]
    client.delete(f"/api/v1/locations/{org.locations['york']}", headers=org.auth("admin"))
    assert pull(client, org, "lead", lead_cursor).get_json()["deleted"]["locations"] == [
        org.locations["york"]
    ]
    assert pull(client, org, "manager_south", south_cursor).get_json()["deleted"]["locations"] == []


def test_paging_walks_the_whole_feed(client: FlaskClient, org: Org) -> None:
    seen: list[Any] = []
    cursor = None
    for _ in range(20):
        body = pull(client, org, "admin", cursor, limit=1).get_json()
        seen.extend(("loc", loc["id"]) for loc in body["locations"])
        seen.extend(("cl", c["slug"]) for c in body["checklists"])
        cursor = body["cursor"]
        if not body["has_more"]:
            break
    assert len(seen) == len(set(seen)) == 4 + 2


GARBAGE = [
    "garbage",
    "a.b.c",
    "eyJzIjoxfQ",
    "e30.sig",
    "ÿ\u00e9\u2603",  # non-ASCII
    "eyJzIjoxZTk5OX0.c2ln",  # {"s":1e999} with a signature
    "eyJzIjoxZTk5OX0",
    "[" * 2000,
    "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1s",  # base64 of brackets
    "A" * 10_000,
    "²",
]


@pytest.mark.parametrize("cursor", GARBAGE)
def test_garbage_cursor_is_400(client: FlaskClient, org: Org, cursor: str) -> None:
    response = pull(client, org, "shopper", cursor)
    assert response.status_code == 400
    assert "cursor" in response.get_json()["error"]["fields"]


def test_an_altered_cursor_is_400(client: FlaskClient, org: Org) -> None:
    cursor = pull(client, org, "shopper").get_json()["cursor"]
    for position in (1, len(cursor) // 2, len(cursor) - 2):
        flipped = "B" if cursor[position] != "B" else "C"
        altered = cursor[:position] + flipped + cursor[position + 1 :]
        response = pull(client, org, "shopper", altered)
        assert response.status_code == 400, position
        assert "cursor" in response.get_json()["error"]["fields"]


def test_the_cursor_tells_nothing_it_holds(client: FlaskClient, org: Org) -> None:
    # Sealed, not signed: no part of it decodes to the position, the user or a time.
    first = pull(client, org, "shopper").get_json()["cursor"]
    again = pull(client, org, "shopper").get_json()["cursor"]
    assert first != again  # a fresh nonce each time: equal positions do not even look equal
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    assert b'"s"' not in raw
    with pytest.raises(ValueError, match=r"\w"):  # not JSON, nor any text
        json.loads(raw)


def test_another_users_cursor_is_410(client: FlaskClient, org: Org) -> None:
    cursor = pull(client, org, "shopper").get_json()["cursor"]
    response = pull(client, org, "shopper2", cursor)
    assert response.status_code == 410


def test_cursor_from_another_server_is_410(client: FlaskClient, org: Org, data_dir: Path) -> None:
    cursor = pull(client, org, "shopper").get_json()["cursor"]
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with conn:  # as if the cursor had come from another server, with its own key
        conn.execute(
            "UPDATE server_meta SET value = lower(hex(randomblob(32))) WHERE key = 'cursor_key'"
        )
    conn.close()
    response = pull(client, org, "shopper", cursor)
    assert response.status_code == 410


def test_cursor_ahead_of_a_restored_database_is_410(
    client: FlaskClient, org: Org, data_dir: Path
) -> None:
    client.patch(
        f"/api/v1/locations/{org.locations['york']}", json={"name": "Y"}, headers=org.auth("admin")
    )
    cursor = pull(client, org, "admin").get_json()["cursor"]
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with conn:  # as if yesterday's backup had been restored
        conn.execute("DELETE FROM changes WHERE seq = (SELECT max(seq) FROM changes)")
        conn.execute("UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'changes'")
    conn.close()
    assert pull(client, org, "admin", cursor).status_code == 410


def test_widened_scope_invalidates_the_cursor(
    client: FlaskClient, org: Org, data_dir: Path
) -> None:
    cursor = pull(client, org, "manager").get_json()["cursor"]
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    with conn:
        conn.execute(
            "INSERT INTO user_locations (user_id, location_id) VALUES (?, ?)",
            [org.users["manager"], org.locations["york"]],
        )
    conn.close()
    assert pull(client, org, "manager", cursor).status_code == 410
    assert len(pull(client, org, "manager").get_json()["locations"]) == 2
