"""The walk-through gap: managers' own view against mystery shoppers', on the shared items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.app import Org
from tests.helpers.score_helpers import Visits, get, history_app


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    yield from history_app(data_dir)


@pytest.fixture
def visits(app: Flask, client: FlaskClient, org: Org) -> Visits:
    return Visits(app, client, org)


def gap(client: FlaskClient, org: Org, query: str, user: str = "admin") -> dict[str, Any]:
    response = get(client, org, f"/api/v1/locations/{org.locations['leeds']}/gap?{query}", user)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def shared_share(client: FlaskClient, org: Org, visit_ids: list[str], shared: set[str]) -> float:
    """Compute 100 x earned / possible over the shared items from the visits' own breakdowns."""
    earned = possible = 0.0
    for visit_id in visit_ids:
        visit = client.get(f"/api/v1/visits/{visit_id}", headers=org.auth("admin")).get_json()
        for item in visit["breakdown"]["items"]:
            if item["item"] in shared and item["applicable"]:
                earned += item["earned"]
                possible += item["possible"]
    return 100 * earned / possible


def test_the_gap_compares_the_shared_items_month_by_month(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    walks = [visits.walk("leeds", "2026-06-05T10:00:00Z", 1.0)]
    shops = [
        visits.shop("leeds", "2026-06-08T10:00:00Z", 0.6),
        visits.shop("leeds", "2026-06-20T10:00:00Z", 0.5),
    ]
    visits.shop("leeds", "2026-05-20T10:00:00Z", 0.9)
    body = gap(client, org, "period=month&from=2026-05&to=2026-06", "manager")
    shared = set(body["items"])
    assert "greeting.acknowledged_in_time" in shared
    assert not any(item.startswith(("inside_view.", "notes.")) for item in shared)
    may, june = body["series"]
    assert (may["walkthrough"]["n"], may["mystery_shop"]["n"], may["gap"]) == (0, 1, None)
    assert (june["walkthrough"]["n"], june["mystery_shop"]["n"]) == (1, 2)
    walk_mean = shared_share(client, org, walks, shared)
    shop_mean = shared_share(client, org, shops, shared)
    assert june["walkthrough"]["mean"] == pytest.approx(walk_mean, abs=0.05)
    assert june["mystery_shop"]["mean"] == pytest.approx(shop_mean, abs=0.05)
    assert june["gap"] == pytest.approx(walk_mean - shop_mean, abs=0.11)
    assert june["gap"] > 0  # the manager saw a better picture than the shoppers got
    assert set(june["walkthrough"]["sections"]) == set(june["mystery_shop"]["sections"])


def test_a_walkthrough_counts_once_submitted_and_a_returned_one_does_not(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    kept = visits.walk("leeds", "2026-06-05T10:00:00Z", 1.0)
    sent_back = visits.walk("leeds", "2026-06-06T10:00:00Z", 0.5)
    visits.send_back(sent_back)
    june = gap(client, org, "from=2026-06&to=2026-06")["series"][0]
    assert june["walkthrough"]["n"] == 1
    assert june["walkthrough"]["mean"] == pytest.approx(
        shared_share(
            client, org, [kept], set(gap(client, org, "from=2026-06&to=2026-06")["items"])
        ),
        abs=0.05,
    )


def test_the_gap_has_a_90_percent_interval_and_n_on_both_sides(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    walks = [visits.walk("leeds", f"2026-06-{day:02d}T10:00:00Z", 1.0) for day in (2, 12, 22)]
    shops = [
        visits.shop("leeds", f"2026-06-{day:02d}T10:00:00Z", quality)
        for day, quality in ((4, 0.6), (14, 0.5), (24, 0.75), (26, 0.55))
    ]
    visits.walk("leeds", "2026-05-05T10:00:00Z", 1.0)
    visits.shop("leeds", "2026-05-06T10:00:00Z", 0.6)
    body = gap(client, org, "from=2026-05&to=2026-06", "manager")
    assert body["level"] == 0.9
    shared = set(body["items"])
    may, june = body["series"]
    assert (june["walkthrough"]["n"], june["mystery_shop"]["n"]) == (3, 4)
    for side, ids in (("walkthrough", walks), ("mystery_shop", shops)):
        shares = [shared_share(client, org, [visit_id], shared) for visit_id in ids]
        assert june[side]["low"] <= june[side]["mean"] <= june[side]["high"]
        assert june[side]["high"] - june[side]["low"] > 0 or len(set(shares)) == 1
    assert june["low"] <= june["gap"] <= june["high"]
    assert june["low"] < june["high"]
    # One visit a side: a gap, but no interval.
    assert (may["walkthrough"]["n"], may["mystery_shop"]["n"]) == (1, 1)
    assert may["gap"] is not None
    assert (may["low"], may["high"], may["mystery_shop"]["low"]) == (None, None, None)


def test_weekly_gaps_are_not_offered(client: FlaskClient, org: Org) -> None:
    response = get(client, org, f"/api/v1/locations/{org.locations['leeds']}/gap?period=week")
    assert response.status_code == 422
    assert "period" in response.get_json()["error"]["fields"]
