"""What the score reports share: scope checks, rounding shown figures, id lists for SQL."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fieldobs.errors import NotFound
from fieldobs.people.scope import Principal
from fieldobs.storage.connection import Database, one


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def location_in_scope(db: Database, principal: Principal, location_id: int) -> dict[str, Any]:
    principal.require_location(location_id)
    location = one(
        db.execute(
            "SELECT id, name, area_id, timezone FROM locations WHERE id = ? AND deleted_at IS NULL",
            [location_id],
        )
    )
    if location is None:
        raise NotFound("No such location.")
    return location


def area_in_scope(db: Database, principal: Principal, area_id: int) -> dict[str, Any]:
    principal.require_area(area_id)
    area = one(db.execute("SELECT id, name FROM areas WHERE id = ?", [area_id]))
    if area is None:
        raise NotFound("No such area.")
    return area


def json_ids(ids: Iterable[Any]) -> str:
    return json.dumps(sorted(ids))
