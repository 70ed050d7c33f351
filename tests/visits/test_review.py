"""Review before release: the queue, release or return with notes, corrections come back,
and every action is kept in an admin-only audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers.app import Org
from tests.helpers.ops_factory import checklist, pull, push, review, visit_now


@pytest.fixture
def mystery(client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return the latest mystery-shop checklist."""
    return checklist(client, org)


def submitted(client: FlaskClient, org: Org, mystery: dict[str, Any], **extra: Any) -> str:
    """Push a mystery shop at Leeds; return its id."""
    visit = visit_now(mystery, org.locations["leeds"], **extra)
    assert push(client, org, visit).status_code == 201
    return str(visit["id"])


def queue(client: FlaskClient, org: Org, **query: Any) -> dict[str, Any]:
    """Return the review queue."""
    response = client.get("/api/v1/review/queue", query_string=query, headers=org.auth("admin"))
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def first_item(definition: dict[str, Any]) -> str:
    """Return the id of the checklist's first item."""
    return str(definition["sections"][0]["items"][0]["id"])


def test_queue_lists_submitted_mystery_shops_oldest_first_in_pages(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    ids = [submitted(client, org, mystery) for _ in range(3)]
    walk = visit_now(checklist(client, org, "back-to-the-floor"), org.locations["leeds"])
    assert push(client, org, walk, user="manager").status_code == 201
    first = queue(client, org, limit=2)
    assert [v["id"] for v in first["visits"]] == ids[:2]
    assert first["has_more"] is True
    rest = queue(client, org, limit=2, cursor=first["cursor"])
    assert [v["id"] for v in rest["visits"]] == ids[2:]
    item = first["visits"][0]
    assert item["observer"]["username"] == "shopper"
    assert item["times_returned"] == 0
    assert review(client, org, ids[0], "release").status_code == 200
    assert [v["id"] for v in queue(client, org)["visits"]] == ids[1:]


@pytest.mark.parametrize("user", ["manager", "lead", "shopper"])
def test_only_admins_review(
    client: FlaskClient, org: Org, mystery: dict[str, Any], user: str
) -> None:
    visit_id = submitted(client, org, mystery)
    headers = org.auth(user)
    assert client.get("/api/v1/review/queue", headers=headers).status_code == 403
    post = client.post(
        f"/api/v1/visits/{visit_id}/review", json={"action": "release"}, headers=headers
    )
    assert post.status_code == 403
    assert client.get(f"/api/v1/visits/{visit_id}/reviews", headers=headers).status_code == 403


def test_release_shows_the_visit_store_side_and_is_audited(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit_id = submitted(client, org, mystery)
    manager = org.auth("manager")
    assert client.get(f"/api/v1/visits/{visit_id}", headers=manager).status_code == 404
    response = review(client, org, visit_id, "release", note="Clear and thorough.")
    assert response.status_code == 200
    body = response.get_json()
    assert body["visit"]["status"] == "released"
    assert body["review"]["reviewer"]["username"] == "admin"
    assert client.get(f"/api/v1/visits/{visit_id}", headers=manager).status_code == 200
    [entry] = client.get(
        f"/api/v1/visits/{visit_id}/reviews", headers=org.auth("admin")
    ).get_json()["reviews"]
    assert entry["action"] == "release"
    assert entry["note"] == "Clear and thorough."
    assert entry["status_before"] == "submitted"
    assert entry["revision"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "return"}, "note"),
        ({"action": "return", "note": "  "}, "note"),
        ({"action": "return", "note": "x", "item_comments": {"no.such.item": "?"}}, None),
        ({"action": "publish"}, "action"),
    ],
)
def test_invalid_review_is_422(
    client: FlaskClient,
    org: Org,
    mystery: dict[str, Any],
    body: dict[str, Any],
    field: str | None,
) -> None:
    visit_id = submitted(client, org, mystery)
    response = review(client, org, visit_id, **body)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert field in fields if field else "item_comments.no.such.item" in fields
    assert queue(client, org)["visits"][0]["id"] == visit_id  # untouched


def test_release_twice_and_stale_revisions_are_409(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit_id = submitted(client, org, mystery)
    assert review(client, org, visit_id, "release", revision=2).status_code == 409
    assert review(client, org, visit_id, "release", revision=1).status_code == 200
    assert review(client, org, visit_id, "release").status_code == 409
    assert review(client, org, "00000000-0000-4000-8000-000000000000", "release").status_code == 404


def test_returned_visit_goes_back_to_its_shopper_and_returns_corrected(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit = visit_now(mystery, org.locations["leeds"])
    push(client, org, visit)
    cursor = pull(client, org, "shopper")["cursor"]
    other_cursor = pull(client, org, "shopper2")["cursor"]
    item = first_item(mystery)
    returned = review(
        client,
        org,
        visit["id"],
        "return",
        note="Name the greeter's role.",
        item_comments={item: "Which colleague greeted you?"},
    )
    assert returned.status_code == 200
    assert returned.get_json()["visit"]["status"] == "returned"
    assert queue(client, org)["visits"] == []

    feed = pull(client, org, "shopper", cursor)
    [back] = feed["returned_visits"]
    assert back["id"] == visit["id"]
    assert back["note"] == "Name the greeter's role."
    assert back["item_comments"] == {item: "Which colleague greeted you?"}
    assert back["next_revision"] == 2
    assert back["visit"]["answers"] == visit["answers"]
    assert "reviewer" not in back
    assert pull(client, org, "shopper2", other_cursor)["returned_visits"] == []
    assert pull(client, org, "manager")["returned_visits"] == []

    corrected = {**visit, "revision": 2, "notes": "Greeted by the floor supervisor."}
    assert push(client, org, corrected).status_code == 200
    after = pull(client, org, "shopper", feed["cursor"])
    assert after["returned_visits"] == []
    assert after["deleted"]["returned_visits"] == [visit["id"]]
    [again] = queue(client, org)["visits"]
    assert (again["id"], again["revision"], again["times_returned"]) == (visit["id"], 2, 1)

    assert review(client, org, visit["id"], "release").status_code == 200
    trail = client.get(
        f"/api/v1/visits/{visit['id']}/reviews", headers=org.auth("admin")
    ).get_json()["reviews"]
    assert [(r["action"], r["revision"]) for r in trail] == [("return", 1), ("release", 2)]


def test_a_released_visit_can_be_returned_and_leaves_store_side(
    client: FlaskClient, org: Org, mystery: dict[str, Any]
) -> None:
    visit_id = submitted(client, org, mystery)
    review(client, org, visit_id, "release")
    assert review(client, org, visit_id, "return", note="Wrong store.").status_code == 200
    assert client.get(f"/api/v1/visits/{visit_id}", headers=org.auth("manager")).status_code == 404
