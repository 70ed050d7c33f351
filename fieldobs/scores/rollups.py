"""Score rollups: which visits count, the periods they fall in, and incremental upkeep.

A mystery shop counts once released; a walk-through once submitted (or released). A visit
counts once, with its latest revision. Every change to a visit row emits VISIT_CHANGED inside
its transaction; `on_visit_changed` takes the visit's old contribution out of the rollups and
puts its new one in, so the rollups always equal `rebuild` from scratch (a property test holds
us to it). Periods are the location's local ISO week and calendar month of `observed_at`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from multiprocessing import get_context
from typing import Any
from zoneinfo import ZoneInfo

from fieldobs.checklists.published import get_version
from fieldobs.storage.connection import Database
from fieldobs.timeutil import parse_rfc3339

KINDS = ("mystery_shop", "walkthrough")
TREND_KIND = "mystery_shop"  # the kind that is ranked, so the only one trend_rollups keep
TREND_PERIODS = 6  # months in a trend window
GRAINS = ("week", "month")
PERIOD_PATTERNS = {
    "week": re.compile(r"^(\d{4})-W(\d{2})$"),
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
}
PERIOD_EXAMPLES = {"week": "2026-W07", "month": "2026-02"}

# The SQL twin of `counts`: rebuild and the benchmark's plain query select with it.
COUNTED_SQL = (
    "((visits.kind = 'mystery_shop' AND visits.status = 'released')"
    " OR (visits.kind = 'walkthrough' AND visits.status IN ('submitted', 'released')))"
)

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


def counts(row: Mapping[str, Any]) -> bool:
    """Tell whether a visit row counts towards scores in its current status."""
    if row["kind"] == "mystery_shop":
        return bool(row["status"] == "released")
    return row["status"] in ("submitted", "released")


# --- periods --------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def period_keys(observed_at: str, timezone: str) -> tuple[str, str]:
    """Return the local ISO week and calendar month of a UTC timestamp, e.g. 2026-W07, 2026-02."""
    return local_periods(parse_rfc3339(observed_at), timezone)


def local_periods(moment: datetime, timezone: str) -> tuple[str, str]:
    """Return the local ISO week and month of an aware datetime."""
    local = moment.astimezone(_zone(timezone))
    year, week, _ = local.isocalendar()
    return f"{year:04d}-W{week:02d}", f"{local.year:04d}-{local.month:02d}"


def current_period(grain: str, timezone: str, now: datetime) -> str:
    """Return the period a moment falls in at a time zone."""
    week, month = local_periods(now, timezone)
    return week if grain == "week" else month


def period_start(grain: str, period: str) -> date:
    """Return the first day of a period; ValueError when it is not one."""
    match = PERIOD_PATTERNS[grain].match(period)
    if match is None:
        raise ValueError(f"not a {grain}: {period!r} (e.g. {PERIOD_EXAMPLES[grain]})")
    year, number = int(match.group(1)), int(match.group(2))
    if grain == "week":
        return date.fromisocalendar(year, number, 1)
    return date(year, number, 1)


def period_of(grain: str, day: date) -> str:
    """Return the period containing a day."""
    if grain == "week":
        year, week, _ = day.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def shift_period(grain: str, period: str, steps: int) -> str:
    """Return the period `steps` after (or, negative, before) another."""
    start = period_start(grain, period)
    if grain == "week":
        return period_of(grain, start + timedelta(weeks=steps))
    months = start.year * 12 + start.month - 1 + steps
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def period_span(grain: str, first: str, last: str) -> list[str]:
    """Return every period from first to last inclusive, in order (empty when last < first)."""
    # Both ends parsed once, then counted on: a series asks for up to 520 periods per request.
    start, end = period_start(grain, first), period_start(grain, last)
    if grain == "week":
        weeks = (end - start).days // 7 + 1
        return [period_of(grain, start + timedelta(weeks=k)) for k in range(weeks)]
    low = start.year * 12 + start.month - 1
    high = end.year * 12 + end.month - 1
    return [f"{index // 12:04d}-{index % 12 + 1:02d}" for index in range(low, high + 1)]


def month_shift(month: str, steps: int) -> str:
    """Return the month `steps` after another, fast (no date parsing)."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + steps
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


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
    return _make_contribution(
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


def _make_contribution(
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


# --- writing --------------------------------------------------------------------------------

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


def _bump(db: Database) -> None:
    db.execute("UPDATE score_state SET version = version + 1 WHERE id = 1")


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
    _bump(db)
    if filed is not None and before is not None:
        # Out of the periods it went into, even if the location's time zone changed since.
        apply(db, contribution(db, before, (filed[0], filed[1])), -1)
    if counts(after):
        periods = period_keys(after["observed_at"], _timezone(db, int(after["location_id"])))
        apply(db, contribution(db, after, periods), +1)


# --- rebuilding -----------------------------------------------------------------------------

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
        part = _make_contribution(
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


def on_location_timezone_changed(db: Database, payload: dict[str, Any]) -> None:
    """Re-file a location's visits into the weeks and months of its new time zone."""
    rebuild(db, [payload["location_id"]])


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
    _bump(db)
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
