"""A location's scores per week or month in its own time zone, with 90 % intervals."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db
from fieldobs.scores.rebuild import rebuild
from fieldobs.scoring.stats import t_critical
from fieldobs.storage.connection import transaction
from tests.helpers.app import Org
from tests.helpers.responses import json_object
from tests.helpers.score_helpers import Visits, get, history_app


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    yield from history_app(data_dir)


@pytest.fixture
def visits(app: Flask, client: FlaskClient, org: Org) -> Visits:
    return Visits(app, client, org)


def series(
    client: FlaskClient, org: Org, location: str, query: str, user: str = "admin"
) -> dict[str, Any]:
    response = get(client, org, f"/api/v1/locations/{org.locations[location]}/scores?{query}", user)
    assert response.status_code == 200, response.get_json()
    return json_object(response)


def by_period(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {point["period"]: point for point in body["series"]}


def test_month_mean_and_interval_come_from_the_released_visits(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    ids = [
        visits.shop("leeds", "2026-02-03T10:00:00Z", 1.0),
        visits.shop("leeds", "2026-02-10T10:00:00Z", 0.6),
        visits.shop("leeds", "2026-02-20T10:00:00Z", 0.3),
    ]
    scores = [visits.score(i) for i in ids]
    point = by_period(series(client, org, "leeds", "period=month&from=2026-01&to=2026-03"))[
        "2026-02"
    ]
    mean = statistics.fmean(scores)
    half = t_critical(2) * statistics.stdev(scores) / 3**0.5
    assert point["n"] == 3
    assert point["mean"] == pytest.approx(mean, abs=0.05)
    assert point["low"] == pytest.approx(max(0.0, mean - half), abs=0.05)
    assert point["high"] == pytest.approx(min(100.0, mean + half), abs=0.05)
    assert set(point["sections"]) >= {"greeting", "ownership", "tone"}
    assert point["sections"]["greeting"]["n"] == 3


def test_empty_periods_are_listed_with_no_figures(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.shop("leeds", "2026-02-03T10:00:00Z")
    body = series(client, org, "leeds", "period=month&from=2026-01&to=2026-03")
    assert [p["period"] for p in body["series"]] == ["2026-01", "2026-02", "2026-03"]
    assert body["series"][0] == {
        "period": "2026-01",
        "n": 0,
        "mean": None,
        "low": None,
        "high": None,
        "sections": {},
    }
    one = body["series"][1]
    assert (one["n"], one["low"], one["high"]) == (1, None, None)  # one visit: no interval


def test_only_released_mystery_shops_count(client: FlaskClient, org: Org, visits: Visits) -> None:
    visits.push("leeds", "2026-02-03T10:00:00Z")  # submitted, not released
    returned = visits.shop("leeds", "2026-02-04T10:00:00Z")
    visits.send_back(returned)
    counted = visits.shop("leeds", "2026-02-05T10:00:00Z", 0.5)
    point = by_period(series(client, org, "leeds", "from=2026-02&to=2026-02"))["2026-02"]
    assert point["n"] == 1
    assert point["mean"] == pytest.approx(visits.score(counted), abs=0.05)


def test_a_corrected_visit_counts_once_with_its_latest_revision(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visit = visits.shop("leeds", "2026-02-03T10:00:00Z", 1.0)
    visits.send_back(visit)
    visits.correct(visit, quality=0.3, at="2026-03-03T10:00:00Z")
    assert by_period(series(client, org, "leeds", "from=2026-02&to=2026-03"))["2026-02"]["n"] == 0
    visits.release(visit)
    body = by_period(series(client, org, "leeds", "from=2026-02&to=2026-03"))
    assert body["2026-02"]["n"] == 0
    assert body["2026-03"]["n"] == 1
    assert body["2026-03"]["mean"] == pytest.approx(visits.score(visit), abs=0.05)


def test_walkthroughs_count_once_submitted_and_never_mix_with_mystery_shops(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.walk("leeds", "2026-02-03T10:00:00Z", 0.5)
    visits.shop("leeds", "2026-02-04T10:00:00Z", 1.0)
    shops = by_period(series(client, org, "leeds", "from=2026-02&to=2026-02"))["2026-02"]
    walks = series(client, org, "leeds", "from=2026-02&to=2026-02&kind=walkthrough")
    assert shops["n"] == 1
    assert walks["kind"] == "walkthrough"
    assert walks["series"][0]["n"] == 1
    assert "inside_view" in walks["series"][0]["sections"]
    assert walks["series"][0]["mean"] != shops["mean"]


@pytest.mark.parametrize(
    ("location", "observed", "month", "week"),
    [
        # 23:30 UTC on 31 March is already 1 April in London (summer time since 29 March).
        ("leeds", "2026-03-31T23:30:00Z", "2026-04", "2026-W14"),
        # In winter London is on UTC: still January.
        ("leeds", "2026-01-31T23:30:00Z", "2026-01", "2026-W05"),
        # Saturday 2 January 2021 belongs to ISO week 53 of 2020.
        ("leeds", "2021-01-02T12:00:00Z", "2021-01", "2020-W53"),
    ],
)
def test_periods_are_local_calendar_months_and_iso_weeks(
    client: FlaskClient,
    org: Org,
    visits: Visits,
    location: str,
    observed: str,
    month: str,
    week: str,
) -> None:
    visits.shop(location, observed)
    months = series(client, org, location, f"period=month&from={month}&to={month}")
    weeks = series(client, org, location, f"period=week&from={week}&to={week}")
    assert months["series"][0]["n"] == 1
    assert weeks["series"][0]["n"] == 1


def test_a_location_far_from_utc_files_by_its_own_clock(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    created = client.post(
        "/api/v1/locations",
        json={"name": "Honolulu", "area_id": org.areas["north"], "timezone": "Pacific/Honolulu"},
        headers=org.auth("admin"),
    ).get_json()
    org.locations["honolulu"] = created["id"]
    visits.shop("honolulu", "2026-03-01T05:00:00Z")  # 19:00 on 28 February in Honolulu
    body = by_period(series(client, org, "honolulu", "from=2026-02&to=2026-03"))
    assert (body["2026-02"]["n"], body["2026-03"]["n"]) == (1, 0)


def test_without_a_range_the_last_twelve_months_are_returned(client: FlaskClient, org: Org) -> None:
    body = series(client, org, "leeds", "")
    assert len(body["series"]) == 12
    assert body["to"] == body["series"][-1]["period"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=month&from=2026-W07", "from"),
        ("period=week&to=2026-02", "to"),
        ("period=month&from=2026-13", "from"),
        ("period=month&from=2026-05&to=2026-02", "from"),
        ("period=year", "period"),
        ("kind=audit", "kind"),
    ],
)
def test_bad_arguments_are_422_naming_the_field(
    client: FlaskClient, org: Org, query: str, field: str
) -> None:
    response = get(client, org, f"/api/v1/locations/{org.locations['leeds']}/scores?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("endpoint", "user", "location", "status"),
    [
        (endpoint, user, location, status)
        for endpoint in ("scores", "gap", "priorities")
        for user, location, status in [
            ("admin", "dublin", 200),
            ("lead", "york", 200),
            ("lead", "dublin", 404),
            ("manager", "leeds", 200),
            ("manager", "york", 404),
            ("shopper", "leeds", 403),
        ]
    ],
)
def test_who_may_read_a_location_s_scores(
    client: FlaskClient, org: Org, endpoint: str, user: str, location: str, status: int
) -> None:
    path = f"/api/v1/locations/{org.locations[location]}/{endpoint}"
    assert get(client, org, path, user).status_code == status


def test_an_unknown_location_is_404(client: FlaskClient, org: Org) -> None:
    assert get(client, org, "/api/v1/locations/9999/scores").status_code == 404


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ("period=month&from=2017-03&to=2027-02", True),  # 120 months
        ("period=month&from=2017-02&to=2027-02", False),
        ("period=week&from=0001-W01&to=9999-W52", False),
    ],
)
def test_a_range_is_at_most_ten_years(client: FlaskClient, org: Org, query: str, ok: bool) -> None:
    response = get(client, org, f"/api/v1/locations/{org.locations['leeds']}/scores?{query}")
    assert response.status_code == (200 if ok else 422)


# --- the cached answer: never stale, never to the wrong caller, 304 when unchanged -----------


def months(
    client: FlaskClient, org: Org, location: str, query: str, user: str = "admin"
) -> dict[str, dict[str, Any]]:
    """Return the series by month, asked twice: the second answer comes from the cache."""
    first = series(client, org, location, query, user)
    assert series(client, org, location, query, user) == first
    return by_period(first)


def test_a_series_is_fresh_after_a_release(client: FlaskClient, org: Org, visits: Visits) -> None:
    visits.shop("leeds", "2026-02-03T10:00:00Z", 1.0)
    assert months(client, org, "leeds", "from=2026-02&to=2026-02")["2026-02"]["n"] == 1
    pending = visits.push("leeds", "2026-02-10T10:00:00Z", quality=0.3)
    assert months(client, org, "leeds", "from=2026-02&to=2026-02")["2026-02"]["n"] == 1
    visits.release(pending)
    point = months(client, org, "leeds", "from=2026-02&to=2026-02")["2026-02"]
    assert point["n"] == 2
    assert point["low"] is not None


def test_a_series_is_fresh_after_a_return_and_a_correction(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visit = visits.shop("leeds", "2026-02-03T10:00:00Z", 1.0)
    query = "from=2026-02&to=2026-03"
    assert months(client, org, "leeds", query)["2026-02"]["n"] == 1
    visits.send_back(visit)
    assert months(client, org, "leeds", query)["2026-02"]["n"] == 0
    visits.correct(visit, quality=0.3, at="2026-03-03T10:00:00Z")
    visits.release(visit)
    body = months(client, org, "leeds", query)
    assert (body["2026-02"]["n"], body["2026-03"]["n"]) == (0, 1)
    assert body["2026-03"]["mean"] == pytest.approx(visits.score(visit), abs=0.05)


def test_a_series_is_fresh_after_a_time_zone_change(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.shop("leeds", "2026-03-01T05:00:00Z")  # 1 March in London, 28 February in Honolulu
    query = "from=2026-02&to=2026-03"
    body = months(client, org, "leeds", query)
    assert (body["2026-02"]["n"], body["2026-03"]["n"]) == (0, 1)
    moved = client.patch(
        f"/api/v1/locations/{org.locations['leeds']}",
        json={"timezone": "Pacific/Honolulu"},
        headers=org.auth("admin"),
    )
    assert moved.status_code == 200
    body = months(client, org, "leeds", query)
    assert (body["2026-02"]["n"], body["2026-03"]["n"]) == (1, 0)


def test_a_series_is_fresh_after_a_rebuild(
    app: Flask, client: FlaskClient, org: Org, visits: Visits
) -> None:
    visit = visits.shop("leeds", "2026-02-03T10:00:00Z", 1.0)
    assert months(client, org, "leeds", "from=2026-02&to=2026-02")["2026-02"]["mean"] == 100.0
    with app.app_context():
        db = get_db()
        with transaction(db):
            # A repair straight in SQL bypasses the rollups: a rebuild brings them in line.
            db.execute("UPDATE visits SET score = 42.0 WHERE id = ?", [visit])
            rebuild(db)
    assert months(client, org, "leeds", "from=2026-02&to=2026-02")["2026-02"]["mean"] == 42.0


def test_a_retired_location_s_series_is_404_even_when_cached(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.shop("york", "2026-02-03T10:00:00Z")
    months(client, org, "york", "from=2026-02&to=2026-02")
    path = f"/api/v1/locations/{org.locations['york']}"
    assert client.delete(path, headers=org.auth("admin")).status_code == 204
    assert get(client, org, f"{path}/scores?from=2026-02&to=2026-02").status_code == 404


def test_an_unchanged_series_answers_304_to_its_etag_and_a_changed_one_200(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.shop("leeds", "2026-02-03T10:00:00Z", 1.0)
    path = f"/api/v1/locations/{org.locations['leeds']}/scores?from=2026-02&to=2026-02"
    first = get(client, org, path)
    etag = first.headers["ETag"]
    assert "private" in first.headers["Cache-Control"]
    assert "no-cache" in first.headers["Cache-Control"]
    again = client.get(path, headers={**org.auth("admin"), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    # Another caller allowed to see it gets the same answer, ETag and all.
    manager = client.get(path, headers={**org.auth("manager"), "If-None-Match": etag})
    assert manager.status_code == 304
    visits.shop("leeds", "2026-02-10T10:00:00Z", 0.3)
    changed = client.get(path, headers={**org.auth("admin"), "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["series"][0]["n"] == 2


@pytest.mark.parametrize(
    ("user", "location", "status"),
    [("manager", "york", 404), ("lead", "dublin", 404), ("shopper", "leeds", 403)],
)
def test_a_cached_series_is_never_served_to_a_caller_who_may_not_see_it(
    client: FlaskClient, org: Org, visits: Visits, user: str, location: str, status: int
) -> None:
    visits.shop(location, "2026-02-03T10:00:00Z")
    path = f"/api/v1/locations/{org.locations[location]}/scores?from=2026-02&to=2026-02"
    cached = get(client, org, path)
    assert cached.status_code == 200
    for headers in ({}, {"If-None-Match": cached.headers["ETag"]}):
        refused = client.get(path, headers={**org.auth(user), **headers})
        assert refused.status_code == status
        assert b'"series"' not in refused.data


def test_weeks_are_listed_in_order_across_a_53_week_year(client: FlaskClient, org: Org) -> None:
    body = series(client, org, "leeds", "period=week&from=2020-W52&to=2021-W02")
    assert [p["period"] for p in body["series"]] == ["2020-W52", "2020-W53", "2021-W01", "2021-W02"]
