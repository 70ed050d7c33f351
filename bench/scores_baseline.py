"""The baseline of the scores benchmark: series and rankings by a plain GROUP BY over visits."""

from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.scores_data import COUNTED, stamp
from fieldobs.scores.periods import period_start, shift_period
from fieldobs.scores.ranking import (
    WITHIN_LOOKBACK,
    figures_from_cells,
    rank_locations,
    trend_window,
)
from fieldobs.scoring.stats import Moments, mean_interval


def month_bounds(first: str, last: str) -> tuple[str, str]:
    """Return a UTC range safely covering the local months first..last (a day either side)."""
    low = datetime.combine(period_start("month", first), datetime.min.time(), UTC)
    high = datetime.combine(
        period_start("month", shift_period("month", last, 1)), datetime.min.time(), UTC
    )
    return stamp(low - timedelta(days=1)), stamp(high + timedelta(days=1))


def plain_series(
    conn: sqlite3.Connection, location_id: int, first: str, last: str
) -> dict[str, Any]:
    """Compute a location's monthly series with GROUP BY over its visits."""
    low, high = month_bounds(first, last)
    modifier = conn.execute(
        "SELECT modifier FROM bench_offsets WHERE location_id = ?", [location_id]
    ).fetchone()[0]
    args = [modifier, location_id, low, high, first, last]
    totals = {
        period: Moments(n, total, total_sq)
        for period, n, total, total_sq in conn.execute(
            "SELECT strftime('%Y-%m', observed_at, ?) AS period, count(*), sum(score),"
            f" sum(score * score) FROM visits WHERE location_id = ? AND {COUNTED}"
            " AND observed_at BETWEEN ? AND ? GROUP BY period HAVING period BETWEEN ? AND ?",
            args,
        )
    }
    sections: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for period, section, n, total in conn.execute(
        "SELECT strftime('%Y-%m', v.observed_at, ?) AS period, s.value ->> 'id', count(*),"
        " sum(s.value ->> 'score') FROM visits v, json_each(v.section_scores) s"
        f" WHERE v.location_id = ? AND v.{COUNTED.replace(' AND ', ' AND v.')}"
        " AND v.observed_at BETWEEN ? AND ? AND s.value ->> 'score' IS NOT NULL"
        " GROUP BY 1, 2 HAVING period BETWEEN ? AND ?",
        args,
    ):
        sections[period][section] = {"n": n, "mean": round(total / n, 1)}
    series = []
    period = first
    while period <= last:
        moments = totals.get(period, Moments())
        low_, high_ = mean_interval(moments)
        series.append(
            {
                "period": period,
                "n": moments.n,
                "mean": None if moments.mean is None else round(moments.mean, 1),
                "low": None if low_ is None else round(low_, 1),
                "high": None if high_ is None else round(high_, 1),
                "sections": sections.get(period, {}),
            }
        )
        period = shift_period("month", period, 1)
    return {"series": series}


def plain_ranking(
    conn: sqlite3.Connection, area_ids: Sequence[int], at: str
) -> list[dict[str, Any]]:
    """Rank the areas' locations from a GROUP BY over their visits."""
    window = trend_window("month", at)
    ids = json.dumps(sorted(area_ids))
    areas = [
        {"id": a, "name": n}
        for a, n in conn.execute(
            "SELECT id, name FROM areas WHERE id IN (SELECT value FROM json_each(?)) ORDER BY name",
            [ids],
        )
    ]
    locations = [
        {"id": i, "name": n, "area_id": a}
        for i, n, a in conn.execute(
            "SELECT id, name, area_id FROM locations WHERE deleted_at IS NULL"
            " AND area_id IN (SELECT value FROM json_each(?)) ORDER BY id",
            [ids],
        )
    ]
    cells = month_cells(conn, ids, window[0], window[-1])

    def fallback(location_ids: Sequence[int], period: str) -> tuple[float, int]:
        wide = month_cells(conn, ids, shift_period("month", period, 1 - WITHIN_LOOKBACK), period)
        chosen = set(location_ids)
        found = [m for lid, own in wide.items() if lid in chosen for m in own.values()]
        return math.fsum(m.squares for m in found), sum(m.n - 1 for m in found)

    figures = figures_from_cells(cells, window)
    table, _ = rank_locations(areas, locations, figures, at, window[-2], fallback)
    return table


def month_cells(
    conn: sqlite3.Connection, area_ids: str, first: str, last: str
) -> dict[int, dict[str, Moments]]:
    """Return location -> local month -> moments of the counted mystery shops, by GROUP BY."""
    low, high = month_bounds(first, last)
    cells: dict[int, dict[str, Moments]] = defaultdict(dict)
    for location_id, period, n, total, total_sq in conn.execute(
        "SELECT v.location_id, strftime('%Y-%m', v.observed_at, o.modifier) AS period, count(*),"
        " sum(v.score), sum(v.score * v.score) FROM visits v"
        " JOIN bench_offsets o ON o.location_id = v.location_id"
        f" WHERE v.{COUNTED.replace(' AND ', ' AND v.')} AND v.observed_at BETWEEN ? AND ?"
        " AND v.location_id IN (SELECT id FROM locations WHERE area_id IN"
        " (SELECT value FROM json_each(?))) GROUP BY 1, 2 HAVING period BETWEEN ? AND ?",
        [low, high, area_ids, first, last],
    ):
        cells[location_id][period] = Moments(n, total, total_sq)
    return cells
