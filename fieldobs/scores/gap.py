"""The walk-through gap: managers' own view against mystery shoppers', on the shared items."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from fieldobs.checklists.format import is_scored
from fieldobs.checklists.published import get_version
from fieldobs.people.scope import Principal
from fieldobs.scores.common import json_ids, location_in_scope, rounded
from fieldobs.scores.periods import DEFAULT_SPAN, period_range
from fieldobs.storage.connection import Database


def shared_items(db: Database) -> list[str]:
    """Return the scored item ids that a walk-through and a mystery-shop checklist share."""

    def scored(kind: str) -> set[str]:
        found: set[str] = set()
        for slug, version in db.execute(
            "SELECT slug, max(version) FROM checklist_versions WHERE kind = ? GROUP BY slug",
            [kind],
        ).fetchall():
            for section in get_version(db, slug, version)["sections"]:
                found.update(item["id"] for item in section["items"] if is_scored(item))
        return found

    return sorted(scored("walkthrough") & scored("mystery_shop"))


def _share(earned: float, possible: float) -> float | None:
    return 100.0 * earned / possible if possible > 0 else None


def location_gap(
    db: Database,
    principal: Principal,
    location_id: int,
    *,
    first: str | None = None,
    last: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Compare managers' walk-throughs with mystery shops, month by month, on shared items."""
    location = location_in_scope(db, principal, location_id)
    months = period_range(
        "month",
        first,
        last,
        timezone=location["timezone"],
        default_span=DEFAULT_SPAN["month"],
        now=now,
    )
    items = shared_items(db)
    span = [location_id, months[0], months[-1]]
    visits = {
        (kind, period): n
        for kind, period, n in db.execute(
            "SELECT kind, period, n FROM score_rollups WHERE location_id = ? AND grain = 'month'"
            " AND period BETWEEN ? AND ?",
            span,
        )
    }
    points: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(dict)
    for kind, month, section, earned, possible in db.execute(
        "SELECT kind, month, section_id, total(earned), total(possible) FROM item_rollups"
        " WHERE location_id = ? AND month BETWEEN ? AND ?"
        " AND item_id IN (SELECT value FROM json_each(?)) GROUP BY kind, month, section_id",
        [*span, json_ids(items)],
    ):
        points[(kind, month)][section] = [earned, possible]
    series = []
    for month in months:
        sides: dict[str, dict[str, Any]] = {}
        for kind in ("walkthrough", "mystery_shop"):
            by_section = points.get((kind, month), {})
            earned = math.fsum(e for e, _ in by_section.values())
            possible = math.fsum(p for _, p in by_section.values())
            sides[kind] = {
                "n": visits.get((kind, month), 0),
                "mean": rounded(_share(earned, possible)),
                "sections": {
                    section: rounded(_share(e, p)) for section, (e, p) in sorted(by_section.items())
                },
            }
        walk, shop = sides["walkthrough"]["mean"], sides["mystery_shop"]["mean"]
        gap = None if walk is None or shop is None else round(walk - shop, 1)
        series.append({"period": month, **sides, "gap": gap})
    return {"location_id": location_id, "period": "month", "items": items, "series": series}
