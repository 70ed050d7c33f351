"""Who is calling and what they may see: one place that decides scope for every endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from fieldobs.errors import NotFound
from fieldobs.storage.connection import Database


class Role(StrEnum):
    SHOPPER = "shopper"
    MANAGER = "manager"
    AREA_LEAD = "area_lead"
    ADMIN = "admin"


ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and the locations and areas in their scope (None: all)."""

    user_id: int
    username: str
    role: Role
    location_ids: frozenset[int] | None
    area_ids: frozenset[int] | None

    def sees_location(self, location_id: int) -> bool:
        """Tell whether this location is in scope."""
        return self.location_ids is None or location_id in self.location_ids

    def sees_area(self, area_id: int) -> bool:
        """Tell whether this area is in scope."""
        return self.area_ids is None or area_id in self.area_ids

    def require_location(self, location_id: int) -> None:
        """Raise 404 for a location outside scope, as for one that does not exist."""
        if not self.sees_location(location_id):
            raise NotFound("No such location.")

    def require_area(self, area_id: int) -> None:
        """Raise 404 for an area outside scope, as for one that does not exist."""
        if not self.sees_area(area_id):
            raise NotFound("No such area.")

    def location_clause(self, column: str) -> tuple[str, list[object]]:
        """Return an SQL condition and parameters restricting `column` to scope."""
        if self.location_ids is None:
            return "1", []
        return (
            f"{column} IN (SELECT value FROM json_each(?))",
            [json.dumps(sorted(self.location_ids))],
        )

    def area_clause(self, column: str) -> tuple[str, list[object]]:
        """Return an SQL condition and parameters restricting `column` to scope."""
        if self.area_ids is None:
            return "1", []
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps(sorted(self.area_ids))]

    @property
    def is_admin(self) -> bool:
        """Tell whether the caller is an admin."""
        return self.role is Role.ADMIN


def _ids(db: Database, sql: str, params: list[object]) -> frozenset[int]:
    return frozenset(int(row[0]) for row in db.execute(sql, params).fetchall())


def resolve_principal(db: Database, user_id: int, username: str, role: str) -> Principal:
    """Compute a user's scope from their role and their location and area grants."""
    who = Role(role)
    if who is Role.ADMIN:
        return Principal(user_id, username, who, None, None)
    granted_areas = _ids(db, "SELECT area_id FROM user_areas WHERE user_id = ?", [user_id])
    granted_locations = _ids(
        db, "SELECT location_id FROM user_locations WHERE user_id = ?", [user_id]
    )
    if who is Role.SHOPPER and not granted_areas and not granted_locations:
        # An unrestricted shopper may visit any store; their visits stay their own.
        return Principal(user_id, username, who, None, None)
    if who is Role.MANAGER:
        granted_areas = frozenset()
    area_locations = _ids(
        db,
        "SELECT id FROM locations WHERE area_id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(granted_areas))],
    )
    location_ids = granted_locations | area_locations
    location_areas = _ids(
        db,
        "SELECT DISTINCT area_id FROM locations WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(sorted(location_ids))],
    )
    return Principal(user_id, username, who, location_ids, granted_areas | location_areas)
