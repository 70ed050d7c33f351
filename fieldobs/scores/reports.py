"""Location scores over time: series, fair rankings, trends, what to fix first, the gap.

Every figure is read from the rollups (fieldobs/rollups.py) and carries the number of visits
behind it. The statistics (fieldobs/stats.py) work on counts, sums and sums of squares:

- Series: per period the mean visit score with a 90 % t-interval, mean +- t(0.95, n-1) s/sqrt(n),
  clipped to 0-100; no interval (null) below two visits.
- Ranking: `adjusted` shrinks a location's mean toward its area's mean by empirical Bayes,
  adjusted = w mean + (1 - w) area_mean with w = tau^2 / (tau^2 + sigma^2 / n); sigma^2 (visit to
  visit spread within a location) and tau^2 (spread of the locations' true levels) are
  estimated from the month's visits by the method of moments (one-way ANOVA). With fewer than
  10 degrees of freedom within, sigma^2 comes from the area's last 12 months. tau^2 <= 0 (the
  locations differ no more than chance would make them) shrinks every location to the area mean.
  Rankings are monthly and of mystery shops only.
- Trend: the least-squares slope of the visit scores over the last 6 months; improving or
  declining only when Benjamini-Hochberg at a 10 % false discovery rate over the area's
  locations keeps it (alone: the one-sided t test at 5 %), steady otherwise, null with fewer than
  3 periods with visits or fewer than 4 visits.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fieldobs.checklists.format import is_scored
from fieldobs.checklists.published import get_version
from fieldobs.errors import Invalid, NotFound
from fieldobs.people.scope import Principal
from fieldobs.scores.rollups import (
    TREND_KIND,
    TREND_PERIODS,
    current_period,
    period_span,
    period_start,
    shift_period,
)
from fieldobs.scoring.stats import (
    LEVEL,
    Moments,
    Shrinkage,
    TrendSums,
    classify_trends,
    estimate_shrinkage,
    mean_interval,
    slope_from_sums,
    t_critical,
)
from fieldobs.storage.connection import Database, one, rows
from fieldobs.timeutil import utcnow

RANKED_KIND = TREND_KIND  # walk-throughs are managers' own view: never ranked
MIN_WITHIN_DF = 10
WITHIN_LOOKBACK = 12
# Below this many areas a ranking looks its locations up one by one; above, it reads the month.
AREA_LOOKUPS = 8
DEFAULT_SPAN = {"week": 26, "month": 12}
MAX_SPAN = {"week": 520, "month": 120}
DEFAULT_PRIORITY_MONTHS = 3


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


# --- scope and arguments --------------------------------------------------------------------


def _location(db: Database, principal: Principal, location_id: int) -> dict[str, Any]:
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


def _area(db: Database, principal: Principal, area_id: int) -> dict[str, Any]:
    principal.require_area(area_id)
    area = one(db.execute("SELECT id, name FROM areas WHERE id = ?", [area_id]))
    if area is None:
        raise NotFound("No such area.")
    return area


def check_period(grain: str, value: str, field: str) -> str:
    """Return a period argument, or raise 422 naming the field."""
    try:
        period_start(grain, value)
    except ValueError as error:
        raise Invalid(f"{field} is not a {grain}.", fields={field: [str(error)]}) from error
    return value


def period_range(
    grain: str,
    first: str | None,
    last: str | None,
    *,
    timezone: str,
    default_span: int,
    now: datetime | None = None,
) -> list[str]:
    """Return the periods from..to; missing ends default to the current period and a span."""
    if last is not None:
        last = check_period(grain, last, "to")
    if first is not None:
        first = check_period(grain, first, "from")
    if last is None:
        last = current_period(grain, timezone, now or utcnow())
        if first is not None and first > last:
            last = first
    if first is None:
        first = shift_period(grain, last, 1 - default_span)
    if first > last:
        raise Invalid("from is after to.", fields={"from": ["must not be after to"]})
    # Checked before listing them: a range of centuries must not cost a loop of centuries.
    start, end = period_start(grain, first), period_start(grain, last)
    if grain == "week":
        count = (end - start).days // 7 + 1
    else:
        count = (end.year - start.year) * 12 + end.month - start.month + 1
    if count > MAX_SPAN[grain]:
        raise Invalid(
            f"At most {MAX_SPAN[grain]} periods at once.",
            fields={"from": [f"at most {MAX_SPAN[grain]} {grain}s before to"]},
        )
    return period_span(grain, first, last)


def _json_ids(ids: Iterable[Any]) -> str:
    return json.dumps(sorted(ids))


# --- series ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesQuery:
    """A series request the caller may make, with its periods resolved (see series_query)."""

    location_id: int
    kind: str
    grain: str
    periods: tuple[str, ...]

    @property
    def key(self) -> tuple[Any, ...]:
        """Return what, besides the data, the answer depends on (to key a cache with)."""
        return (self.location_id, self.kind, self.grain, self.periods[0], self.periods[-1])


def series_query(
    db: Database,
    principal: Principal,
    location_id: int,
    *,
    grain: str = "month",
    kind: str = RANKED_KIND,
    first: str | None = None,
    last: str | None = None,
    now: datetime | None = None,
) -> SeriesQuery:
    """Check that the caller may see the location (404) and resolve the periods (422)."""
    location = _location(db, principal, location_id)
    periods = period_range(
        grain, first, last, timezone=location["timezone"], default_span=DEFAULT_SPAN[grain], now=now
    )
    return SeriesQuery(location_id, kind, grain, tuple(periods))


def series_of(db: Database, query: SeriesQuery) -> dict[str, Any]:
    """Return a checked series request's mean per period with a 90 % interval and sections."""
    periods = query.periods
    key = [query.location_id, query.kind, query.grain, periods[0], periods[-1]]
    totals = {
        period: Moments(n, total, total_sq)
        for period, n, total, total_sq in db.execute(
            "SELECT period, n, total, total_sq FROM score_rollups WHERE location_id = ?"
            " AND kind = ? AND grain = ? AND period BETWEEN ? AND ?",
            key,
        )
    }
    sections: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for period, section, n, total in db.execute(
        "SELECT period, section_id, n, total FROM section_rollups WHERE location_id = ?"
        " AND kind = ? AND grain = ? AND period BETWEEN ? AND ?",
        key,
    ):
        sections[period][section] = {"n": n, "mean": _round(total / n)}
    series = []
    empty = Moments()
    for period in periods:
        moments = totals.get(period, empty)
        low, high = mean_interval(moments)
        series.append(
            {
                "period": period,
                "n": moments.n,
                "mean": _round(moments.mean),
                "low": _round(low),
                "high": _round(high),
                "sections": sections.get(period, {}),
            }
        )
    return {
        "location_id": query.location_id,
        "kind": query.kind,
        "period": query.grain,
        "from": periods[0],
        "to": periods[-1],
        "level": LEVEL,
        "series": series,
    }


# --- ranking --------------------------------------------------------------------------------

# A location's ranking figures, as trend_rollups stores them: the trend window's sums
# (count, periods, sx, sxx, sy, sxy, syy), then n, total and total_sq of the month ranked and
# of the month before.
Figures = tuple[float, ...]
_NOW, _BEFORE = 7, 10
_NO_FIGURES: Figures = (0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 0, 0.0, 0.0)
# (location ids, period) -> within-location sum of squares and df over a longer window
WithinFallback = Callable[[Sequence[int], str], tuple[float, int]]


def figures_from_cells(
    cells: Mapping[int, Mapping[str, Moments]], window: Sequence[str]
) -> dict[int, Figures]:
    """Turn location -> period -> moments over a trend window into ranking figures."""
    empty = Moments()
    found: dict[int, Figures] = {}
    for location_id, own in cells.items():
        sums = TrendSums.of([(float(x), own.get(p, empty)) for x, p in enumerate(window)])
        now, before = own.get(window[-1], empty), own.get(window[-2], empty)
        found[location_id] = (
            sums.count, sums.periods, sums.sx, sums.sxx, sums.sy, sums.sxy, sums.syy,
            now.n, now.total, now.total_sq, before.n, before.total, before.total_sq,
        )  # fmt: skip
    return found


def _within_fallback(
    db: Database, location_ids: Sequence[int], grain: str, at: str
) -> tuple[float, int]:
    """Return the within-location sum of squares and df over the last WITHIN_LOOKBACK periods."""
    row = db.execute(
        "SELECT total(CASE WHEN n > 1 THEN max(total_sq - total * total / n, 0) END),"
        " total(n - 1) FROM score_rollups WHERE kind = ? AND grain = ?"
        " AND period BETWEEN ? AND ? AND location_id IN (SELECT value FROM json_each(?))",
        [
            RANKED_KIND,
            grain,
            shift_period(grain, at, 1 - WITHIN_LOOKBACK),
            at,
            _json_ids(location_ids),
        ],
    ).fetchone()
    return float(row[0]), int(row[1])


def _area_shrinkage(
    members: Sequence[tuple[dict[str, Any], Figures]],
    offset: int,
    period: str,
    fallback: WithinFallback,
) -> Shrinkage | None:
    """Estimate an area's shrinkage for the month at `offset` in the figures."""
    moments = [Moments(int(f[offset]), f[offset + 1], f[offset + 2]) for _, f in members]
    found = estimate_shrinkage(moments, min_within_df=MIN_WITHIN_DF)
    if found is None or found.within_df >= MIN_WITHIN_DF:
        return found
    # Too few degrees of freedom within this month: sigma^2 from the area's longer window.
    longer = fallback([location["id"] for location, _ in members], period)
    return estimate_shrinkage(moments, fallback_within=longer, min_within_df=MIN_WITHIN_DF)


def _area_summary(area: dict[str, Any], shrinkage: Shrinkage | None) -> dict[str, Any]:
    if shrinkage is None:
        return {
            "area_id": area["id"],
            "name": area["name"],
            "n": 0,
            "mean": None,
            "within_sd": None,
            "between_sd": None,
            "locations_with_visits": 0,
        }
    return {
        "area_id": area["id"],
        "name": area["name"],
        "n": shrinkage.count,
        "mean": _round(shrinkage.grand_mean),
        "within_sd": _round(math.sqrt(shrinkage.within) if shrinkage.within is not None else None),
        "between_sd": _round(
            math.sqrt(max(0.0, shrinkage.between)) if shrinkage.between is not None else None
        ),
        "locations_with_visits": shrinkage.groups,
    }


def trend_window(grain: str, at: str) -> list[str]:
    """Return the TREND_PERIODS periods ending at `at`, oldest first."""
    return [shift_period(grain, at, step) for step in range(1 - TREND_PERIODS, 1)]


def _weighting(shrinkage: Shrinkage | None) -> tuple[float, float, float]:
    """Return (grand mean, tau^2, sigma^2), with tau^2 = 0 when nothing may be trusted."""
    if shrinkage is None:
        return 0.0, 0.0, 0.0
    between = shrinkage.between if shrinkage.between and shrinkage.within is not None else 0.0
    return shrinkage.grand_mean, max(0.0, between), shrinkage.within or 0.0


def _adjusted(n: float, total: float, weighting: tuple[float, float, float]) -> tuple[float, float]:
    """Return a location's shrunk mean and its own weight (see fieldobs.stats.Shrinkage)."""
    grand, between, within = weighting
    weight = between / (between + within / n) if between > 0 else 0.0
    return weight * (total / n) + (1.0 - weight) * grand, weight


def rank_locations(
    areas: Sequence[dict[str, Any]],
    locations: Sequence[dict[str, Any]],
    figures: Mapping[int, Figures],
    at: str,
    previous: str,
    fallback: WithinFallback,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rank locations from their figures; return the table and the area summaries.

    Each location is shrunk toward its own area's mean and its trend judged among its area's.
    Written as one plain loop, each row's dict built once: an all-areas table has thousands
    of rows, and a first (uncached) request pays for every step of it.
    """
    by_area: dict[int, list[tuple[dict[str, Any], Figures]]] = defaultdict(list)
    for location in locations:
        by_area[location["area_id"]].append((location, figures.get(location["id"], _NO_FIGURES)))
    entries: list[dict[str, Any]] = []
    summaries = []
    critical: dict[int, float] = {}
    for area in areas:
        members = by_area.get(area["id"], [])
        now = _area_shrinkage(members, _NOW, at, fallback) if members else None
        before = _area_shrinkage(members, _BEFORE, previous, fallback) if members else None
        summaries.append(_area_summary(area, now))
        weighting_now, weighting_before = _weighting(now), _weighting(before)
        tests = [
            slope_from_sums(TrendSums(int(f[0]), int(f[1]), f[2], f[3], f[4], f[5], f[6]))
            for _, f in members
        ]
        calls = classify_trends(tests)
        for (location, f), test, call in zip(members, tests, calls, strict=True):
            n, total, total_sq = f[_NOW], f[_NOW + 1], f[_NOW + 2]
            mean: float | None = None
            adjusted: float | None = None
            low: float | None = None
            high: float | None = None
            delta: float | None = None
            weight = 0.0
            if n > 0:
                mean = total / n
                adjusted, weight = _adjusted(n, total, weighting_now)
                if n >= 2:
                    df = int(n) - 1
                    if df not in critical:
                        critical[df] = t_critical(df)
                    spread = max(0.0, total_sq - total * total / n) / df
                    half = critical[df] * math.sqrt(spread / n)
                    low, high = round(max(0.0, mean - half), 1), round(min(100.0, mean + half), 1)
                if f[_BEFORE] > 0:
                    earlier, _ = _adjusted(f[_BEFORE], f[_BEFORE + 1], weighting_before)
                    delta = round(adjusted - earlier, 1)
                mean, adjusted, weight = round(mean, 1), round(adjusted, 1), round(weight, 2)
            entries.append(
                {
                    "location_id": location["id"],
                    "name": location["name"],
                    "area_id": location["area_id"],
                    "n": int(n),
                    "mean": mean,
                    "low": low,
                    "high": high,
                    "adjusted": adjusted,
                    "weight": weight,
                    "rank": None,
                    "delta": delta,
                    "trend": call,
                    "slope": None if test is None else round(test.slope, 2),
                }
            )
    return _table(entries), summaries


def _table(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rank by adjusted score (rounded to the tenth shown: equal when equal); unranked last."""
    ranked = [e for e in entries if e["adjusted"] is not None]
    ranked.sort(key=lambda e: (-e["adjusted"], -e["n"], e["name"], e["location_id"]))
    rank, previous_value = 0, None
    for position, entry in enumerate(ranked, start=1):
        if entry["adjusted"] != previous_value:
            rank, previous_value = position, entry["adjusted"]
        entry["rank"] = rank
    unranked = sorted(
        (e for e in entries if e["adjusted"] is None), key=lambda e: (e["name"], e["location_id"])
    )
    return ranked + unranked


def _ranking(
    db: Database, areas: Sequence[dict[str, Any]], grain: str, at: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read the areas' locations and their one trend_rollups row each, and rank them."""
    if grain != "month":
        raise Invalid("Rankings are monthly.", fields={"period": ["must be month"]})
    window = trend_window(grain, at)
    area_ids = _json_ids(area["id"] for area in areas)
    locations = rows(
        db.execute(
            "SELECT id, name, area_id FROM locations WHERE deleted_at IS NULL"
            " AND area_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [area_ids],
        )
    )
    scope, params = "", []
    if len(areas) < AREA_LOOKUPS:
        scope = " AND location_id IN (SELECT id FROM locations WHERE area_id IN"
        scope += " (SELECT value FROM json_each(?)))"
        params = [area_ids]
    figures: dict[int, Figures] = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT location_id, count, periods, sx, sxx, sy, sxy, syy, last_n, last_total,"
            " last_total_sq, prev_n, prev_total, prev_total_sq FROM trend_rollups"
            f" WHERE kind = ? AND period = ?{scope}",
            [RANKED_KIND, at, *params],
        )
    }

    def fallback(location_ids: Sequence[int], period: str) -> tuple[float, int]:
        return _within_fallback(db, location_ids, grain, period)

    return rank_locations(areas, locations, figures, at, window[-2], fallback)


def data_version(db: Database) -> tuple[Any, ...]:
    """Return what every ranking depends on: changes to it change this (one cheap read).

    The database's identity, the rollups' version (bumped with every counted change), the
    change feed's sequence (locations created, edited, moved or retired) and the area count.
    """
    return tuple(
        db.execute(
            "SELECT (SELECT value FROM server_meta WHERE key = 'database_id'),"
            " (SELECT version FROM score_state), (SELECT max(seq) FROM changes),"
            " (SELECT count(*) FROM areas)"
        ).fetchone()
    )


def resolve_at(grain: str, at: str | None, now: datetime | None = None) -> str:
    """Return the ranked period: `at` checked, or the current month (UTC)."""
    return _at(grain, at, now)


def _at(grain: str, at: str | None, now: datetime | None) -> str:
    if at is None:
        return current_period(grain, "UTC", now or utcnow())
    return check_period(grain, at, "at")


def area_ranking(
    db: Database,
    principal: Principal,
    area_id: int,
    *,
    grain: str = "month",
    at: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Rank an area's locations by their shrunk (adjusted) mystery-shop score for a period."""
    area = _area(db, principal, area_id)
    period = _at(grain, at, now)
    table, summaries = _ranking(db, [area], grain, period)
    return {
        "area_id": area_id,
        "period": period,
        "grain": grain,
        "level": LEVEL,
        "area": summaries[0],
        "locations": table,
    }


def overall_ranking(
    db: Database,
    principal: Principal,
    *,
    grain: str = "month",
    at: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Rank every location in the caller's areas; each is shrunk toward its own area's mean."""
    clause, params = principal.area_clause("id")
    areas = rows(db.execute(f"SELECT id, name FROM areas WHERE {clause} ORDER BY name", params))
    period = _at(grain, at, now)
    table, summaries = _ranking(db, areas, grain, period)
    return {
        "period": period,
        "grain": grain,
        "level": LEVEL,
        "areas": summaries,
        "locations": table,
    }


# --- what to fix first ----------------------------------------------------------------------


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
                "frequency": _round(row["short"] / n if n else None, 3),
                "points_lost": _round(row["points_lost"], 2),
                "impact": _round(row["cost"] / count, 2),
            }
        )
    mean = visits.mean
    return {
        "kind": kind,
        "from": months[0],
        "to": months[-1],
        "n": count,
        "mean": _round(mean),
        "lost": _round(None if mean is None else 100.0 - mean),
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
    location = _location(db, principal, location_id)
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
    _area(db, principal, area_id)
    span = _months(first, last, months, "UTC", now)
    where = "location_id IN (SELECT id FROM locations WHERE area_id = ? AND deleted_at IS NULL)"
    result = _priorities(db, where, [area_id], kind, span, limit)
    return {"area_id": area_id, **result}


# --- walk-through gap -----------------------------------------------------------------------


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
    location = _location(db, principal, location_id)
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
        [*span, _json_ids(items)],
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
                "mean": _round(_share(earned, possible)),
                "sections": {
                    section: _round(_share(e, p)) for section, (e, p) in sorted(by_section.items())
                },
            }
        walk, shop = sides["walkthrough"]["mean"], sides["mystery_shop"]["mean"]
        gap = None if walk is None or shop is None else round(walk - shop, 1)
        series.append({"period": month, **sides, "gap": gap})
    return {"location_id": location_id, "period": "month", "items": items, "series": series}


# --- observer calibration -------------------------------------------------------------------


def observer_calibration(
    db: Database,
    *,
    kind: str = RANKED_KIND,
    first: str | None = None,
    last: str | None = None,
) -> dict[str, Any]:
    """Return each observer's mean deviation from other observers at the same place and month.

    For each of an observer's visits, the consensus is the mean of the other observers' visits
    at that location in that month; cells without another observer are skipped. Admins only.
    """
    conditions, params = ["kind = ?", "score IS NOT NULL"], [kind]
    if first is not None:
        conditions.append("month >= ?")
        params.append(check_period("month", first, "from"))
    if last is not None:
        conditions.append("month <= ?")
        params.append(check_period("month", last, "to"))
    cells: dict[tuple[int, str], list[tuple[int, Moments]]] = defaultdict(list)
    for location_id, month, observer_id, n, total, total_sq in db.execute(
        "SELECT location_id, month, observer_id, count(*), sum(score), sum(score * score)"
        f" FROM score_visits WHERE {' AND '.join(conditions)}"
        " GROUP BY location_id, month, observer_id",
        params,
    ):
        cells[(location_id, month)].append((observer_id, Moments(n, total, total_sq)))
    deviations: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for members in cells.values():
        if len(members) < 2:
            continue
        everyone = Moments(
            sum(m.n for _, m in members),
            math.fsum(m.total for _, m in members),
            math.fsum(m.total_sq for _, m in members),
        )
        for observer_id, own in members:
            others_n = everyone.n - own.n
            consensus = (everyone.total - own.total) / others_n
            entry = deviations[observer_id]
            entry[0] += own.n
            entry[1] += own.total - own.n * consensus
            entry[2] += own.total_sq - 2 * consensus * own.total + own.n * consensus**2
            entry[3] += 1
    names = {
        row["id"]: row
        for row in rows(
            db.execute(
                "SELECT id, username, display_name FROM users WHERE id IN"
                " (SELECT value FROM json_each(?))",
                [_json_ids(deviations)],
            )
        )
    }
    observers: list[dict[str, Any]] = []
    for observer_id, (n, total, total_sq, cell_count) in deviations.items():
        moments = Moments(int(n), total, total_sq)
        low, high = mean_interval(moments, lower=-100.0, upper=100.0)
        tendency = None
        if low is not None and high is not None:
            tendency = "lenient" if low > 0 else "harsh" if high < 0 else "in_line"
        user = names.get(observer_id, {})
        observers.append(
            {
                "observer_id": observer_id,
                "username": user.get("username"),
                "name": user.get("display_name"),
                "n": moments.n,
                "cells": cell_count,
                "deviation": _round(moments.mean),
                "low": _round(low),
                "high": _round(high),
                "tendency": tendency,
            }
        )
    observers.sort(key=lambda o: (-abs(o["deviation"] or 0.0), o["observer_id"]))
    return {"kind": kind, "period": "month", "level": LEVEL, "observers": observers}
