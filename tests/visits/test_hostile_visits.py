"""Hostile and careless visits: each bad one is refused by name, the good ones beside it stored."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldobs.extensions import state_of
from fieldobs.people.scope import Principal
from fieldobs.visits import push as push_module
from tests.helpers.app import Org
from tests.helpers.responses import json_object
from tests.helpers.visit_factory import make_visit, photo_entry

SURROGATE = "Great \ud83d"


@pytest.fixture
def mystery(client: FlaskClient, org: Org) -> dict[str, Any]:
    """Return the latest mystery-shop checklist."""
    return json_object(client.get("/api/v1/checklists/mystery-shop", headers=org.auth("shopper")))


def batch(client: FlaskClient, org: Org, visits: list[Any]) -> list[dict[str, Any]]:
    """POST a batch as the shopper; return its results (the batch itself must be 200)."""
    response = client.post(
        "/api/v1/sync/visits", json={"visits": visits}, headers=org.auth("shopper")
    )
    assert response.status_code == 200, response.get_json()
    results: list[dict[str, Any]] = response.get_json()["results"]
    return results


def stored_revisions(data_dir: Path, visit_id: str) -> int:
    """Count the stored revisions of a visit, straight from the file."""
    conn = sqlite3.connect(data_dir / "fieldobs.db")
    try:
        return int(
            conn.execute(
                "SELECT count(*) FROM visit_revisions WHERE visit_id = ?", [visit_id]
            ).fetchone()[0]
        )
    finally:
        conn.close()


def text_item(definition: dict[str, Any]) -> str:
    """Return the id of the checklist's first text item."""
    item_id: str = next(
        item["id"]
        for section in definition["sections"]
        for item in section["items"]
        if item["type"] == "text"
    )
    return item_id


def with_answer(visit: dict[str, Any], item_id: str, **answer: Any) -> dict[str, Any]:
    """Return the visit with one item's answer replaced."""
    answers = [a for a in visit["answers"] if a["item"] != item_id]
    return {**visit, "answers": [*answers, {"item": item_id, **answer}]}


def hostile_cases(definition: dict[str, Any], location_id: int) -> list[tuple[dict[str, Any], str]]:
    """Return (visit, the field its 422 must name) pairs."""
    base = make_visit(definition, location_id)
    photo = photo_entry(b"x")
    text = text_item(definition)
    cases = [
        ({**base, "notes": SURROGATE}, "notes"),
        ({**base, "checklist": {**base["checklist"], "slug": SURROGATE}}, "checklist.slug"),
        ({**base, "photos": [{**photo, "item": SURROGATE}]}, "photos.0.item"),
        ({**base, "started_at": "0001-01-01T00:00:00+01:00"}, "started_at"),
        ({**base, "finished_at": "9999-12-31T23:59:59-01:00"}, "finished_at"),
        ({**base, "finished_at": "2026-W48-2T07:00:00Z"}, "finished_at"),  # after started_at
        ({**base, "id": str(uuid.uuid1())}, "id"),
        ({**base, "id": "1ef0c3a2-0000-6000-8000-000000000000"}, "id"),
        ({**base, "id": "01890a5d-ac96-7000-8000-000000000000"}, "id"),
        (
            {**base, "photos": [{**photo, "id": "01890a5d-ac96-7000-8000-000000000001"}]},
            "photos.0.id",
        ),
        ({**base, "location_id": 2**70}, "location_id"),
    ]
    # Strings the fast path does not read: answers' comments and text values.
    first = base["answers"][0]["item"]
    cases.append((with_answer(base, first, value=True, comment=SURROGATE), "answers"))
    cases.append((with_answer(base, text, value=SURROGATE), "answers"))
    return cases


@pytest.mark.parametrize("case", range(13))
def test_one_hostile_visit_never_fails_its_batch(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path, case: int
) -> None:
    hostile, field = hostile_cases(mystery, org.locations["leeds"])[case]
    good = [make_visit(mystery, org.locations["leeds"]) for _ in range(2)]
    results = batch(client, org, [good[0], hostile, good[1]])
    assert [r["status"] for r in results] == [201, 422, 201]
    assert any(name.startswith(field) for name in results[1]["error"]["fields"]), results[1]
    assert [stored_revisions(data_dir, v["id"]) for v in good] == [1, 1]


@pytest.mark.parametrize("case", range(13))
def test_one_hostile_visit_put_alone_is_422_naming_the_field(
    client: FlaskClient, org: Org, mystery: dict[str, Any], case: int
) -> None:
    hostile, field = hostile_cases(mystery, org.locations["leeds"])[case]
    visit_id = hostile["id"] if isinstance(hostile["id"], str) else str(uuid.uuid4())
    response = client.put(f"/api/v1/visits/{visit_id}", json=hostile, headers=org.auth("shopper"))
    assert response.status_code == 422, response.get_json()
    assert any(name.startswith(field) for name in response.get_json()["error"]["fields"])


@contextmanager
def failing_flagger(app: Flask, notes: str) -> Iterator[None]:
    """Make the app's flagging raise an unexpected error for visits with these notes, a while."""

    def explode(_db: Any, _principal: Principal, data: dict[str, Any]) -> list[str]:
        if data.get("notes") == notes:
            raise RuntimeError("a bug met by one visit only")
        return []

    checks = state_of(app).get(push_module.Flaggers).checks
    push_module.add_flagger(state_of(app), explode)
    try:
        yield
    finally:
        checks.remove(explode)


def test_an_unexpected_error_is_that_visits_own_result(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path
) -> None:
    good = [make_visit(mystery, org.locations["leeds"]) for _ in range(3)]
    doomed = make_visit(mystery, org.locations["leeds"], notes="boom")
    with failing_flagger(client.application, "boom"):
        results = batch(client, org, [good[0], doomed, good[1], good[2]])
    assert [r["status"] for r in results] == [201, 500, 201, 201]
    assert results[1]["id"] == doomed["id"]
    assert results[1]["error"]["code"] == "internal_error"
    assert [stored_revisions(data_dir, v["id"]) for v in [*good, doomed]] == [1, 1, 1, 0]


SURROGATES = st.characters(categories=["Cs"])
SURROGATE_TEXT = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(max_size=4),
    SURROGATES,
    st.text(max_size=4),
)
EXTREME_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00",
        "9999-12-31",
        "2026-W48-1T07:00:00Z",
        "2026-11-23T10:00:00.1234567890Z",
        "+2026-11-23T10:00:00Z",
        "2026-11-23T10:00:60Z",
        "2026-11-23T10:00:00+24:00",
    ]
) | st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
HUGE_NUMBERS = st.sampled_from([2**63, -(2**63) - 1, 10**400, 1e308, -1e308, 2**64])


@st.composite
def hostile_visit(draw: st.DrawFn, definition: dict[str, Any], location_id: int) -> dict[str, Any]:
    """Return a visit with something hostile in it (it may still be valid)."""
    visit = make_visit(definition, location_id)
    text = text_item(definition)
    first = visit["answers"][0]["item"]
    mutation = draw(st.integers(0, 6))
    if mutation == 0:
        visit["notes"] = draw(SURROGATE_TEXT)
    elif mutation == 1:
        visit[draw(st.sampled_from(["started_at", "finished_at"]))] = draw(EXTREME_TIMES)
    elif mutation == 2:
        visit[draw(st.sampled_from(["location_id", "revision", "assignment_id"]))] = draw(
            HUGE_NUMBERS
        )
    elif mutation == 3:
        visit = with_answer(visit, first, value=True, comment=draw(SURROGATE_TEXT))
    elif mutation == 4:
        visit = with_answer(visit, text, value=draw(SURROGATE_TEXT))
    elif mutation == 5:
        visit["checklist"] = {**visit["checklist"], "version": draw(HUGE_NUMBERS)}
    else:
        visit["photos"] = [{**photo_entry(b"y"), "size": draw(HUGE_NUMBERS)}]
    return visit


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_valid_visit_in_a_hostile_batch_is_stored_exactly_once(
    client: FlaskClient, org: Org, mystery: dict[str, Any], data_dir: Path, data: st.DataObject
) -> None:
    location = org.locations["leeds"]
    kinds = data.draw(st.lists(st.booleans(), min_size=1, max_size=8), label="hostile?")
    visits = [
        data.draw(hostile_visit(mystery, location)) if hostile else make_visit(mystery, location)
        for hostile in kinds
    ]
    results = batch(client, org, visits)
    assert len(results) == len(visits)
    for visit, hostile, result in zip(visits, kinds, results, strict=True):
        assert result["status"] != 500, result
        if not hostile:
            assert result["status"] == 201, result
            assert stored_revisions(data_dir, visit["id"]) == 1
        elif result["status"] >= 400:
            assert result["error"]["fields"], result
            assert stored_revisions(data_dir, visit["id"]) == 0
    # Sent again, the valid ones are replays: still stored once.
    again = batch(client, org, [v for v, hostile in zip(visits, kinds, strict=True) if not hostile])
    assert all(result["status"] == 200 for result in again)
