"""Which visits count, and what one counted visit adds to the rollups.

A mystery shop counts once released; a walk-through once submitted (or released). A visit
counts once, with its latest revision.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldobs.checklists.published import get_version
from fieldobs.scores.periods import month_shift
from fieldobs.storage.connection import Database

KINDS = ("mystery_shop", "walkthrough")
TREND_KIND = "mystery_shop"  # the kind that is ranked, so the only one trend_rollups keep
TREND_PERIODS = 6  # months in a trend window
RANKED_KIND = TREND_KIND  # walk-throughs are managers' own view: never ranked

# The SQL twin of `counts`: rebuild and the benchmark's plain query select with it.
COUNTED_SQL = (
    "((visits.kind = 'mystery_shop' AND visits.status = 'released')"
    " OR (visits.kind = 'walkthrough' AND visits.status IN ('submitted', 'released')))"
)


def counts(row: Mapping[str, Any]) -> bool:
    """Tell whether a visit row counts towards scores in its current status."""
    if row["kind"] == "mystery_shop":
        return bool(row["status"] == "released")
    return row["status"] in ("submitted", "released")


# --- one visit's contribution ---------------------------------------------------------------


# (item id, section id, earned, possible, short 0/1, cost in visit-score points)
ItemShare = tuple[str, str, float, float, int, float]


@dataclass(frozen=True)
class Contribution:
    """What one counted visit adds to the rollups."""

    visit_id: str
    location_id: int
    observer_id: int
    kind: str
    week: str
    month: str
    score: float | None
    sections: tuple[tuple[str, float], ...]
    items: tuple[ItemShare, ...]


# A checklist version's section weights and whether a critical failure zeroes the whole visit.
Scheme = tuple[dict[str, float], bool]


def scheme_of(definition: Mapping[str, Any]) -> Scheme:
    """Return what item_shares needs from a checklist definition."""
    weights = {section["id"]: float(section["weight"]) for section in definition["sections"]}
    return weights, definition.get("critical_zeroes", "section") == "visit"


def item_shares(breakdown: Mapping[str, Any], scheme: Scheme) -> list[ItemShare]:
    """Split a visit's lost points over its items, in visit-score points.

    The visit score is the section-weighted mean of 100 x earned / possible, so an item's
    shortfall costs 100 x w_s / (W x possible_s) score points per item point, where W sums
    the weights of the scored sections; the costs of all items add up to 100 - score. When a
    critical failure zeroed a section, the section's whole loss is charged (shared equally)
    to the failed critical item(s): fixing anything else would not have changed that visit.
    """
    weights, whole_visit = scheme
    possible = {s["id"]: s["possible"] for s in breakdown["sections"] if s["possible"] > 0}
    total_weight = sum(weights.get(section_id, 0.0) for section_id in possible)
    if total_weight <= 0:
        return []
    by_section: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    culprits: dict[str, list[str]] = defaultdict(list)
    for item in breakdown["items"]:
        if item["applicable"]:
            by_section[item["section"]].append(item)
            if item["critical"] and item["failed"]:
                culprits[item["section"]].append(item["item"])
    everywhere = [name for names in culprits.values() for name in names]
    blame: dict[str, float] = defaultdict(float)
    shares: list[ItemShare] = []
    for section_id, items in by_section.items():
        if section_id not in possible:
            continue
        factor = 100.0 * weights.get(section_id, 0.0) / (total_weight * possible[section_id])
        blamed = everywhere if whole_visit else culprits.get(section_id)
        if blamed:
            lost = sum(i["possible"] - i["earned"] for i in items) * factor / len(blamed)
            for name in blamed:
                blame[name] += lost
            # The loss is the culprits', added to them below.
            shares.extend(
                (i["item"], section_id, i["earned"], i["possible"], 0, 0.0) for i in items
            )
            continue
        for item in items:
            earned, points = item["earned"], item["possible"]
            short = 1 if earned < points - 1e-9 else 0
            shares.append(
                (item["item"], section_id, earned, points, short, (points - earned) * factor)
            )
    if blame:
        shares = [
            (share[0], share[1], share[2], share[3], 1, share[5] + blame[share[0]])
            if share[0] in blame
            else share
            for share in shares
        ]
    return shares


def _scheme(
    db: Database, cache: dict[tuple[str, int], Scheme] | None, row: Mapping[str, Any]
) -> Scheme:
    key = (row["checklist_slug"], int(row["checklist_version"]))
    if cache is None:
        return scheme_of(get_version(db, *key))
    if key not in cache:
        cache[key] = scheme_of(get_version(db, *key))
    return cache[key]


def contribution(
    db: Database,
    row: Mapping[str, Any],
    periods: tuple[str, str],
    schemes: dict[tuple[str, int], Scheme] | None = None,
) -> Contribution:
    """Return what a counted visit row adds to its (week, month)."""
    return _contribution(row, periods, _scheme(db, schemes, row))


def _contribution(row: Mapping[str, Any], periods: tuple[str, str], scheme: Scheme) -> Contribution:
    return make_contribution(
        row["id"],
        row["location_id"],
        row["observer_id"],
        row["kind"],
        row["score"],
        row["section_scores"],
        row["breakdown"],
        periods,
        scheme,
    )


def make_contribution(
    visit_id: str,
    location_id: int,
    observer_id: int,
    kind: str,
    score: float | None,
    section_scores: str,
    breakdown_text: str,
    periods: tuple[str, str],
    scheme: Scheme,
) -> Contribution:
    breakdown = json.loads(breakdown_text)
    # The breakdown carries the section scores too: one JSON parse instead of two.
    listed = breakdown["sections"] if "sections" in breakdown else json.loads(section_scores)
    return Contribution(
        visit_id=visit_id,
        location_id=int(location_id),
        observer_id=int(observer_id),
        kind=kind,
        week=periods[0],
        month=periods[1],
        score=None if score is None else float(score),
        sections=tuple(
            (section["id"], float(section["score"]))
            for section in listed
            if section["score"] is not None
        ),
        items=tuple(item_shares(breakdown, scheme)) if breakdown.get("items") else (),
    )


def trend_rows(
    location: int, month: str, n: int, total: float, total_sq: float, periods: int
) -> list[tuple[Any, ...]]:
    """Return what one month's moments add to the trend windows that contain it."""
    found = []
    for k in range(TREND_PERIODS):
        x = TREND_PERIODS - 1 - k  # its position in the window ending k months later
        last, prev = (1 if k == 0 else 0), (1 if k == 1 else 0)
        found.append(
            (
                TREND_KIND,
                month_shift(month, k),
                location,
                n,
                periods,
                n * x,
                n * x * x,
                total,
                total * x,
                total_sq,
                n * last,
                total * last,
                total_sq * last,
                n * prev,
                total * prev,
                total_sq * prev,
            )
        )
    return found
