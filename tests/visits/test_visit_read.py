"""Reading visits back: scoped by role, paginated with an opaque cursor."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.storage.connection import transaction
from fieldobs.visits.review import release_visit
from tests.helpers.app import Org
from tests.helpers.visit_factory import make_visit


@pytest.fixture
def visits(client: FlaskClient, org: Org) -> dict[str, str]:
    """Push a mystery shop at Leeds and York (shopper) and a walk-through at Leeds (manager)."""
    mystery = client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")).get_json()
    walk = client.get(
        "/api/v1/checklists/back-to-the-floor", headers=org.auth("manager")
    ).get_json()
    made = {
        "shop_leeds": ("shopper", make_visit(mystery, org.locations["leeds"])),
        "shop_york": ("shopper", make_visit(mystery, org.locations["york"])),
        "walk_leeds": ("manager", make_visit(walk, org.locations["leeds"])),
    }
    for user, visit in made.values():
        assert (
            client.put(
                f"/api/v1/visits/{visit['id']}", json=visit, headers=org.auth(user)
            ).status_code
            == 201
        )
    return {name: visit["id"] for name, (_, visit) in made.items()}


def _release(app: Flask, visit_id: str) -> None:
    with app.app_context(), transaction(get_db()):
        release_visit(get_db(), visit_id)


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("admin", {"shop_leeds", "shop_york", "walk_leeds"}),
        ("shopper", {"shop_leeds", "shop_york"}),
        ("shopper2", set()),
        ("manager", {"walk_leeds"}),
        ("manager_south", set()),
        ("lead", {"walk_leeds"}),
    ],
)
def test_unreleased_visits_are_seen_by_the_right_people(
    client: FlaskClient, org: Org, visits: dict[str, str], user: str, visible: set[str]
) -> None:
    for name, visit_id in visits.items():
        status = client.get(f"/api/v1/visits/{visit_id}", headers=org.auth(user)).status_code
        assert status == (200 if name in visible else 404), name
    listed = client.get("/api/v1/visits", headers=org.auth(user)).get_json()["visits"]
    assert {v["id"] for v in listed} == {visits[n] for n in visible}


@pytest.mark.parametrize(
    ("user", "status"), [("manager", 200), ("lead", 200), ("manager_south", 404)]
)
def test_released_mystery_shop_reaches_store_side_staff_pseudonymised(
    app: Flask, client: FlaskClient, org: Org, visits: dict[str, str], user: str, status: int
) -> None:
    _release(app, visits["shop_leeds"])
    response = client.get(f"/api/v1/visits/{visits['shop_leeds']}", headers=org.auth(user))
    assert response.status_code == status
    if status == 200:
        body = response.get_json()
        assert set(body["observer"]) == {"pseudonym"}
        assert "shopper" not in response.get_data(as_text=True).replace('"shopper"', "")
        assert body["started_at"].endswith(":00:00.000000Z")


def test_pseudonym_is_stable_across_visits(
    app: Flask, client: FlaskClient, org: Org, visits: dict[str, str]
) -> None:
    _release(app, visits["shop_leeds"])
    _release(app, visits["shop_york"])
    names = {
        client.get(f"/api/v1/visits/{visits[n]}", headers=org.auth("lead")).get_json()["observer"][
            "pseudonym"
        ]
        for n in ("shop_leeds", "shop_york")
    }
    assert len(names) == 1


def test_read_back_carries_the_contract_fields(
    client: FlaskClient, org: Org, visits: dict[str, str]
) -> None:
    body = client.get(
        f"/api/v1/visits/{visits['shop_leeds']}", headers=org.auth("shopper")
    ).get_json()
    assert {
        "id",
        "revision",
        "checklist",
        "location_id",
        "started_at",
        "finished_at",
        "answers",
        "photos",
        "score",
        "sections",
        "status",
        "observer",
        "received_at",
    } <= set(body)


def test_list_pages_with_a_cursor(client: FlaskClient, org: Org, visits: dict[str, str]) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            "/api/v1/visits", query_string=query, headers=org.auth("admin")
        ).get_json()
        seen.extend(v["id"] for v in page["visits"])
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    assert sorted(seen) == sorted(visits.values())
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"status": "submitted"}, 3),
        ({"status": "released"}, 0),
        ({"location_id": "LEEDS"}, 2),
        ({"since": "2000-01-01T00:00:00Z"}, 3),
        ({"since": "2999-01-01T00:00:00Z"}, 0),
    ],
)
def test_list_filters(
    client: FlaskClient, org: Org, visits: dict[str, str], query: dict[str, Any], count: int
) -> None:
    query = {k: (org.locations["leeds"] if v == "LEEDS" else v) for k, v in query.items()}
    page = client.get("/api/v1/visits", query_string=query, headers=org.auth("admin")).get_json()
    assert len(page["visits"]) == count


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"cursor": "!!!"}, 400, "cursor"),
        ({"status": "lost"}, 422, "status"),
        ({"since": "tuesday"}, 422, "since"),
        ({"limit": 0}, 422, "limit"),
    ],
)
def test_list_rejects_bad_parameters(
    client: FlaskClient, org: Org, query: dict[str, Any], status: int, field: str
) -> None:
    response = client.get("/api/v1/visits", query_string=query, headers=org.auth("admin"))
    assert response.status_code == status
    assert field in response.get_json()["error"]["fields"]
