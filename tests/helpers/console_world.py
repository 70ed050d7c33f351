"""A small organisation with visits, photos and a shop awaiting review, for the console tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from fieldobs.db import storage_for
from fieldobs.timeutil import utcnow
from tests.helpers.app import PASSWORD, Org, make_app
from tests.helpers.ops_factory import checklist, iso, push, review
from tests.helpers.photo_factory import jpeg, one_shot
from tests.helpers.visit_factory import make_visit, photo_entry

PHOTO_ITEM = "notes.queue_photo"
EVIL_STORE = '=HYPERLINK("http://127.0.0.1/x","Click")'


def anchor() -> datetime:
    """Return a moment mid-way through last month: the pages' default (last complete) period.

    Visits a few days before it stay inside that month whatever today's date, and within the
    server's trusted clock window (60 days).
    """
    first_of_month = utcnow().replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    return first_of_month - timedelta(days=14)


@dataclass
class World:
    """Ids of what the console tests look at."""

    data_dir: Path
    org: Org
    released: list[str] = field(default_factory=list)
    released_with_photos: str = ""
    released_photos: list[str] = field(default_factory=list)
    unreleased: str = ""
    unreleased_photos: list[str] = field(default_factory=list)
    walkthrough: str = ""
    evil_store: int = 0


def _visit_with_photos(
    client: FlaskClient, org: Org, definition: dict[str, Any], location: int, days_ago: float,
    count: int, quality: float,
) -> tuple[str, list[str]]:  # fmt: skip
    pictures = [jpeg(640, 480, seed=k + int(days_ago * 10)) for k in range(count)]
    entries = [{**photo_entry(data), "item": PHOTO_ITEM} for data in pictures]
    finished = anchor() - timedelta(days=days_ago)
    visit = make_visit(
        definition, location, quality=quality, photos=entries,
        started_at=iso(finished - timedelta(minutes=30)), finished_at=iso(finished),
    )  # fmt: skip
    visit["answers"].append({"item": PHOTO_ITEM, "photos": [e["id"] for e in entries]})
    visit["answers"][0]["comment"] = "Waited by the till; nobody looked up."
    assert push(client, org, visit).status_code == 201
    for data, entry in zip(pictures, entries, strict=True):
        answer = one_shot(client, org, data, visit_id=visit["id"], photo_id=entry["id"])
        assert answer.status_code == 201, answer.get_json()
    return visit["id"], [e["id"] for e in entries]


def seed_world(data_dir: Path, org: Org) -> World:
    """Push visits through the real API: released shops, one with photos, one unreleased."""
    app = make_app(data_dir)
    client = app.test_client()
    world = World(data_dir, org)
    shop = checklist(client, org)
    walk = checklist(client, org, "back-to-the-floor")
    plan = [("leeds", 0.9), ("leeds", 0.7), ("leeds", 0.8), ("york", 0.4), ("york", 0.5),
            ("york", 0.6), ("brighton", 0.95), ("brighton", 0.85)]  # fmt: skip
    for index, (store, quality) in enumerate(plan):
        finished = anchor() - timedelta(days=1 + index % 3, hours=index)
        visit = make_visit(
            shop, org.locations[store], quality=quality,
            started_at=iso(finished - timedelta(minutes=25)), finished_at=iso(finished),
        )  # fmt: skip
        assert push(client, org, visit).status_code == 201
        assert review(client, org, visit["id"], "release").status_code == 200
        world.released.append(visit["id"])
    world.released_with_photos, world.released_photos = _visit_with_photos(
        client, org, shop, org.locations["leeds"], 2, 2, 0.3
    )
    assert review(client, org, world.released_with_photos, "release").status_code == 200
    world.unreleased, world.unreleased_photos = _visit_with_photos(
        client, org, shop, org.locations["leeds"], 1, 3, 0.6
    )
    finished = anchor() - timedelta(days=3)
    walkthrough = make_visit(
        walk, org.locations["leeds"], quality=0.95,
        started_at=iso(finished - timedelta(minutes=40)), finished_at=iso(finished),
    )  # fmt: skip
    assert push(client, org, walkthrough, user="manager").status_code == 201
    world.walkthrough = walkthrough["id"]
    created = client.post(
        "/api/v1/locations",
        json={"name": EVIL_STORE, "area_id": org.areas["north"], "timezone": "Europe/London"},
        headers=org.auth("admin"),
    )
    world.evil_store = created.get_json()["id"]
    evil = make_visit(shop, world.evil_store, quality=0.5,
                      started_at=iso(anchor() - timedelta(hours=5)),
                      finished_at=iso(anchor() - timedelta(hours=4)))  # fmt: skip
    assert push(client, org, evil).status_code == 201
    assert review(client, org, evil["id"], "release").status_code == 200
    storage_for(app).close_thread_connection()
    return world


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    """Sign a test client in through the form, as a browser would."""
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post(
        "/", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return client
