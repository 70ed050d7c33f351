"""A demo organisation to try the service with."""

from __future__ import annotations

from .accounts import create_user
from .db import Database
from .orgs import create_area, create_location

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
    for username, role, grants in users:
        create_user(
            db,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            location_ids=grants.get("location_ids", []),
            area_ids=grants.get("area_ids", []),
        )
    lines = [
        "Demo organisation seeded: 2 areas, 6 locations, one user per role.",
        f"Every demo user's password is {DEMO_PASSWORD!r}:",
        *(f"  {username:15} {role}" for username, role, _ in users),
        "Sign in:  curl -s -X POST http://127.0.0.1:5000/api/v1/auth/token"
        " -H 'Content-Type: application/json'"
        f' -d \'{{"username": "admin", "password": "{DEMO_PASSWORD}"}}\'',
    ]
    return "\n".join(lines)
