"""A location's mean score per period, with a 90 % t-interval and the section means.

Per period: mean +- t(0.95, n-1) s/sqrt(n), clipped to 0-100; no interval (null) below two visits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fieldobs.people.scope import Principal
from fieldobs.scores.common import location_in_scope, rounded
from fieldobs.scores.contribution import RANKED_KIND
from fieldobs.scores.periods import DEFAULT_SPAN, period_range
from fieldobs.scoring.stats import LEVEL, Moments, mean_interval
from fieldobs.storage.connection import Database


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
    location = location_in_scope(db, principal, location_id)
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
        sections[period][section] = {"n": n, "mean": rounded(total / n)}
    series = []
    empty = Moments()
    for period in periods:
        moments = totals.get(period, empty)
        low, high = mean_interval(moments)
        series.append(
            {
                "period": period,
                "n": moments.n,
                "mean": rounded(moments.mean),
                "low": rounded(low),
                "high": rounded(high),
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
