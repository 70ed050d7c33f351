"""The walk-through gap: managers' own view against mystery shoppers', on the shared items."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime
from typing import Any

from fieldobs.checklists.format import is_scored
from fieldobs.checklists.published import get_version
from fieldobs.people.scope import Principal
from fieldobs.scores.common import json_ids, location_in_scope, rounded
from fieldobs.scores.periods import DEFAULT_SPAN, period_range
from fieldobs.scoring.stats import LEVEL, RatioSums, ratio_difference, t_critical
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


def _shared_points(
    db: Database, location_id: int, months: list[str], items: list[str]
) -> dict[tuple[str, str], RatioSums]:
    """Return, per kind and month, each counted visit's points on the shared items."""
    wanted = set(items)
    found: dict[tuple[str, str], RatioSums] = defaultdict(RatioSums)
    for kind, month, breakdown in db.execute(
        "SELECT score_visits.kind, score_visits.month, visits.breakdown FROM score_visits"
        " JOIN visits ON visits.id = score_visits.visit_id"
        " WHERE score_visits.kind IN ('walkthrough', 'mystery_shop')"
        " AND score_visits.location_id = ? AND score_visits.month BETWEEN ? AND ?",
        [location_id, months[0], months[-1]],
    ):
        shared = [
            item
            for item in json.loads(breakdown or "{}").get("items", [])
            if item["applicable"] and item["item"] in wanted
        ]
        possible = math.fsum(item["possible"] for item in shared)
        if possible > 0:
            earned = math.fsum(item["earned"] for item in shared)
            found[(kind, month)].add(100.0 * earned, possible)
    return found


def _share(earned: float, possible: float) -> float | None:
    return 100.0 * earned / possible if possible > 0 else None


def _side(points: RatioSums, by_section: dict[str, list[float]]) -> dict[str, Any]:
    """Return one side of a month: its visits, their mean share with a 90 % interval, sections."""
    low = high = None
    variance = points.variance()
    if points.ratio is not None and variance is not None:
        half = t_critical(points.n - 1) * math.sqrt(variance)
        low, high = max(0.0, points.ratio - half), min(100.0, points.ratio + half)
    return {
        "n": points.n,
        "mean": rounded(points.ratio),
        "low": rounded(low),
        "high": rounded(high),
        "sections": {
            section: rounded(_share(e, p)) for section, (e, p) in sorted(by_section.items())
        },
    }


def location_gap(
    db: Database,
    principal: Principal,
    location_id: int,
    *,
    first: str | None = None,
    last: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Compare managers' walk-throughs with mystery shops, month by month, on shared items.

    Each side's mean is the share of the shared items' points earned, over the visits that
    had one applicable; its 90 % interval treats that share as a ratio of sums over visits
    (linearised variance, t with n - 1 df), and the gap's interval is Welch's for the
    difference of the two ratios. No interval with fewer than two visits on a side.
    """
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
    points = _shared_points(db, location_id, months, items)
    sections: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(dict)
    for kind, month, section, earned, possible in db.execute(
        "SELECT kind, month, section_id, total(earned), total(possible) FROM item_rollups"
        " WHERE location_id = ? AND month BETWEEN ? AND ?"
        " AND item_id IN (SELECT value FROM json_each(?)) GROUP BY kind, month, section_id",
        [location_id, months[0], months[-1], json_ids(items)],
    ):
        sections[(kind, month)][section] = [earned, possible]
    series = []
    empty = RatioSums()
    for month in months:
        walk = points.get(("walkthrough", month), empty)
        shop = points.get(("mystery_shop", month), empty)
        gap, low, high = ratio_difference(walk, shop)
        series.append(
            {
                "period": month,
                "walkthrough": _side(walk, sections.get(("walkthrough", month), {})),
                "mystery_shop": _side(shop, sections.get(("mystery_shop", month), {})),
                "gap": rounded(gap),
                "low": rounded(low),
                "high": rounded(high),
            }
        )
    return {
        "location_id": location_id,
        "period": "month",
        "level": LEVEL,
        "items": items,
        "series": series,
    }
