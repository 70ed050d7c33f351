"""Rollups kept up incrementally always equal rollups rebuilt from the visits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldobs.db import get_db
from fieldobs.scores.rebuild import ROLLUP_TABLES, rebuild
from fieldobs.storage.connection import transaction
from tests.helpers.app import Org
from tests.helpers.score_helpers import MYSTERY, WALKTHROUGH, Visits, get, history_app

# (user, checklist, locations the user may push for)
PUSHERS = [
    ("shopper", MYSTERY, ["leeds", "york", "leeds", "dublin"]),
    ("shopper2", MYSTERY, ["leeds"]),
    ("manager", WALKTHROUGH, ["leeds"]),
    ("lead", WALKTHROUGH, ["leeds", "york"]),
]
# Around month, ISO week and daylight-saving boundaries in London and Dublin.
MOMENTS = [
    "2026-03-31T23:30:00Z",
    "2026-04-01T00:30:00Z",
    "2026-01-31T23:59:00Z",
    "2025-12-28T10:00:00Z",
    "2026-01-04T23:30:00Z",
    "2026-06-14T10:00:00Z",
    "2026-10-25T00:30:00Z",
]
QUALITIES = [0.0, 0.3, 0.5, 0.6, 0.75, 1.0]

STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.integers(0, len(PUSHERS) - 1),
            st.integers(0, 3),
            st.sampled_from(QUALITIES),
            st.sampled_from(MOMENTS),
        ),
        st.tuples(st.just("release"), st.integers(0, 99)),
        st.tuples(st.just("release"), st.integers(0, 99)),
        st.tuples(st.just("return"), st.integers(0, 99)),
        st.tuples(
            st.just("correct"),
            st.integers(0, 99),
            st.sampled_from(QUALITIES),
            st.sampled_from(MOMENTS),
            st.integers(0, 3),
        ),
    ),
    min_size=1,
    max_size=18,
)


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    yield from history_app(data_dir)


def snapshot(app: Flask) -> dict[tuple[Any, ...], tuple[float, ...]]:
    """Return every rollup row keyed by table and key columns."""
    found: dict[tuple[Any, ...], tuple[float, ...]] = {}
    db = get_db()
    for table in ROLLUP_TABLES:
        cursor = db.execute(f"SELECT * FROM {table}")
        for row in cursor.fetchall():
            keys = tuple(v for v in row if isinstance(v, (str, int)))
            numbers = tuple(float(v) for v in row if isinstance(v, float))
            found[(table, *keys)] = numbers
    return found


def assert_same(incremental: dict[Any, Any], rebuilt: dict[Any, Any]) -> None:
    assert incremental.keys() == rebuilt.keys()
    for key, numbers in incremental.items():
        assert numbers == pytest.approx(rebuilt[key], abs=1e-6), key


def apply_step(visits: Visits, pushed: list[str], step: tuple[Any, ...]) -> None:
    """Apply one step to a visit for which it makes sense (picked by index among those)."""
    action = step[0]
    if action == "push":
        user, slug, places = PUSHERS[step[1]]
        place = places[step[2] % len(places)]
        pushed.append(visits.push(place, step[4], quality=step[3], user=user, slug=slug))
        return
    wanted = {
        "release": ("submitted",),
        "return": ("submitted", "released"),
        "correct": ("returned",),
    }
    candidates = [v for v in pushed if visits.status(v) in wanted[action]]
    if not candidates:
        return
    visit = candidates[step[1] % len(candidates)]
    if action == "release":
        visits.release(visit)
    elif action == "return":
        visits.send_back(visit)
    else:
        user = visits.users[visit]
        places = next(p for u, _, p in PUSHERS if u == user)
        visits.correct(visit, quality=step[2], at=step[3], location=places[step[4] % len(places)])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_incremental_rollups_equal_a_rebuild(
    app: Flask, client: FlaskClient, org: Org, steps: list[tuple[Any, ...]]
) -> None:
    visits = Visits(app, client, org)
    pushed: list[str] = []
    for step in steps:
        apply_step(visits, pushed, step)
    with app.app_context():
        incremental = snapshot(app)
        db = get_db()
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            counted = rebuild(db)
            rebuilt = snapshot(app)
        finally:
            db.conn.execute("ROLLBACK")
        ledger = db.execute("SELECT count(*) FROM score_visits").fetchone()[0]
    assert counted == ledger
    assert_same(incremental, rebuilt)


def test_the_cli_rebuilds_in_worker_processes_to_the_same_rollups(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    visits = Visits(app, client, org)
    for place, moment, quality in [
        ("leeds", MOMENTS[0], 0.6),
        ("york", MOMENTS[1], 1.0),
        ("dublin", MOMENTS[5], 0.3),
    ]:
        visits.shop(place, moment, quality)
    visits.walk("leeds", MOMENTS[2], 0.75)
    with app.app_context():
        before = snapshot(app)
        with transaction(get_db()):
            get_db().execute("DELETE FROM score_rollups")
    result = app.test_cli_runner().invoke(args=["scores", "rebuild", "--processes", "2"])
    assert result.exit_code == 0, result.output
    assert "from 4 counted visits" in result.output
    with app.app_context():
        assert_same(before, snapshot(app))


def test_a_changed_time_zone_refiles_old_visits_and_rebuild_agrees(
    app: Flask, client: FlaskClient, org: Org
) -> None:
    visits = Visits(app, client, org)
    visits.shop("leeds", "2026-03-01T05:00:00Z")  # March in London, February in Honolulu
    leeds = org.locations["leeds"]

    def months() -> dict[str, int]:
        body = get(client, org, f"/api/v1/locations/{leeds}/scores?from=2026-02&to=2026-03")
        return {p["period"]: p["n"] for p in body.get_json()["series"]}

    assert months() == {"2026-02": 0, "2026-03": 1}
    patched = client.patch(
        f"/api/v1/locations/{leeds}",
        json={"timezone": "Pacific/Honolulu"},
        headers=org.auth("admin"),
    )
    assert patched.status_code == 200
    visits.shop("leeds", "2026-03-01T05:00:00Z")
    assert months() == {"2026-02": 2, "2026-03": 0}
    result = app.test_cli_runner().invoke(
        args=["scores", "rebuild", "--location", str(leeds), "--processes", "1"]
    )
    assert result.exit_code == 0, result.output
    assert months() == {"2026-02": 2, "2026-03": 0}
