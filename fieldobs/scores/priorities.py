"""What to fix first: the checklist items that cost a location or an area the most points."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fieldobs.checklists.published import get_version
from fieldobs.people.scope import Principal
from fieldobs.scores.common import area_in_scope, location_in_scope, rounded
from fieldobs.scores.contribution import RANKED_KIND
from fieldobs.scores.periods import period_range
from fieldobs.scoring.stats import Moments
from fieldobs.storage.connection import Database, rows

DEFAULT_PRIORITY_MONTHS = 3


def item_catalogue(db: Database, kind: str) -> dict[str, dict[str, Any]]:
    """Return every item of a kind's checklists with its prompt and section (newest wording)."""
    catalogue: dict[str, dict[str, Any]] = {}
    for slug, version in db.execute(
        "SELECT slug, version FROM checklist_versions WHERE kind = ? ORDER BY version DESC, slug",
        [kind],
    ).fetchall():
        definition = get_version(db, slug, version)
        for section in definition["sections"]:
            for item in section["items"]:
                catalogue.setdefault(
                    item["id"],
                    {
                        "prompt": item["prompt"],
                        "section": section["id"],
                        "section_title": section["title"],
                        "critical": bool(item.get("critical")),
                    },
                )
    return catalogue


def _months(
    first: str | None, last: str | None, months: int | None, timezone: str, now: datetime | None
) -> list[str]:
    span = months or DEFAULT_PRIORITY_MONTHS
    return period_range("month", first, last, timezone=timezone, default_span=span, now=now)


def _priorities(
    db: Database, where: str, params: list[Any], kind: str, months: list[str], limit: int
) -> dict[str, Any]:
    span = [kind, months[0], months[-1]]
    visits = Moments(
        *db.execute(
            "SELECT total(n), total(total), total(total_sq) FROM score_rollups"
            f" WHERE {where} AND kind = ? AND grain = 'month' AND period BETWEEN ? AND ?",
            [*params, *span],
        ).fetchone()
    )
    found = rows(
        db.execute(
            "SELECT item_id, section_id, total(n) AS n, total(short) AS short,"
            " total(possible - earned) AS points_lost, total(cost) AS cost FROM item_rollups"
            f" WHERE {where} AND kind = ? AND month BETWEEN ? AND ? GROUP BY item_id",
            [*params, *span],
        )
    )
    catalogue = item_catalogue(db, kind)
    count = int(visits.n)
    items = []
    for row in sorted(found, key=lambda r: (-r["cost"], r["item_id"])):
        if row["cost"] <= 1e-9 or count == 0:
            continue
        about = catalogue.get(row["item_id"], {})
        n = int(row["n"])
        items.append(
            {
                "item": row["item_id"],
                "section": row["section_id"],
                "section_title": about.get("section_title"),
                "prompt": about.get("prompt"),
                "critical": about.get("critical", False),
                "n": n,
                "times_short": int(row["short"]),
                "frequency": rounded(row["short"] / n if n else None, 3),
                "points_lost": rounded(row["points_lost"], 2),
                "impact": rounded(row["cost"] / count, 2),
            }
        )
    mean = visits.mean
    return {
        "kind": kind,
        "from": months[0],
        "to": months[-1],
        "n": count,
        "mean": rounded(mean),
        "lost": rounded(None if mean is None else 100.0 - mean),
        "items": items[:limit],
    }


def location_priorities(
    db: Database,
    principal: Principal,
    location_id: int,
    *,
    kind: str = RANKED_KIND,
    first: str | None = None,
    last: str | None = None,
    months: int | None = None,
    limit: int = 10,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the checklist items that cost a location the most score points."""
    location = location_in_scope(db, principal, location_id)
    span = _months(first, last, months, location["timezone"], now)
    result = _priorities(db, "location_id = ?", [location_id], kind, span, limit)
    return {"location_id": location_id, **result}


def area_priorities(
    db: Database,
    principal: Principal,
    area_id: int,
    *,
    kind: str = RANKED_KIND,
    first: str | None = None,
    last: str | None = None,
    months: int | None = None,
    limit: int = 10,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return the checklist items that cost an area's locations the most score points."""
    area_in_scope(db, principal, area_id)
    span = _months(first, last, months, "UTC", now)
    where = "location_id IN (SELECT id FROM locations WHERE area_id = ? AND deleted_at IS NULL)"
    result = _priorities(db, where, [area_id], kind, span, limit)
    return {"area_id": area_id, **result}
