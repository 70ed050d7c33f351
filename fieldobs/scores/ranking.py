"""Fair rankings: each location's mean shrunk toward its area's, ranked, with deltas and trends.

`adjusted` shrinks a location's mean toward its area's mean by empirical Bayes,
adjusted = w mean + (1 - w) area_mean with w = tau^2 / (tau^2 + sigma^2 / n); sigma^2 (visit to
visit spread within a location) and tau^2 (spread of the locations' true levels) are estimated
from the month's visits by the method of moments (one-way ANOVA). With fewer than 10 degrees of
freedom within, sigma^2 comes from the area's last 12 months. tau^2 <= 0 (the locations differ
no more than chance would make them) shrinks every location to the area mean. Rankings are
monthly and of mystery shops only.

Rank ranges (fieldobs.scores.rank_ranges): each ranked location also gets the 90 % interval of
its rank under the posterior, from a seeded simulation. The table is ordered by `adjusted` (the
posterior mean); every location whose range reaches 1 (and every one above it) is tied for the
top. A location with fewer than `min_visits` visits in the month is listed, without a rank, as
not having enough visits.

Trend: the least-squares slope of the visit scores over the last 6 months; improving or
declining only when Benjamini-Hochberg at a 10 % false discovery rate over the area's locations
keeps it (alone: the one-sided t test at 5 %), steady otherwise, null with fewer than 3 periods
with visits or fewer than 4 visits.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from fieldobs.errors import Invalid
from fieldobs.people.scope import Principal
from fieldobs.scores.common import area_in_scope, json_ids, rounded
from fieldobs.scores.contribution import RANKED_KIND, TREND_PERIODS
from fieldobs.scores.periods import resolve_at, shift_period
from fieldobs.scores.rank_ranges import DEFAULT_MIN_VISITS, rank_table
from fieldobs.scoring.stats import (
    LEVEL,
    Moments,
    Shrinkage,
    TrendSums,
    classify_trends,
    estimate_shrinkage,
    mean_interval,
    slope_from_sums,
)
from fieldobs.storage.connection import Database, rows

MIN_WITHIN_DF = 10
WITHIN_LOOKBACK = 12
# Below this many areas a ranking looks its locations up one by one; above, it reads the month.
AREA_LOOKUPS = 8


class Figures(NamedTuple):
    """A location's ranking figures, in the column order of its trend_rollups row."""

    # A named tuple: a ranking reads one per location, straight from a row.
    window_n: int = 0  # the trend window's sums (see fieldobs.scoring.stats.TrendSums)
    window_periods: int = 0
    sx: float = 0.0
    sxx: float = 0.0
    sy: float = 0.0
    sxy: float = 0.0
    syy: float = 0.0
    last_n: int = 0  # the month ranked
    last_total: float = 0.0
    last_total_sq: float = 0.0
    prev_n: int = 0  # the month before
    prev_total: float = 0.0
    prev_total_sq: float = 0.0

    @property
    def trend(self) -> TrendSums:
        """Return the trend window's sums."""
        return TrendSums(
            int(self.window_n),
            int(self.window_periods),
            self.sx,
            self.sxx,
            self.sy,
            self.sxy,
            self.syy,
        )

    @property
    def last(self) -> Moments:
        """Return the moments of the month ranked."""
        return Moments(int(self.last_n), self.last_total, self.last_total_sq)

    @property
    def prev(self) -> Moments:
        """Return the moments of the month before."""
        return Moments(int(self.prev_n), self.prev_total, self.prev_total_sq)


NO_FIGURES = Figures()
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
        found[location_id] = Figures(
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
            json_ids(location_ids),
        ],
    ).fetchone()
    return float(row[0]), int(row[1])


def _area_shrinkage(
    location_ids: Sequence[int],
    moments: Sequence[Moments],
    period: str,
    fallback: WithinFallback,
) -> Shrinkage | None:
    """Estimate an area's shrinkage for one month from its locations' moments."""
    found = estimate_shrinkage(moments, min_within_df=MIN_WITHIN_DF)
    if found is None or found.within_df >= MIN_WITHIN_DF:
        return found
    # Too few degrees of freedom within this month: sigma^2 from the area's longer window.
    longer = fallback(location_ids, period)
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
        "mean": rounded(shrinkage.grand_mean),
        "within_sd": rounded(math.sqrt(shrinkage.within) if shrinkage.within is not None else None),
        "between_sd": rounded(
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
    """Return a location's shrunk mean and its own weight (see fieldobs.scoring.stats.Shrinkage)."""
    grand, between, within = weighting
    weight = between / (between + within / n) if between > 0 else 0.0
    return weight * (total / n) + (1.0 - weight) * grand, weight


def _posterior_sd(n: float, weight: float, weighting: tuple[float, float, float]) -> float:
    """Return the standard deviation of a location's true level given its n visits.

    The posterior variance is w sigma^2 / n (= 1 / (1 / tau^2 + n / sigma^2)); zero when the
    location is given the area mean outright (w = 0).
    """
    return math.sqrt(weight * weighting[2] / n)


def rank_locations(
    areas: Sequence[dict[str, Any]],
    locations: Sequence[dict[str, Any]],
    figures: Mapping[int, Figures],
    at: str,
    previous: str,
    fallback: WithinFallback,
    min_visits: int = DEFAULT_MIN_VISITS,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rank locations from their figures; return the table and the area summaries.

    Each location is shrunk toward its own area's mean and its trend judged among its area's.
    Locations with fewer than `min_visits` visits in the month are listed without a rank.
    Written as one plain loop, each row's dict built once: an all-areas table has thousands
    of rows, and a first (uncached) request pays for every step of it.
    """
    by_area: dict[int, list[tuple[dict[str, Any], Figures]]] = defaultdict(list)
    for location in locations:
        by_area[location["area_id"]].append((location, figures.get(location["id"], NO_FIGURES)))
    entries: list[dict[str, Any]] = []
    posteriors: dict[int, tuple[float, float]] = {}
    summaries = []
    for area in areas:
        members = by_area.get(area["id"], [])
        now = before = None
        if members:
            ids = [location["id"] for location, _ in members]
            now = _area_shrinkage(ids, [f.last for _, f in members], at, fallback)
            before = _area_shrinkage(ids, [f.prev for _, f in members], previous, fallback)
        summaries.append(_area_summary(area, now))
        weighting_now, weighting_before = _weighting(now), _weighting(before)
        tests = [slope_from_sums(f.trend) for _, f in members]
        calls = classify_trends(tests)
        for (location, f), test, call in zip(members, tests, calls, strict=True):
            n, total = f.last_n, f.last_total
            mean: float | None = None
            adjusted: float | None = None
            low: float | None = None
            high: float | None = None
            delta: float | None = None
            weight = 0.0
            if n > 0:
                mean = total / n
                adjusted, weight = _adjusted(n, total, weighting_now)
                posteriors[location["id"]] = (adjusted, _posterior_sd(n, weight, weighting_now))
                low, high = mean_interval(f.last)
                if f.prev_n > 0:
                    earlier, _ = _adjusted(f.prev_n, f.prev_total, weighting_before)
                    delta = round(adjusted - earlier, 1)
                mean, adjusted, weight = round(mean, 1), round(adjusted, 1), round(weight, 2)
            entries.append(
                {
                    "location_id": location["id"],
                    "name": location["name"],
                    "area_id": location["area_id"],
                    "n": int(n),
                    "mean": mean,
                    "low": rounded(low),
                    "high": rounded(high),
                    "adjusted": adjusted,
                    "weight": weight,
                    "rank": None,
                    "rank_low": None,
                    "rank_high": None,
                    "tied_for_top": False,
                    "unranked": None,
                    "delta": delta,
                    "trend": call,
                    "slope": None if test is None else round(test.slope, 2),
                }
            )
    return rank_table(entries, posteriors, min_visits), summaries


def _ranking(
    db: Database, areas: Sequence[dict[str, Any]], grain: str, at: str, min_visits: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read the areas' locations and their one trend_rollups row each, and rank them."""
    if grain != "month":
        raise Invalid("Rankings are monthly.", fields={"period": ["must be month"]})
    window = trend_window(grain, at)
    area_ids = json_ids(area["id"] for area in areas)
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
        row[0]: Figures._make(row[1:])
        for row in db.execute(
            "SELECT location_id, count, periods, sx, sxx, sy, sxy, syy, last_n, last_total,"
            " last_total_sq, prev_n, prev_total, prev_total_sq FROM trend_rollups"
            f" WHERE kind = ? AND period = ?{scope}",
            [RANKED_KIND, at, *params],
        )
    }

    def fallback(location_ids: Sequence[int], period: str) -> tuple[float, int]:
        return _within_fallback(db, location_ids, grain, period)

    return rank_locations(areas, locations, figures, at, window[-2], fallback, min_visits)


def area_ranking(
    db: Database,
    principal: Principal,
    area_id: int,
    *,
    grain: str = "month",
    at: str | None = None,
    now: datetime | None = None,
    min_visits: int = DEFAULT_MIN_VISITS,
) -> dict[str, Any]:
    """Rank an area's locations by their shrunk (adjusted) mystery-shop score for a period."""
    area = area_in_scope(db, principal, area_id)
    period = resolve_at(grain, at, now)
    table, summaries = _ranking(db, [area], grain, period, min_visits)
    return {
        "area_id": area_id,
        "period": period,
        "grain": grain,
        "level": LEVEL,
        "min_visits": min_visits,
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
    min_visits: int = DEFAULT_MIN_VISITS,
) -> dict[str, Any]:
    """Rank every location in the caller's areas; each is shrunk toward its own area's mean."""
    clause, params = principal.area_clause("id")
    areas = rows(db.execute(f"SELECT id, name FROM areas WHERE {clause} ORDER BY name", params))
    period = resolve_at(grain, at, now)
    table, summaries = _ranking(db, areas, grain, period, min_visits)
    return {
        "period": period,
        "grain": grain,
        "level": LEVEL,
        "min_visits": min_visits,
        "areas": summaries,
        "locations": table,
    }
