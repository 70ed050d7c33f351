"""Score rollups kept in step with the visits, one change at a time.

Every change to a visit row emits VISIT_CHANGED inside its transaction; `on_visit_changed` takes
the visit's old contribution out of the rollups and puts its new one in, so the rollups always
equal `rebuild` from scratch (a property test holds us to it). Periods are the location's local
ISO week and calendar month of `observed_at`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fieldobs.scores.contribution import (
    TREND_KIND,
    TREND_PERIODS,
    Contribution,
    contribution,
    counts,
    trend_rows,
)
from fieldobs.scores.periods import month_shift, period_keys
from fieldobs.scores.rebuild import bump_version, rebuild
from fieldobs.storage.connection import Database

# What must be equal for a changed visit to leave the rollups as they are.
_SCORED_FIELDS = (
    "location_id",
    "observer_id",
    "kind",
    "observed_at",
    "score",
    "section_scores",
    "breakdown",
    "checklist_slug",
    "checklist_version",
)


_UPSERT_SCORE = (
    "INSERT INTO score_rollups (location_id, kind, grain, period, n, total, total_sq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (location_id, kind, grain, period) DO UPDATE SET"
    " n = n + excluded.n, total = total + excluded.total, total_sq = total_sq + excluded.total_sq"
)
_UPSERT_SECTION = (
    "INSERT INTO section_rollups (location_id, kind, grain, period, section_id, n, total, total_sq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (location_id, kind, grain, period, section_id)"
    " DO UPDATE SET n = n + excluded.n, total = total + excluded.total,"
    " total_sq = total_sq + excluded.total_sq"
)
_UPSERT_ITEM = (
    "INSERT INTO item_rollups (location_id, kind, month, item_id, section_id, n, earned, possible,"
    " short, cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (location_id, kind, month, item_id) DO UPDATE SET n = n + excluded.n,"
    " earned = earned + excluded.earned, possible = possible + excluded.possible,"
    " short = short + excluded.short, cost = cost + excluded.cost"
)


def apply(db: Database, part: Contribution, sign: int) -> None:
    """Add (sign 1) or take out (sign -1) one visit's contribution (inside a transaction)."""
    conn = db.conn
    location, kind = part.location_id, part.kind
    cells = (("week", part.week), ("month", part.month))
    if sign > 0:
        conn.execute(
            "INSERT INTO score_visits (visit_id, location_id, observer_id, kind, week, month,"
            " score) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [part.visit_id, location, part.observer_id, kind, part.week, part.month, part.score],
        )
    else:
        conn.execute("DELETE FROM score_visits WHERE visit_id = ?", [part.visit_id])
    if part.score is not None:
        score = part.score
        conn.execute(
            _UPSERT_SCORE, [location, kind, "week", part.week, sign, sign * score, sign * score**2]
        )
        (count,) = conn.execute(
            _UPSERT_SCORE + " RETURNING n",
            [location, kind, "month", part.month, sign, sign * score, sign * score**2],
        ).fetchall()[0]
        if kind == TREND_KIND:
            # A month gaining its first visit, or losing its last, changes `periods`.
            emptied = 1 if sign > 0 and count == 1 else -1 if sign < 0 and count <= 0 else 0
            _apply_trend(conn, location, part.month, score, sign, emptied)
    conn.executemany(
        _UPSERT_SECTION,
        [
            (location, kind, g, p, section, sign, sign * value, sign * value * value)
            for g, p in cells
            for section, value in part.sections
        ],
    )
    conn.executemany(
        _UPSERT_ITEM,
        [
            (
                location,
                kind,
                part.month,
                item,
                section,
                sign,
                sign * earned,
                sign * points,
                sign * short,
                sign * cost,
            )
            for item, section, earned, points, short, cost in part.items
        ],
    )
    if sign < 0:
        # Emptied cells go, so the tables hold exactly what a rebuild would write.
        for grain, period in cells:
            key = [location, kind, grain, period]
            conn.execute(
                "DELETE FROM score_rollups WHERE location_id = ? AND kind = ? AND grain = ?"
                " AND period = ? AND n <= 0",
                key,
            )
            conn.execute(
                "DELETE FROM section_rollups WHERE location_id = ? AND kind = ? AND grain = ?"
                " AND period = ? AND n <= 0",
                key,
            )
        conn.execute(
            "DELETE FROM item_rollups WHERE location_id = ? AND kind = ? AND month = ? AND n <= 0",
            [location, kind, part.month],
        )


_UPSERT_TREND = (
    "INSERT INTO trend_rollups (kind, period, location_id, count, periods, sx, sxx, sy, sxy, syy,"
    " last_n, last_total, last_total_sq, prev_n, prev_total, prev_total_sq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (kind, period, location_id) DO UPDATE SET count = count + excluded.count,"
    " periods = periods + excluded.periods, sx = sx + excluded.sx, sxx = sxx + excluded.sxx,"
    " sy = sy + excluded.sy, sxy = sxy + excluded.sxy, syy = syy + excluded.syy,"
    " last_n = last_n + excluded.last_n, last_total = last_total + excluded.last_total,"
    " last_total_sq = last_total_sq + excluded.last_total_sq,"
    " prev_n = prev_n + excluded.prev_n, prev_total = prev_total + excluded.prev_total,"
    " prev_total_sq = prev_total_sq + excluded.prev_total_sq"
)


def _apply_trend(
    conn: sqlite3.Connection, location: int, month: str, score: float, sign: int, emptied: int
) -> None:
    conn.executemany(
        _UPSERT_TREND,
        trend_rows(location, month, sign, sign * score, sign * score * score, emptied),
    )
    if sign < 0:
        windows = [month_shift(month, k) for k in range(TREND_PERIODS)]
        conn.execute(
            "DELETE FROM trend_rollups WHERE kind = ? AND location_id = ? AND count <= 0"
            " AND period IN (SELECT value FROM json_each(?))",
            [TREND_KIND, location, json.dumps(windows)],
        )


def _timezone(db: Database, location_id: int) -> str:
    row = db.execute("SELECT timezone FROM locations WHERE id = ?", [location_id]).fetchone()
    return str(row[0]) if row else "UTC"


def on_visit_changed(db: Database, payload: dict[str, Any]) -> None:
    """Keep the rollups in step with one changed visit row (an events.VISIT_CHANGED handler)."""
    before: dict[str, Any] | None = payload["before"]
    after: dict[str, Any] = payload["after"]
    if (
        before is not None
        and counts(before)
        and counts(after)
        and all(before[name] == after[name] for name in _SCORED_FIELDS)
    ):
        return  # e.g. a walk-through released: it counted before and counts the same now
    if before is None and not counts(after):
        return  # a new visit that does not count yet (a mystery shop awaiting release)
    filed = db.execute(
        "SELECT week, month FROM score_visits WHERE visit_id = ?", [after["id"]]
    ).fetchone()
    if (filed is None or before is None) and not counts(after):
        return
    bump_version(db)
    if filed is not None and before is not None:
        # Out of the periods it went into, even if the location's time zone changed since.
        apply(db, contribution(db, before, (filed[0], filed[1])), -1)
    if counts(after):
        periods = period_keys(after["observed_at"], _timezone(db, int(after["location_id"])))
        apply(db, contribution(db, after, periods), +1)


def on_location_timezone_changed(db: Database, payload: dict[str, Any]) -> None:
    """Re-file a location's visits into the weeks and months of its new time zone."""
    rebuild(db, [payload["location_id"]])
