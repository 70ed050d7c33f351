"""Observer calibration: how far each observer sits from the others at the same place and month."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path

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


def test_deviation_is_from_the_other_observers_consensus(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    mine = [visits.shop("leeds", f"2026-06-{d:02d}T10:00:00Z", 1.0) for d in (3, 9, 15)]
    theirs = [
        visits.shop("leeds", f"2026-06-{d:02d}T10:00:00Z", q, user="shopper2")
        for d, q in ((4, 0.6), (10, 0.5))
    ]
    visits.shop("york", "2026-06-05T10:00:00Z", 0.5)  # alone at York: nothing to compare with
    response = get(client, org, "/api/v1/observers/calibration")
    assert response.status_code == 200
    found = {o["username"]: o for o in response.get_json()["observers"]}
    my_scores = [visits.score(v) for v in mine]
    their_scores = [visits.score(v) for v in theirs]
    assert found["shopper"]["n"] == 3
    assert found["shopper"]["cells"] == 1
    expected = statistics.fmean(my_scores) - statistics.fmean(their_scores)
    assert found["shopper"]["deviation"] == pytest.approx(expected, abs=0.05)
    assert found["shopper2"]["deviation"] == pytest.approx(
        statistics.fmean(their_scores) - statistics.fmean(my_scores), abs=0.05
    )
    assert found["shopper2"]["n"] == 2
    # One shared month says as much about that month as about the observer: no label yet.
    assert found["shopper"]["cells"] == 1
    assert (found["shopper"]["tendency"], found["shopper"]["low"]) == (None, None)


def test_an_observer_apart_month_after_month_is_labelled(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    for month, (mine, theirs) in zip(
        ["2026-03", "2026-04", "2026-05", "2026-06"],
        [(1.0, 0.5), (0.95, 0.55), (1.0, 0.6), (0.9, 0.5)],
        strict=True,
    ):
        visits.shop("leeds", f"{month}-03T10:00:00Z", mine)
        visits.shop("leeds", f"{month}-09T10:00:00Z", theirs, user="shopper2")
    body = get(client, org, "/api/v1/observers/calibration").get_json()
    assert body["false_discovery_rate"] == 0.1
    found = {o["username"]: o for o in body["observers"]}
    assert found["shopper"]["cells"] == 4
    assert found["shopper"]["low"] > 0
    assert found["shopper"]["p_value"] < 0.1
    assert (found["shopper"]["tendency"], found["shopper2"]["tendency"]) == ("lenient", "harsh")


def test_months_are_separate_cells(client: FlaskClient, org: Org, visits: Visits) -> None:
    visits.shop("leeds", "2026-05-10T10:00:00Z", 1.0)
    visits.shop("leeds", "2026-06-10T10:00:00Z", 0.5, user="shopper2")
    body = get(client, org, "/api/v1/observers/calibration").get_json()
    assert body["observers"] == []
    narrowed = get(client, org, "/api/v1/observers/calibration?from=2026-06&to=2026-06").get_json()
    assert narrowed["observers"] == []


@pytest.mark.parametrize(
    ("user", "status"),
    [("admin", 200), ("lead", 403), ("manager", 403), ("manager_south", 403), ("shopper", 403)],
)
def test_only_admins_see_calibration(client: FlaskClient, org: Org, user: str, status: int) -> None:
    assert get(client, org, "/api/v1/observers/calibration", user).status_code == status
