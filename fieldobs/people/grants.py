"""Change what a person may see: replace their store and area grants."""

from __future__ import annotations

from typing import Any

from fieldobs.errors import Invalid
from fieldobs.people.accounts import get_user
from fieldobs.people.scope import Role
from fieldobs.storage.connection import Database, transaction


def _missing(db: Database, table: str, ids: list[int]) -> list[int]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    found = {r[0] for r in db.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", ids)}
    return [i for i in ids if i not in found]


def set_scope(
    db: Database, user_id: int, *, location_ids: list[int], area_ids: list[int]
) -> dict[str, Any]:
    """Replace a user's grants, by the rules create_user applies (a manager needs a store…)."""
    locations, areas = sorted(set(location_ids)), sorted(set(area_ids))
    with transaction(db):
        role = get_user(db, user_id)["role"]
        problems: dict[str, list[str]] = {}
        if role == Role.MANAGER and not locations:
            problems["location_ids"] = ["a manager needs at least one location"]
        if role == Role.AREA_LEAD and not areas:
            problems["area_ids"] = ["an area lead needs at least one area"]
        if role in (Role.ADMIN, Role.AREA_LEAD) and locations:
            problems["location_ids"] = [f"a {role} is not scoped to locations"]
        if role in (Role.ADMIN, Role.MANAGER) and areas:
            problems["area_ids"] = [f"a {role} is not scoped to areas"]
        for field, table, ids in (
            ("location_ids", "locations", locations),
            ("area_ids", "areas", areas),
        ):
            if unknown := _missing(db, table, ids):
                problems.setdefault(field, []).extend(f"no such id: {i}" for i in unknown)
        if problems:
            raise Invalid("The scope is invalid.", fields=problems)
        db.execute("DELETE FROM user_locations WHERE user_id = ?", [user_id])
        db.execute("DELETE FROM user_areas WHERE user_id = ?", [user_id])
        db.conn.executemany(
            "INSERT INTO user_locations (user_id, location_id) VALUES (?, ?)",
            [(user_id, loc) for loc in locations],
        )
        db.conn.executemany(
            "INSERT INTO user_areas (user_id, area_id) VALUES (?, ?)",
            [(user_id, area) for area in areas],
        )
    return get_user(db, user_id)
