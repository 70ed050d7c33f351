"""Fair rankings: shrunk toward the area, ranked, with deltas and trends only when earned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.scoring.stats import Moments, estimate_shrinkage
from fieldobs.settings import SettingsError
from tests.helpers.app import Org, make_app, reconfigure
from tests.helpers.score_helpers import Visits, get, history_app

# Visit qualities and the mystery-shop scores they give: q < 0.5 fails critical items.
GOOD = [0.9, 0.6, 1.0, 0.75, 0.5, 0.95]  # mean about 90
MIDDLING = [0.6, 0.5, 0.75, 0.55, 0.7, 0.9]  # about 83
POOR = [0.5, 0.55, 0.6, 0.3, 0.7, 0.5]  # about 67


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    yield from history_app(data_dir)


@pytest.fixture
def visits(app: Flask, client: FlaskClient, org: Org) -> Visits:
    return Visits(app, client, org)


def add_location(client: FlaskClient, org: Org, key: str, area: str = "north") -> None:
    body = {"name": key.title(), "area_id": org.areas[area], "timezone": "Europe/London"}
    response = client.post("/api/v1/locations", json=body, headers=org.auth("admin"))
    assert response.status_code == 201
    org.locations[key] = response.get_json()["id"]


def shops(visits: Visits, location: str, month: str, qualities: list[float]) -> list[str]:
    return [
        visits.shop(location, f"{month}-{day + 3:02d}T11:00:00Z", quality)
        for day, quality in enumerate(qualities)
    ]


def ranking(client: FlaskClient, org: Org, at: str, user: str = "admin") -> dict[str, Any]:
    response = get(client, org, f"/api/v1/areas/{org.areas['north']}/ranking?at={at}", user)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def rows_by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in body["locations"]}


@pytest.fixture
def contest(client: FlaskClient, org: Org, visits: Visits) -> dict[str, list[str]]:
    """Four north locations in June 2026: one lucky single visit and three with six each."""
    made = {}
    for key, qualities in [
        ("lucky", [1.0]),
        ("good", GOOD),
        ("middling", MIDDLING),
        ("poor", POOR),
    ]:
        add_location(client, org, key)
        made[key] = shops(visits, key, "2026-06", qualities)
    return made


def test_one_lucky_visit_does_not_top_the_table(
    client: FlaskClient, org: Org, contest: dict[str, list[str]]
) -> None:
    body = ranking(client, org, "2026-06")
    table = rows_by_name(body)
    assert body["min_visits"] == 3
    assert table["Lucky"]["mean"] == 100.0
    assert table["Good"]["rank"] == 1
    # One visit is not enough to rank: listed after the ranked, with its figures, no rank.
    assert (table["Lucky"]["rank"], table["Lucky"]["unranked"]) == (None, "not_enough_visits")
    assert table["Lucky"]["adjusted"] is not None
    assert table["Lucky"]["weight"] < table["Good"]["weight"]
    names = [row["name"] for row in body["locations"]]
    assert names.index("Lucky") > max(names.index(n) for n in ("Good", "Middling", "Poor"))
    assert table["Poor"]["rank"] == 3
    assert (table["Leeds"]["rank"], table["Leeds"]["n"], table["Leeds"]["adjusted"]) == (
        None,
        0,
        None,
    )
    assert table["Leeds"]["unranked"] == "no_visits"


def test_with_one_visit_enough_the_lucky_store_still_ranks_no_higher(
    app: Flask, client: FlaskClient, org: Org, contest: dict[str, list[str]]
) -> None:
    reconfigure(app, RANKING_MIN_VISITS=1)
    body = ranking(client, org, "2026-06")
    table = rows_by_name(body)
    assert body["min_visits"] == 1
    assert table["Lucky"]["unranked"] is None
    assert table["Lucky"]["rank"] >= table["Good"]["rank"] == 1
    # One visit says little: its rank range is at least as wide as any six-visit store's.
    width = {name: row["rank_high"] - row["rank_low"] for name, row in table.items() if row["rank"]}
    assert width["Lucky"] == max(width.values())
    ranked = [row for row in body["locations"] if row["rank"] is not None]
    for row in ranked:
        assert row["rank_low"] <= row["rank_high"]
        assert not row["tied_for_top"] or row["rank"] == 1
    assert sum(row["tied_for_top"] for row in ranked) != 1  # a tie takes two


def test_adjusted_is_the_empirical_bayes_estimate(
    client: FlaskClient, org: Org, visits: Visits, contest: dict[str, list[str]]
) -> None:
    groups = {
        name.title(): Moments.of([visits.score(v) for v in ids]) for name, ids in contest.items()
    }
    shrinkage = estimate_shrinkage(list(groups.values()))
    assert shrinkage is not None
    assert shrinkage.between is not None
    assert shrinkage.between > 0
    body = ranking(client, org, "2026-06")
    table = rows_by_name(body)
    for name, moments in groups.items():
        assert table[name]["adjusted"] == pytest.approx(shrinkage.adjust(moments), abs=0.05)
        assert table[name]["mean"] == pytest.approx(moments.mean, abs=0.05)
        assert table[name]["n"] == moments.n
    assert body["area"]["mean"] == pytest.approx(shrinkage.grand_mean, abs=0.05)
    assert body["area"]["n"] == sum(m.n for m in groups.values())


def test_locations_alike_are_all_given_the_area_mean_and_tie(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    for key in ("leeds", "york"):
        shops(visits, key, "2026-06", [0.5, 1.0, 0.5, 1.0])
    body = ranking(client, org, "2026-06")
    table = rows_by_name(body)
    assert body["area"]["between_sd"] == 0.0
    assert table["Leeds"]["adjusted"] == table["York"]["adjusted"] == body["area"]["mean"]
    assert table["Leeds"]["rank"] == table["York"]["rank"] == 1


def test_delta_is_the_change_of_adjusted_since_the_previous_month(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    shops(visits, "leeds", "2026-05", [0.5, 0.6])
    shops(visits, "york", "2026-05", [0.9, 1.0, 0.5])
    shops(visits, "leeds", "2026-06", [0.9, 1.0])
    shops(visits, "york", "2026-06", [0.6, 0.5, 0.75])
    before, now = (
        rows_by_name(ranking(client, org, "2026-05")),
        rows_by_name(ranking(client, org, "2026-06")),
    )
    for name in ("Leeds", "York"):
        assert before[name]["delta"] is None
        assert now[name]["delta"] == pytest.approx(
            now[name]["adjusted"] - before[name]["adjusted"], abs=0.11
        )


def test_a_trend_is_claimed_only_when_the_evidence_supports_it(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    months = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    rising = [[0.5, 0.55], [0.6, 0.55], [0.7, 0.6], [0.75, 0.7], [0.8, 0.9], [0.95, 1.0]]
    for month, qualities in zip(months, rising, strict=True):
        shops(visits, "leeds", month, qualities)
        shops(visits, "york", month, [0.9, 0.6])
    add_location(client, org, "sparse")
    shops(visits, "sparse", "2026-05", [0.5])
    shops(visits, "sparse", "2026-06", [1.0])
    table = rows_by_name(ranking(client, org, "2026-06"))
    assert table["Leeds"]["trend"] == "improving"
    assert table["Leeds"]["slope"] > 3
    assert table["York"]["trend"] == "steady"
    assert table["Sparse"]["trend"] is None  # two months: too little to say


def test_walkthroughs_never_enter_the_ranking(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.walk("leeds", "2026-06-10T10:00:00Z", 1.0)
    table = rows_by_name(ranking(client, org, "2026-06"))
    assert table["Leeds"]["n"] == 0


def test_the_overall_ranking_spans_the_caller_s_areas(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    for key, quality in [("leeds", 1.0), ("york", 0.6), ("brighton", 0.9), ("dublin", 0.5)]:
        shops(visits, key, "2026-06", [quality, quality, quality])
    admin = get(client, org, "/api/v1/ranking?at=2026-06").get_json()
    lead = get(client, org, "/api/v1/ranking?at=2026-06", "lead").get_json()
    assert {row["name"] for row in admin["locations"]} == {"Leeds", "York", "Brighton", "Dublin"}
    assert sorted(row["rank"] for row in admin["locations"]) == [1, 2, 3, 4]
    assert {row["name"] for row in lead["locations"]} == {"Leeds", "York"}
    assert [area["name"] for area in lead["areas"]] == ["North"]
    # A location's adjusted figure is the same in its area's table and in the overall one.
    north = rows_by_name(ranking(client, org, "2026-06"))
    overall = {row["name"]: row for row in admin["locations"]}
    assert overall["Leeds"]["adjusted"] == north["Leeds"]["adjusted"]


@pytest.mark.parametrize(
    ("path", "user", "status"),
    [
        ("/api/v1/areas/{north}/ranking", "admin", 200),
        ("/api/v1/areas/{north}/ranking", "lead", 200),
        ("/api/v1/areas/{south}/ranking", "lead", 404),
        ("/api/v1/areas/{north}/ranking", "manager", 403),
        ("/api/v1/areas/{north}/ranking", "shopper", 403),
        ("/api/v1/areas/9999/ranking", "admin", 404),
        ("/api/v1/ranking", "admin", 200),
        ("/api/v1/ranking", "lead", 200),
        ("/api/v1/ranking", "manager", 403),
        ("/api/v1/ranking", "shopper", 403),
        ("/api/v1/areas/{north}/priorities", "lead", 200),
        ("/api/v1/areas/{south}/priorities", "lead", 404),
        ("/api/v1/areas/{north}/priorities", "manager", 403),
        ("/api/v1/observers/calibration", "manager", 403),
    ],
)
def test_who_may_compare_locations(
    client: FlaskClient, org: Org, path: str, user: str, status: int
) -> None:
    assert get(client, org, path.format(**org.areas), user).status_code == status


@pytest.mark.parametrize("query", ["at=2026-6", "at=2026-W07", "period=week&at=2026-W07"])
def test_a_bad_period_is_422(client: FlaskClient, org: Org, query: str) -> None:
    response = get(client, org, f"/api/v1/areas/{org.areas['north']}/ranking?{query}")
    assert response.status_code == 422


def test_a_ranking_is_never_served_stale(client: FlaskClient, org: Org, visits: Visits) -> None:
    shops(visits, "leeds", "2026-06", [1.0])
    assert rows_by_name(ranking(client, org, "2026-06"))["Leeds"]["n"] == 1
    assert rows_by_name(ranking(client, org, "2026-06"))["Leeds"]["n"] == 1  # served again
    shops(visits, "leeds", "2026-06", [0.5])
    assert rows_by_name(ranking(client, org, "2026-06"))["Leeds"]["n"] == 2
    renamed = client.patch(
        f"/api/v1/locations/{org.locations['leeds']}",
        json={"name": "Leeds Briggate"},
        headers=org.auth("admin"),
    )
    assert renamed.status_code == 200
    assert "Leeds Briggate" in rows_by_name(ranking(client, org, "2026-06"))


def test_an_unchanged_ranking_answers_304_to_its_etag(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    shops(visits, "leeds", "2026-06", [1.0])
    path = f"/api/v1/areas/{org.areas['north']}/ranking?at=2026-06"
    etag = get(client, org, path).headers["ETag"]
    again = client.get(path, headers={**org.auth("admin"), "If-None-Match": etag})
    assert again.status_code == 304
    shops(visits, "leeds", "2026-06", [0.5])
    changed = client.get(path, headers={**org.auth("admin"), "If-None-Match": etag})
    assert changed.status_code == 200
    assert rows_by_name(changed.get_json())["Leeds"]["n"] == 2
    # The ETag proves nothing about scope: a caller who may not see the area gets no 304.
    south = f"/api/v1/areas/{org.areas['south']}/ranking?at=2026-06"
    etag = get(client, org, south).headers["ETag"]
    refused = client.get(south, headers={**org.auth("lead"), "If-None-Match": etag})
    assert refused.status_code == 404


def test_the_rank_range_fields_are_documented(client: FlaskClient) -> None:
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    ranked = schemas["RankedLocation"]["properties"]
    assert {"rank", "rank_low", "rank_high", "tied_for_top", "unranked"} <= set(ranked)
    assert {"not_enough_visits", "no_visits"} <= set(ranked["unranked"]["enum"])
    assert "min_visits" in schemas["AreaRanking"]["properties"]
    assert "min_visits" in schemas["OverallRanking"]["properties"]


def test_a_bad_minimum_of_visits_stops_the_start(data_dir: Path) -> None:
    with pytest.raises(SettingsError, match="FIELDOBS_RANKING_MIN_VISITS"):
        make_app(data_dir, RANKING_MIN_VISITS="three")
