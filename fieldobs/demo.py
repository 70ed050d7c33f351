"""A demo organisation that shows the product, made through the same functions as the API.

Two areas with 16 stores of different quality and trend, 12 months of released mystery shops and
walk-throughs, a review queue (some visits with photos drawn here), open and due-soon
assignments for the demo shopper, a visit returned for correction, a new store with a single
visit, and stores the demo shopper may still be assigned to. The same seed and day give the
same organisation.
"""

from __future__ import annotations

import hashlib
import io
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw

from fieldobs.checklists.published import get_latest
from fieldobs.operations.assignments import create_assignment
from fieldobs.people.accounts import create_user
from fieldobs.people.orgs import create_area, create_location
from fieldobs.people.scope import Principal, resolve_principal
from fieldobs.photos import service as photo_service
from fieldobs.settings import Settings
from fieldobs.storage.connection import Database, transaction
from fieldobs.timeutil import to_rfc3339, utcnow
from fieldobs.visits.prepare import load_visit, prepare_visit
from fieldobs.visits.push import PushPolicy, commit_visit
from fieldobs.visits.review import review_visit

DEMO_PASSWORD = "demo-password"  # noqa: S105 -- printed for the demo on purpose
DEMO_SEED = 2026
HISTORY_DAYS = 365

# (name, timezone, quality 0-1, trend over the year); the first North store is manager.leeds'.
DEMO_AREAS: dict[str, list[tuple[str, str, float, float]]] = {
    "North": [
        ("Leeds Briggate", "Europe/London", 0.78, 0.10),
        ("York Coney Street", "Europe/London", 0.88, 0.00),
        ("Newcastle Northumberland St", "Europe/London", 0.62, 0.22),
        ("Manchester Market Street", "Europe/London", 0.71, -0.15),
        ("Sheffield Fargate", "Europe/London", 0.55, 0.05),
        ("Liverpool Church Street", "Europe/London", 0.83, 0.05),
        ("Hull Whitefriargate", "Europe/London", 0.66, -0.05),
        ("Durham Saddler Street", "Europe/London", 0.92, -0.02),
    ],
    "South": [
        ("Brighton Churchill Square", "Europe/London", 0.74, 0.12),
        ("Bristol Cabot Circus", "Europe/London", 0.86, 0.03),
        ("Dublin Grafton Street", "Europe/Dublin", 0.69, 0.18),
        ("Oxford Cornmarket", "Europe/London", 0.90, -0.08),
        ("Southampton Above Bar", "Europe/London", 0.58, 0.00),
        ("Exeter High Street", "Europe/London", 0.80, -0.20),
        ("Bath Milsom Street", "Europe/London", 0.95, 0.00),
    ],
}
NEW_STORE = ("Leeds Trinity Kitchen", "Europe/London", 0.97, 0.0)  # opened lately: one visit

# username -> (role, what the account is for); the README names the first four.
DEMO_USERS: dict[str, tuple[str, str]] = {
    "admin": ("admin", "everything; reviews visits and makes assignments"),
    "lead.north": ("area_lead", "the North area"),
    "manager.leeds": ("manager", "Leeds Briggate"),
    "shopper": ("shopper", "the demo shopper: assignments, a returned visit"),
    "lead.south": ("area_lead", "the South area"),
    "shopper.amy": ("shopper", "history"),
    "shopper.ben": ("shopper", "history"),
    "shopper.cara": ("shopper", "history"),
}


@dataclass
class Demo:
    """What the seeding works with: the database, the settings, the clock, the dice."""

    db: Database
    settings: Settings
    now: datetime
    rng: random.Random
    people: dict[str, Principal]
    mystery: dict[str, Any]
    walkthrough: dict[str, Any]
    visits: int = 0

    def visit_id(self) -> str:
        """Return a random (version 4) id drawn from the seeded dice."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def seed_demo(
    db: Database,
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    seed: int = DEMO_SEED,
) -> str:
    """Seed the demo organisation and return what to print: the accounts and what to try."""
    started = time.perf_counter()
    if settings is None:
        from fieldobs.extensions import current_settings  # the CLI runs in an app context

        settings = current_settings()
    moment = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    with transaction(db):  # one commit: a demo half made is no demo
        stores = _organisation(db)
        demo = Demo(
            db,
            settings,
            moment,
            random.Random(seed),
            _users(db, stores),
            get_latest(db, "mystery-shop"),
            get_latest(db, "back-to-the-floor"),
        )
        _history(demo, stores)
        facts = _workflow(demo, stores)
    took = time.perf_counter() - started
    lines = [
        f"Demo organisation seeded in {took:.1f} s: 2 areas, {len(stores)} stores,"
        f" {demo.visits} visits over 12 months, {facts}.",
        *accounts_text(),
    ]
    return "\n".join(lines)


def accounts_text() -> list[str]:
    """Return the lines that tell how to sign in as each demo user."""
    return [
        f"Every demo user's password is {DEMO_PASSWORD!r}:",
        *(f"  {name:15} {role:10} {what}" for name, (role, what) in DEMO_USERS.items()),
        'Sign in:  curl -s -X POST "http://127.0.0.1:${PORT:-5000}/api/v1/auth/token"'
        " -H 'Content-Type: application/json'"
        f' -d \'{{"username": "admin", "password": "{DEMO_PASSWORD}"}}\'',
    ]


def already_seeded(db: Database) -> str:
    """Say that the demo was seeded earlier, and repeat its accounts."""
    names = {r[0] for r in db.execute("SELECT username FROM users").fetchall()}
    if not names & set(DEMO_USERS):
        return "demo: users exist already (not the demo's), nothing seeded"
    intro = "Demo data was seeded earlier (nothing changed); unless you changed them:"
    return "\n".join([intro, *accounts_text()])


# --- organisation and people ------------------------------------------------------------------


def _organisation(db: Database) -> dict[int, tuple[str, float, float]]:
    """Create the areas and stores; return each store's (area, quality, trend) by id.

    The new store is made last, so it has the highest id.
    """
    stores: dict[int, tuple[str, float, float]] = {}
    area_ids = {name: create_area(db, name)["id"] for name in DEMO_AREAS}
    placed = [(area, store) for area, rows in DEMO_AREAS.items() for store in rows]
    for area_name, (name, timezone, quality, trend) in [*placed, ("North", NEW_STORE)]:
        data = {"name": name, "area_id": area_ids[area_name], "timezone": timezone}
        stores[create_location(db, data)["id"]] = (area_name, quality, trend)
    return stores


def _users(db: Database, stores: dict[int, tuple[str, float, float]]) -> dict[str, Principal]:
    """Create the demo users with their scopes; return each as the API would see them."""
    area_ids = {
        name: int(db.execute("SELECT id FROM areas WHERE name = ?", [name]).fetchone()[0])
        for name in DEMO_AREAS
    }
    grants = {
        "lead.north": {"area_ids": [area_ids["North"]]},
        "lead.south": {"area_ids": [area_ids["South"]]},
        "manager.leeds": {"location_ids": [min(stores)]},
    }
    people: dict[str, Principal] = {}
    for username, (role, _) in DEMO_USERS.items():
        scope = grants.get(username, {})
        user = create_user(
            db,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            location_ids=scope.get("location_ids", ()),
            area_ids=scope.get("area_ids", ()),
        )
        people[username] = resolve_principal(db, user["id"], username, role)
    return people


# --- visits -----------------------------------------------------------------------------------

HISTORY_SHOPPERS = ("shopper.amy", "shopper.ben", "shopper.cara")
FREE_DAYS = 100  # the demo shopper's own history stops this long ago: no cooldown blocks them


def _history(demo: Demo, stores: dict[int, tuple[str, float, float]]) -> None:
    """Push 12 months of released mystery shops (two a month) and monthly walk-throughs."""
    admin = demo.people["admin"]
    leeds, new_store = min(stores), max(stores)
    for location_id, (area, quality, trend) in stores.items():
        if location_id == new_store:
            continue
        walker = demo.people["manager.leeds" if location_id == leeds else f"lead.{area.lower()}"]
        for days_ago in range(HISTORY_DAYS - 5, 7, -10):
            progress = 1 - days_ago / HISTORY_DAYS
            level = quality + trend * (progress - 0.5)
            pool = HISTORY_SHOPPERS + (("shopper",) if days_ago > FREE_DAYS else ())
            shopper = demo.people[demo.rng.choice(pool)]
            finished = _daytime(demo, days_ago)
            visit_id = _push(demo, shopper, demo.mystery, location_id, finished, level)
            review_visit(demo.db, admin, visit_id, action="release")
            if days_ago % 30 < 10:  # a walk-through a month, a little kinder than the shoppers
                walked = finished - timedelta(days=3)
                walk = _push(demo, walker, demo.walkthrough, location_id, walked, level + 0.06)
                review_visit(demo.db, admin, walk, action="release")
    amy = demo.people["shopper.amy"]
    only = _push(demo, amy, demo.mystery, new_store, _daytime(demo, 12), NEW_STORE[2])
    review_visit(demo.db, admin, only, action="release")


def _workflow(demo: Demo, stores: dict[int, tuple[str, float, float]]) -> str:
    """Fill the review queue, return one visit for correction, assign the demo shopper."""
    ids = sorted(stores)[:-1]  # not the new store: it keeps its single visit
    queue = ids[1:7]
    for index, location_id in enumerate(queue):
        shopper = demo.people[HISTORY_SHOPPERS[index % 3]]
        photos = [_photo(demo, n) for n in range(index % 3)] if index < 4 else []
        _push(demo, shopper, demo.mystery, location_id, _daytime(demo, 1 + index), 0.8, photos)
    me = demo.people["shopper"]
    returned = _push(demo, me, demo.mystery, ids[7], _daytime(demo, 3), 0.7, [_photo(demo, 9)])
    review_visit(
        demo.db,
        demo.people["admin"],
        returned,
        action="return",
        note="The queue photo is too dark to read the sign. Say how many people were waiting.",
        item_comments={"notes.queue_photo": "Too dark: retake it if you can."},
    )
    windows = [(-2 * 24, 20), (2 * 24, 9 * 24), (10 * 24, 20 * 24)]  # hours from now
    for location_id, (start, end) in zip(ids[8:], windows, strict=False):
        create_assignment(
            demo.db,
            {
                "shopper": "shopper",
                "location_id": location_id,
                "checklist": demo.mystery["slug"],
                "window_start": to_rfc3339(demo.now + timedelta(hours=start)),
                "window_end": to_rfc3339(demo.now + timedelta(hours=end)),
            },
            created_by=demo.people["admin"].user_id,
            policy=demo.settings.assignments,
            now=demo.now,
        )
    return (
        f"{len(queue)} visits waiting for review, 1 returned for correction,"
        f" {len(windows)} assignments for the demo shopper (one due within a day)"
    )


def _daytime(demo: Demo, days_ago: int) -> datetime:
    """Return a time during opening hours (UTC, roughly) that many days ago."""
    opening = demo.now.replace(hour=9) - timedelta(days=days_ago)
    return opening + timedelta(minutes=demo.rng.randint(0, 8 * 60))


def _push(
    demo: Demo,
    principal: Principal,
    checklist: dict[str, Any],
    location_id: int,
    finished: datetime,
    quality: float,
    photos: list[tuple[str, bytes]] | None = None,
) -> str:
    """Push one visit as its observer's phone would, with its photos; return its id."""
    photos = photos or []
    answers = _answers(checklist, max(0.05, min(0.99, quality)), demo.rng)
    if photos:
        answers.append({"item": "notes.queue_photo", "photos": [pid for pid, _ in photos]})
    visit_id = demo.visit_id()
    raw: dict[str, Any] = {
        "id": visit_id,
        "revision": 1,
        "checklist": {"slug": checklist["slug"], "version": checklist["version"]},
        "location_id": location_id,
        "started_at": to_rfc3339(finished - timedelta(minutes=demo.rng.randint(12, 40))),
        "finished_at": to_rfc3339(finished),
        "answers": answers,
        "photos": [
            {
                "id": pid,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "content_type": "image/jpeg",
                "item": "notes.queue_photo",
            }
            for pid, data in photos
        ],
    }
    # Demo history is older than the clock-skew window on purpose: trust its dates.
    policy = PushPolicy(past_tolerance=timedelta(days=HISTORY_DAYS + 30))
    commit_visit(
        demo.db, principal, prepare_visit(demo.db, principal, load_visit(raw)), policy=policy
    )
    for photo_id, data in photos:
        photo_service.put_photo(
            demo.db,
            demo.settings.data_dir,
            principal,
            visit_id,
            photo_id,
            io.BytesIO(data),
            len(data),
            settings=demo.settings.photos,
        )
    demo.visits += 1
    return visit_id


def _answers(checklist: dict[str, Any], quality: float, rng: random.Random) -> list[Any]:
    """Answer every value item, each good with probability `quality`."""
    answers = []
    for section in checklist["sections"]:
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
                value = rng.choice(_NOTES)
            answers.append({"item": item["id"], "value": value})
    return answers


_NOTES = (
    "Greeted at the door; the till queue moved quickly.",
    "Shelves tidy at the front, gaps near the back wall.",
    "Staff friendly but the offer was not mentioned.",
    "Asked about returns: clear answer, receipt offered by email.",
)


# --- photos -----------------------------------------------------------------------------------


def _photo(demo: Demo, number: int) -> tuple[str, bytes]:
    """Draw a queue at a till, as a phone would take it (with camera EXIF the server strips)."""
    rng = demo.rng
    img = Image.new("RGB", (800, 600), (rng.randint(200, 235), rng.randint(200, 225), 190))
    draw = ImageDraw.Draw(img)
    for shelf in range(4):  # shelves of goods along the back wall
        top = 60 + shelf * 90
        draw.rectangle((40, top + 60, 760, top + 70), fill=(120, 90, 60))
        for x in range(50, 750, 34):
            colour = (rng.randint(30, 230), rng.randint(30, 230), rng.randint(30, 230))
            draw.rectangle((x, top + rng.randint(10, 30), x + 26, top + 60), fill=colour)
    draw.rectangle((560, 420, 780, 590), fill=(70, 70, 80))  # the till
    draw.rectangle((600, 380, 740, 410), fill=(250, 250, 240))
    draw.text((615, 388), f"TILL {number % 4 + 1}", fill=(20, 20, 20))
    for person in range(rng.randint(2, 6)):  # the queue, faceless silhouettes
        x = 500 - person * 80
        draw.ellipse((x, 400, x + 40, 440), fill=(60, 60, 70))
        draw.rectangle((x - 5, 440, x + 45, 590), fill=(80, 80, 95))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "DemoPhone", "DP-1"  # Make, Model: stripped on upload
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=85, exif=exif.tobytes())
    return demo.visit_id(), buffer.getvalue()
