"""Edges of the assignment and webhook inputs: other digits, numbers beyond 64 bits and the
calendar's ends are a 4xx naming the field, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers.app import Org


@pytest.mark.parametrize("shopper", ["²", str(2**64), 2**64, -(2**64)])
def test_a_shopper_that_names_no_stored_user_is_422(
    client: FlaskClient, org: Org, shopper: Any
) -> None:
    response = client.post(
        "/api/v1/assignments",
        json={
            "shopper": shopper,
            "location_id": org.locations["leeds"],
            "checklist": "mystery-shop",
            "window_start": "2030-07-01",
            "window_end": "2030-07-01",
        },
        headers=org.auth("admin"),
    )
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == {"shopper"}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2030-07-01", "9999-12-31", "window_end"),
        ("0001-01-01T00:00", "2030-07-01", "window_start"),
        ("0001-01-01T00:00:00+01:00", "2030-07-01", "window_start"),
    ],
)
def test_calendar_edges_in_a_window_are_422(
    client: FlaskClient, org: Org, start: str, end: str, field: str
) -> None:
    response = client.post(
        "/api/v1/assignments",
        json={
            "shopper": "shopper",
            "location_id": org.locations["dublin"],
            "checklist": "mystery-shop",
            "window_start": start,
            "window_end": end,
        },
        headers=org.auth("admin"),
    )
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"window_from": "0001-01-01T00:00:00+01:00"}, 422, "window_from"),
        ({"window_to": "9999-12-31T23:59:59-01:00"}, 422, "window_to"),
        ({"cursor": "²"}, 400, "cursor"),
        ({"cursor": str(2**64)}, 400, "cursor"),
    ],
)
def test_list_queries_at_the_edges_name_the_field(
    client: FlaskClient, org: Org, query: dict[str, str], status: int, field: str
) -> None:
    response = client.get("/api/v1/assignments", query_string=query, headers=org.auth("admin"))
    assert response.status_code == status, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("cursor", ["²", str(2**64)])
def test_delivery_log_cursor_at_the_edges_is_400(
    client: FlaskClient, org: Org, cursor: str
) -> None:
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/in", "events": ["visit.released"]},
        headers=org.auth("admin"),
    ).get_json()
    response = client.get(
        f"/api/v1/webhooks/{made['id']}/deliveries",
        query_string={"cursor": cursor},
        headers=org.auth("admin"),
    )
    assert response.status_code == 400, response.get_json()
    assert "cursor" in response.get_json()["error"]["fields"]


def test_several_bad_list_filters_are_named_together(client: FlaskClient, org: Org) -> None:
    response = client.get(
        "/api/v1/assignments",
        query_string={"status": "lost", "window_from": "soon", "window_to": "later", "limit": 0},
        headers=org.auth("admin"),
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {
        "status",
        "window_from",
        "window_to",
        "limit",
    }
