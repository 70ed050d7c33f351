"""The demo shows the product: each promised fact, checked through the API on a fresh data dir."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldobs.db import get_db, storage_for
from fieldobs.demo import DEMO_PASSWORD, DEMO_USERS, already_seeded, seed_demo
from fieldobs.extensions import settings_of
from fieldobs.timeutil import parse_rfc3339, to_rfc3339, utcnow
from tests.helpers.app import make_app

NOW = utcnow().replace(minute=0, second=0, microsecond=0)


@dataclass
class Seeded:
    """A demo seeded on a fresh data dir, and a client signed in as each demo user."""

    app: Flask
    client: FlaskClient
    message: str
    tokens: dict[str, str]

    def get(self, user: str, path: str) -> Any:
        response = self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[user]}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def every_visit(self, user: str, query: str = "") -> list[dict[str, Any]]:
        found, cursor = [], ""
        while True:
            page = self.get(user, f"/api/v1/visits?limit=200{query}{cursor}")
            found += page["visits"]
            if not page["has_more"]:
                return found
            cursor = f"&cursor={page['cursor']}"


def seed(data_dir: Path) -> tuple[Flask, str]:
    app = make_app(data_dir, AUTO_INIT=True)  # an empty data dir: migrated and published
    with app.app_context():
        message = seed_demo(get_db(), settings_of(app), now=NOW)
    return app, message


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    app, message = seed(tmp_path_factory.mktemp("demo"))
    client = app.test_client()
    tokens = {}
    for username in DEMO_USERS:
        response = client.post(
            "/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, username
        tokens[username] = response.get_json()["token"]
    yield Seeded(app, client, message, tokens)
    storage_for(app).close_thread_connection()


def test_the_readme_accounts_sign_in_and_are_printed(demo: Seeded) -> None:
    for username in ("admin", "lead.north", "manager.leeds", "shopper"):
        assert username in demo.tokens
        assert username in demo.message
    assert DEMO_PASSWORD in demo.message
    with demo.app.app_context():
        again = already_seeded(get_db())  # what `make run` prints every later time
    assert "seeded earlier" in again
    assert all(username in again for username in DEMO_USERS)


def test_two_areas_with_12_to_20_stores(demo: Seeded) -> None:
    areas = demo.get("admin", "/api/v1/areas")["areas"]
    locations = demo.get("admin", "/api/v1/locations")["locations"]
    assert len(areas) == 2
    assert 12 <= len(locations) <= 20
    assert set(Counter(loc["area_id"] for loc in locations)) == {a["id"] for a in areas}


def test_twelve_months_of_released_mystery_shops_and_walkthroughs(demo: Seeded) -> None:
    released = demo.every_visit("admin", "&status=released")
    kinds = Counter(v["checklist"]["slug"] for v in released)
    assert kinds["mystery-shop"] >= 200
    assert kinds["back-to-the-floor"] >= 100
    times = [parse_rfc3339(v["finished_at"]) for v in released]
    assert min(times) <= NOW - timedelta(days=330)
    assert max(times) >= NOW - timedelta(days=31)
    months = {t.strftime("%Y-%m") for t in times}
    assert len(months) >= 12


def test_stores_differ_in_quality_and_trend(demo: Seeded) -> None:
    means, changes = [], []
    for location in demo.get("admin", "/api/v1/locations")["locations"]:
        path = f"/api/v1/locations/{location['id']}/scores?period=month"
        series = [p for p in demo.get("admin", path)["series"] if p["mean"] is not None]
        if len(series) < 6:
            continue
        means.append(sum(p["mean"] for p in series) / len(series))
        changes.append(_average(series[-3:]) - _average(series[:3]))
    assert max(means) - min(means) >= 20
    assert max(changes) >= 5  # one store improving
    assert min(changes) <= -5  # one store slipping


def _average(points: list[dict[str, Any]]) -> float:
    total: float = sum(p["mean"] for p in points)
    return total / len(points)


def test_a_review_queue_with_visits_waiting_some_with_photos(demo: Seeded) -> None:
    queue = demo.get("admin", "/api/v1/review/queue")["visits"]
    assert len(queue) >= 5
    photos = [
        photo
        for waiting in queue
        for photo in demo.get("admin", f"/api/v1/visits/{waiting['id']}")["photos"]
    ]
    assert len(photos) >= 2
    assert {photo["state"] for photo in photos} == {"received"}
    served = demo.client.get(
        f"/api/v1/photos/{photos[0]['id']}",
        headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
    )
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    assert b"DemoPhone" not in served.data  # the camera's EXIF is gone


def test_the_demo_shopper_has_open_and_due_soon_assignments(demo: Seeded) -> None:
    mine = demo.get("shopper", "/api/v1/assignments")["assignments"]
    open_ones = [a for a in mine if a["status"] == "open"]
    assert len(open_ones) >= 2
    ends = [parse_rfc3339(a["window_end"]) for a in open_ones]
    assert any(end - NOW <= timedelta(hours=24) for end in ends)  # due soon
    assert any(end - NOW > timedelta(days=2) for end in ends)


def test_one_returned_visit_awaits_correction(demo: Seeded) -> None:
    returned = demo.every_visit("shopper", "&status=returned")
    assert len(returned) == 1
    reviews = demo.get("admin", f"/api/v1/visits/{returned[0]['id']}/reviews")["reviews"]
    assert reviews[-1]["action"] == "return"
    assert reviews[-1]["note"]


def test_one_store_has_a_single_visit(demo: Seeded) -> None:
    counts = Counter(v["location_id"] for v in demo.every_visit("admin"))
    locations = demo.get("admin", "/api/v1/locations")["locations"]
    assert [loc for loc in locations if counts[loc["id"]] == 1]


def test_the_cooldown_does_not_block_the_demo_shopper_everywhere(demo: Seeded) -> None:
    assigned = {a["location_id"] for a in demo.get("shopper", "/api/v1/assignments")["assignments"]}
    accepted = 0
    for location in demo.get("admin", "/api/v1/locations")["locations"]:
        if location["id"] in assigned:
            continue
        response = demo.client.post(
            "/api/v1/assignments",
            json={
                "shopper": "shopper",
                "location_id": location["id"],
                "checklist": "mystery-shop",
                "window_start": to_rfc3339(NOW + timedelta(days=30)),
                "window_end": to_rfc3339(NOW + timedelta(days=37)),
            },
            headers={"Authorization": f"Bearer {demo.tokens['admin']}"},
        )
        accepted += response.status_code == 201
    assert accepted >= 5


def test_the_same_seed_and_day_give_the_same_demo(demo: Seeded, tmp_path: Path) -> None:
    app, _ = seed(tmp_path / "again")
    try:
        with app.app_context():
            again = _fingerprint(get_db())
        with demo.app.app_context():
            first = _fingerprint(get_db())
    finally:
        storage_for(app).close_thread_connection()
    assert again == first


def _fingerprint(db: Any) -> list[tuple[Any, ...]]:
    """Return the seeded visits as comparable rows (ids, places, times, scores)."""
    cursor = db.execute(
        "SELECT id, location_id, kind, status, observed_at, score FROM visits ORDER BY id"
    )
    return [tuple(row) for row in cursor.fetchall()]
