"""A store's page: score over time, the walk-through gap, what to fix first, its visits."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fieldobs.dashboards.common import Filters, rounded
from fieldobs.people.anonymity import is_store_side, round_to_hour
from fieldobs.people.orgs import get_location
from fieldobs.people.scope import Principal
from fieldobs.scores import location_gap, location_priorities, series_of, series_query
from fieldobs.scores.periods import shift_period
from fieldobs.scoring.stats import Moments, t_critical
from fieldobs.storage.connection import Database
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import parse_rfc3339
from fieldobs.visits.read import visibility_clause

STATUSES = ("awaiting_photos", "submitted", "released", "returned")
VISITS_PER_PAGE = 20
# Newest first; the id breaks ties. Its cursors are sealed (fieldobs/storage/paging.py).
STORE_VISITS = Keyset("console_store_visits", ("observed_at", "id"), descending=True)
GAP_MONTHS = 6


def local_time(timestamp: str | None, timezone: str, *, to_hour: bool) -> str | None:
    """Return a UTC timestamp as the store's local date and time (to the hour when floored)."""
    if timestamp is None:
        return None
    moment = parse_rfc3339(timestamp).astimezone(ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:00" if to_hour else "%Y-%m-%d %H:%M")


def gap_interval(
    db: Database, location_id: int, last_month: str, months: int = GAP_MONTHS
) -> dict[str, Any]:
    """Return walk-through minus mystery-shop mean visit score over recent months, 90 % Welch."""
    first = shift_period("month", last_month, 1 - months)
    sides: dict[str, Moments] = {}
    for kind, n, total, total_sq in db.execute(
        "SELECT kind, total(n), total(total), total(total_sq) FROM score_rollups"
        " WHERE location_id = ? AND grain = 'month' AND period BETWEEN ? AND ? GROUP BY kind",
        [location_id, first, last_month],
    ):
        sides[kind] = Moments(int(n), total, total_sq)
    walk, shop = sides.get("walkthrough", Moments()), sides.get("mystery_shop", Moments())
    result: dict[str, Any] = {
        "from": first,
        "to": last_month,
        "walkthrough": {"n": walk.n, "mean": rounded(walk.mean)},
        "mystery_shop": {"n": shop.n, "mean": rounded(shop.mean)},
        "gap": None,
        "low": None,
        "high": None,
    }
    if walk.mean is None or shop.mean is None:
        return result
    gap = walk.mean - shop.mean
    result["gap"] = rounded(gap)
    if walk.variance is None or shop.variance is None:
        return result
    a, b = walk.variance / walk.n, shop.variance / shop.n
    if a + b <= 0:
        return result
    # Welch-Satterthwaite degrees of freedom for two groups with unequal spreads.
    df = (a + b) ** 2 / (a * a / (walk.n - 1) + b * b / (shop.n - 1))
    half = t_critical(df) * math.sqrt(a + b)
    result["low"], result["high"] = rounded(gap - half), rounded(gap + half)
    return result


def store_visits(
    db: Database,
    principal: Principal,
    location_id: int,
    *,
    timezone: str,
    kind: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    per_page: int | None = None,
) -> dict[str, Any]:
    """Return a page of a store's visits the caller may see, newest first, and the next cursor."""
    clause, params = visibility_clause(principal)
    conditions, values = [clause, "visits.location_id = ?"], [*params, location_id]
    if kind:
        conditions.append("visits.kind = ?")
        values.append(kind)
    if status:
        conditions.append("visits.status = ?")
        values.append(status)
    per_page = per_page or VISITS_PER_PAGE
    page, next_cursor, has_more = STORE_VISITS.fetch(
        db,
        "SELECT id, kind, status, checklist_slug, checklist_version, observed_at, score"
        " FROM visits",
        conditions,
        values,
        limit=per_page,
        cursor=cursor,
    )
    store_side = is_store_side(principal)
    visits = []
    for row in page:
        floored = store_side and row["kind"] == "mystery_shop"
        observed = round_to_hour(row["observed_at"]) if floored else row["observed_at"]
        visits.append(
            {
                **row,
                "observed_at": observed,
                "local": local_time(observed, timezone, to_hour=floored),
                "score": rounded(row["score"]),
            }
        )
    return {
        "visits": visits,
        "first_page": cursor is None,
        "next_cursor": next_cursor if has_more else None,
    }


def store_view(
    db: Database,
    principal: Principal,
    location_id: int,
    filters: Filters,
    *,
    visit_kind: str | None,
    visit_status: str | None,
    cursor: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return everything the store page shows (404 outside the caller's scope)."""
    location = get_location(db, location_id, principal)
    last = filters.period
    first = shift_period(filters.grain, last, -11 if filters.grain == "month" else -25)
    asked = series_query(
        db, principal, location_id, grain=filters.grain, kind=filters.kind, first=first, last=last
    )
    series = series_of(db, asked)
    month = last if filters.grain == "month" else None
    gap = location_gap(db, principal, location_id, last=month, now=now) if month else None
    priorities = location_priorities(
        db, principal, location_id, kind=filters.kind, last=month, months=3, limit=10, now=now
    )
    area = db.execute("SELECT name FROM areas WHERE id = ?", [location["area_id"]]).fetchone()
    return {
        "location": {**location, "area_name": area[0] if area else ""},
        "series": series,
        "gap": gap,
        "gap_interval": gap_interval(db, location_id, month) if month else None,
        "priorities": priorities,
        "visits": store_visits(
            db,
            principal,
            location_id,
            timezone=location["timezone"],
            kind=visit_kind,
            status=visit_status,
            cursor=cursor,
        ),
        "sections": sorted({s for p in series["series"] for s in p["sections"]}),
    }


def json_ids(ids: list[int]) -> str:
    """Return ids as the JSON array json_each reads."""
    return json.dumps(sorted(ids))
