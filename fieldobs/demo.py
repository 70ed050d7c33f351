"""A demo organisation to try the service with."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from fieldobs.checklists.published import get_latest
from fieldobs.people.accounts import create_user
from fieldobs.people.orgs import create_area, create_location
from fieldobs.people.scope import Principal, resolve_principal
from fieldobs.storage.connection import Database, transaction
from fieldobs.timeutil import to_rfc3339, utcnow
from fieldobs.visits.prepare import load_visit, prepare_visit
from fieldobs.visits.push import PushPolicy, commit_visit
from fieldobs.visits.review import release_visit

DEMO_PASSWORD = "demo-password"  # noqa: S105 -- printed for the demo on purpose

DEMO_AREAS = {
    "North": [
        ("Leeds Briggate", "Europe/London"),
        ("York Coney Street", "Europe/London"),
        ("Newcastle Northumberland St", "Europe/London"),
    ],
    "South": [
        ("Brighton Churchill Square", "Europe/London"),
        ("Bristol Cabot Circus", "Europe/London"),
        ("Dublin Grafton Street", "Europe/Dublin"),
    ],
}


def seed_demo(db: Database) -> str:
    """Create 2 areas, 6 locations and one user per role; return sign-in instructions."""
    area_ids: dict[str, int] = {}
    location_ids: list[int] = []
    for area_name, stores in DEMO_AREAS.items():
        area_ids[area_name] = create_area(db, area_name)["id"]
        for name, timezone in stores:
            location = create_location(
                db, {"name": name, "area_id": area_ids[area_name], "timezone": timezone}
            )
            location_ids.append(location["id"])
    users: list[tuple[str, str, dict[str, list[int]]]] = [
        ("admin", "admin", {}),
        ("lead.north", "area_lead", {"area_ids": [area_ids["North"]]}),
        ("manager.leeds", "manager", {"location_ids": [location_ids[0]]}),
        ("shopper", "shopper", {}),
    ]
    created = {}
    for username, role, grants in users:
        created[username] = create_user(
            db,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            location_ids=grants.get("location_ids", []),
            area_ids=grants.get("area_ids", []),
        )
    visits = seed_demo_visits(db, location_ids, created["shopper"], created["manager.leeds"])
    lines = [
        "Demo organisation seeded: 2 areas, 6 locations, one user per role,"
        f" {visits} visits over the last six months.",
        f"Every demo user's password is {DEMO_PASSWORD!r}:",
        *(f"  {username:15} {role}" for username, role, _ in users),
        "Sign in:  curl -s -X POST http://127.0.0.1:5000/api/v1/auth/token"
        " -H 'Content-Type: application/json'"
        f' -d \'{{"username": "admin", "password": "{DEMO_PASSWORD}"}}\'',
    ]
    return "\n".join(lines)


def _demo_answers(definition: dict[str, Any], quality: float, rng: random.Random) -> list[Any]:
    """Answer every value item, each good with probability `quality`."""
    answers = []
    for section in definition["sections"]:
        for item in section["items"]:
            good = rng.random() < quality
            kind = item["type"]
            if kind == "photo":
                continue
            if kind == "yes_no":
                value: Any = good
            elif kind == "scale":
                value = item["max"] if good else rng.randint(item["min"], item["max"])
            elif kind == "choice":
                ranked = sorted(item["options"], key=lambda o: -(o.get("score") or 0))
                value = ranked[0]["id"] if good else rng.choice(ranked)["id"]
            elif kind in ("duration", "number") and item.get("target") is not None:
                value = item["target"] if good else rng.uniform(item["target"], item["limit"])
            elif kind in ("duration", "number"):
                value = rng.randint(0, 6)
            else:
                value = "Demo visit: what happened, in the observer's words."
            answers.append({"item": item["id"], "value": value})
    return answers


def seed_demo_visits(
    db: Database, location_ids: list[int], shopper: dict[str, Any], manager: dict[str, Any]
) -> int:
    """Push six months of mystery shops (released) and walk-throughs through the real path."""
    rng = random.Random(2026)
    mystery = get_latest(db, "mystery-shop")
    walkthrough = get_latest(db, "back-to-the-floor")
    as_shopper = resolve_principal(db, shopper["id"], shopper["username"], "shopper")
    as_manager = resolve_principal(db, manager["id"], manager["username"], "manager")
    # Demo history is older than the clock-skew window on purpose: trust its dates.
    policy = PushPolicy(past_tolerance=timedelta(days=400))
    count = 0
    now = utcnow()
    for index, location_id in enumerate(location_ids):
        base = 0.45 + 0.09 * index
        for days_ago in range(180, 0, -4):
            finished = now - timedelta(days=days_ago, hours=rng.randint(0, 8))
            quality = min(0.97, base + (180 - days_ago) / 900 + rng.uniform(-0.1, 0.1))
            _push(db, as_shopper, mystery, location_id, finished, quality, rng, policy, True)
            count += 1
        if location_id in (as_manager.location_ids or ()):
            for days_ago in range(170, 0, -30):
                finished = now - timedelta(days=days_ago)
                _push(db, as_manager, walkthrough, location_id, finished, 0.92, rng, policy, False)
                count += 1
    return count


def _push(
    db: Database,
    principal: Principal,
    definition: dict[str, Any],
    location_id: int,
    finished: Any,
    quality: float,
    rng: random.Random,
    policy: PushPolicy,
    release: bool,
) -> None:
    visit_id = str(uuid.uuid4())
    visit: dict[str, Any] = {
        "id": visit_id,
        "revision": 1,
        "checklist": {"slug": definition["slug"], "version": definition["version"]},
        "location_id": location_id,
        "started_at": to_rfc3339(finished - timedelta(minutes=25)),
        "finished_at": to_rfc3339(finished),
        "answers": _demo_answers(definition, quality, rng),
        "photos": [],
    }
    prepared = prepare_visit(db, principal, load_visit(visit))
    with transaction(db):
        commit_visit(db, principal, prepared, policy=policy)
        if release:
            release_visit(db, visit_id)
