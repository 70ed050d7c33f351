"""Rebuild the score rollups from the visits, all or some locations', in one or more processes."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from fieldobs.checklists.published import get_version
from fieldobs.scores.contribution import (
    COUNTED_SQL,
    TREND_KIND,
    Contribution,
    Scheme,
    make_contribution,
    scheme_of,
    trend_rows,
)
from fieldobs.scores.periods import period_keys
from fieldobs.storage.connection import Database

ROLLUP_TABLES = (
    "score_visits",
    "score_rollups",
    "section_rollups",
    "item_rollups",
    "trend_rollups",
)
_VISIT_COLUMNS = (
    "id, location_id, observer_id, kind, status, observed_at, score, section_scores, breakdown,"
    " checklist_slug, checklist_version"
)


@dataclass
class RollupRows:
    """Rows for the four rollup tables, as a rebuild writes them."""

    ledger: list[tuple[Any, ...]] = field(default_factory=list)
    scores: list[tuple[Any, ...]] = field(default_factory=list)
    sections: list[tuple[Any, ...]] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    trends: list[tuple[Any, ...]] = field(default_factory=list)


class _Location:
    """Running totals of one location's counted visits."""

    def __init__(self, location_id: int) -> None:
        self.location_id = location_id
        self.scores: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        self.sections: dict[tuple[str, str, str, str], list[float]] = defaultdict(
            lambda: [0, 0.0, 0.0]
        )
        self.items: dict[tuple[str, str, str], list[Any]] = defaultdict(
            lambda: ["", 0, 0.0, 0.0, 0, 0.0]
        )

    def add(self, part: Contribution) -> None:
        kind, score = part.kind, part.score
        for grain, period in (("week", part.week), ("month", part.month)):
            if score is not None:
                cell = self.scores[(kind, grain, period)]
                cell[0] += 1
                cell[1] += score
                cell[2] += score * score
            for section, value in part.sections:
                cell = self.sections[(kind, grain, period, section)]
                cell[0] += 1
                cell[1] += value
                cell[2] += value * value
        for item, section, earned, points, short, cost in part.items:
            entry = self.items[(kind, part.month, item)]
            entry[0] = section
            entry[1] += 1
            entry[2] += earned
            entry[3] += points
            entry[4] += short
            entry[5] += cost

    def emit(self, into: RollupRows) -> None:
        location = self.location_id
        into.scores.extend((location, *key, *cell) for key, cell in self.scores.items())
        windows: dict[str, list[Any]] = {}
        for (kind, grain, month), (n, total, total_sq) in self.scores.items():
            if kind != TREND_KIND or grain != "month":
                continue
            for row in trend_rows(location, month, int(n), total, total_sq, 1):
                if row[1] in windows:
                    windows[row[1]] = [a + b for a, b in zip(windows[row[1]], row[3:], strict=True)]
                else:
                    windows[row[1]] = list(row[3:])
        into.trends.extend((TREND_KIND, end, location, *sums) for end, sums in windows.items())
        into.sections.extend((location, *key, *cell) for key, cell in self.sections.items())
        into.items.extend(
            (location, kind, month, item, *entry)
            for (kind, month, item), entry in self.items.items()
        )


def compute_rows(
    conn: sqlite3.Connection,
    location_ids: Sequence[int] | None,
    zones: Mapping[int, str],
    schemes: Mapping[tuple[str, int], Scheme],
) -> RollupRows:
    """Compute the rollup rows of some locations (all when None) from their counted visits."""
    scope, params = "", []
    if location_ids is not None:
        scope = " AND visits.location_id IN (SELECT value FROM json_each(?))"
        params = [json.dumps(sorted(location_ids))]
    cursor = conn.execute(
        f"SELECT {_VISIT_COLUMNS} FROM visits WHERE {COUNTED_SQL}{scope} ORDER BY location_id",
        params,
    )
    result = RollupRows()
    current: _Location | None = None
    for (
        visit_id, location_id, observer_id, kind, _status, observed_at, score, section_scores,
        breakdown, slug, version,
    ) in cursor:  # fmt: skip
        if current is None or current.location_id != location_id:
            if current is not None:
                current.emit(result)
            current = _Location(location_id)
        periods = period_keys(observed_at, zones.get(location_id, "UTC"))
        part = make_contribution(
            visit_id, location_id, observer_id, kind, score, section_scores, breakdown,
            periods, schemes[(slug, int(version))],
        )  # fmt: skip
        result.ledger.append(
            (part.visit_id, location_id, part.observer_id, part.kind, *periods, part.score)
        )
        current.add(part)
    if current is not None:
        current.emit(result)
    return result


def _rows_in_worker(task: tuple[str, list[int], dict[int, str], dict[Any, Scheme]]) -> RollupRows:
    """Compute rollup rows in a worker process, reading through its own read-only connection."""
    path, location_ids, zones, schemes = task
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return compute_rows(conn, location_ids, zones, schemes)
    finally:
        conn.close()


def _insert(conn: sqlite3.Connection, rows: RollupRows) -> None:
    conn.executemany("INSERT INTO score_visits VALUES (?, ?, ?, ?, ?, ?, ?)", rows.ledger)
    conn.executemany("INSERT INTO score_rollups VALUES (?, ?, ?, ?, ?, ?, ?)", rows.scores)
    conn.executemany("INSERT INTO section_rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows.sections)
    conn.executemany("INSERT INTO item_rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows.items)
    marks = ", ".join("?" * 16)
    conn.executemany(f"INSERT INTO trend_rollups VALUES ({marks})", rows.trends)


def rebuild(db: Database, location_ids: Iterable[int] | None = None, *, processes: int = 1) -> int:
    """Recompute the rollups from the visits, all or some locations' (inside a transaction).

    Returns the number of visits that count. A location's time-zone change runs it for that
    location (on_location_timezone_changed), re-filing its visits into local periods.
    With processes > 1, worker processes read the visits through their own connections, so
    they must hold no uncommitted change (the CLI rebuilds in a fresh transaction).
    """
    conn = db.conn
    chosen = None if location_ids is None else sorted(set(location_ids))
    where, params = "", []
    if chosen is not None:
        where = " WHERE location_id IN (SELECT value FROM json_each(?))"
        params = [json.dumps(chosen)]
    for table in ROLLUP_TABLES:
        conn.execute(f"DELETE FROM {table}{where}", params)
    bump_version(db)
    zones = dict(conn.execute("SELECT id, timezone FROM locations").fetchall())
    schemes = {
        (slug, version): scheme_of(get_version(db, slug, version))
        for slug, version in conn.execute("SELECT slug, version FROM checklist_versions").fetchall()
    }
    path = next(row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")
    if processes <= 1 or not path:
        rows = compute_rows(conn, chosen, zones, schemes)
        _insert(conn, rows)
        return len(rows.ledger)
    every = chosen or sorted(zones)
    size = max(1, len(every) // (processes * 8))
    tasks = [(path, every[i : i + size], zones, schemes) for i in range(0, len(every), size)]
    counted = 0
    with get_context("spawn").Pool(processes) as pool:
        for rows in pool.imap_unordered(_rows_in_worker, tasks):
            _insert(conn, rows)
            counted += len(rows.ledger)
    return counted


def bump_version(db: Database) -> None:
    db.execute("UPDATE score_state SET version = version + 1 WHERE id = 1")
