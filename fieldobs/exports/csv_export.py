"""CSV exports of visits (one row each) and answers (one row per item), streamed.

Rows are read in batches from one cursor and written a batch at a time, so memory stays flat
however many visits there are. The caller's view decides the rows, exactly as the visits API's
does: visibility_clause (store staff see mystery shops only once released), pseudonyms for
store staff (observer_pseudonym) and times floored to the hour (round_to_hour).
Excel-friendly: a UTF-8 byte-order mark first, and every cell that a spreadsheet would read as
a formula (starting with = + - @, tab or carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fieldobs.checklists.published import get_version
from fieldobs.errors import Invalid
from fieldobs.people.anonymity import is_store_side, observer_pseudonym, round_to_hour
from fieldobs.people.scope import Principal
from fieldobs.scores import KINDS
from fieldobs.scores.periods import PERIOD_PATTERNS, period_start
from fieldobs.storage.connection import Database
from fieldobs.visits.read import visibility_clause

BOM = "\ufeff"
BATCH = 2000
CLOCK_KEEP = 4096
PARSED_KEEP = 20_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATUSES = ("awaiting_photos", "submitted", "released", "returned")

GRAINS = tuple(PERIOD_PATTERNS)  # week, month


def neutralise(value: Any) -> Any:
    """Return a cell that no spreadsheet runs as a formula (text starting = + - @ tab CR)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class ExportFilters:
    """Which visits to export; the console's page filters plus a store or an area."""

    area_id: int | None = None
    location_id: int | None = None
    kind: str | None = None
    checklist: str | None = None
    status: str | None = None
    grain: str = "month"
    period: str | None = None


def parse_export_filters(args: dict[str, Any]) -> ExportFilters:
    """Read export filters from a URL query; 422 names a bad one."""
    problems: dict[str, list[str]] = {}

    def number(name: str) -> int | None:
        raw = args.get(name)
        if raw in (None, ""):
            return None
        try:
            return int(raw)
        except (TypeError, ValueError):
            problems[name] = ["must be a whole number"]
            return None

    kind = args.get("kind") or None
    grain = args.get("grain") or "month"
    period = args.get("period") or None
    status = args.get("status") or None
    if kind is not None and kind not in KINDS:
        problems["kind"] = [f"must be one of {', '.join(KINDS)}"]
    if grain not in GRAINS:
        problems["grain"] = ["must be month or week"]
    elif period is not None:
        try:
            period_start(grain, period)
        except ValueError:
            problems["period"] = [f"is not a {grain}"]
    if status is not None and status not in STATUSES:
        problems["status"] = [f"must be one of {', '.join(STATUSES)}"]
    found = ExportFilters(
        area_id=number("area_id"),
        location_id=number("location_id"),
        kind=kind,
        checklist=args.get("checklist") or None,
        status=status,
        grain=grain,
        period=period,
    )
    if problems:
        raise Invalid("The export filters are invalid.", fields=problems)
    return found


def _where(principal: Principal, filters: ExportFilters) -> tuple[str, list[Any]]:
    clause, params = visibility_clause(principal)
    conditions, values = [clause], list(params)
    for column, value in (
        ("visits.location_id", filters.location_id),
        ("l.area_id", filters.area_id),
        ("visits.kind", filters.kind),
        ("visits.checklist_slug", filters.checklist),
        ("visits.status", filters.status),
    ):
        if value is not None:
            conditions.append(f"{column} = ?")
            values.append(value)
    if filters.period is not None:
        # Periods of an export are in UTC: one range on the indexed time, every store alike.
        start = period_start(filters.grain, filters.period)
        first = datetime(start.year, start.month, start.day, tzinfo=UTC)
        if filters.grain == "week":
            after = first + timedelta(weeks=1)
        else:
            after = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
        conditions.append("visits.observed_at >= ? AND visits.observed_at < ?")
        values.extend([first.strftime("%Y-%m-%dT%H:%M:%S"), after.strftime("%Y-%m-%dT%H:%M:%S")])
    return " AND ".join(conditions), values


def _section_ids(db: Database, filters: ExportFilters) -> list[str]:
    """Return the section columns: every section of the checklists that may appear, in order."""
    sql = "SELECT slug, max(version) FROM checklist_versions"
    conditions, params = [], []
    if filters.kind:
        conditions.append("kind = ?")
        params.append(filters.kind)
    if filters.checklist:
        conditions.append("slug = ?")
        params.append(filters.checklist)
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    ids: list[str] = []
    for slug, version in db.execute(sql + " GROUP BY slug ORDER BY slug", params).fetchall():
        for section in get_version(db, slug, version)["sections"]:
            if section["id"] not in ids:
                ids.append(section["id"])
    return ids


class _Clock:
    """Turn UTC timestamps into local dates and times, fast (once per row of a large export).

    A zone's offset is found once per (zone, UTC hour); minutes are added by arithmetic.
    """

    def __init__(self) -> None:
        self.zones: dict[str, ZoneInfo] = {}
        self.hours: dict[tuple[str, str], tuple[str, int, int]] = {}

    def _hour(self, timestamp: str, timezone: str) -> tuple[str, int, int]:
        zone = self.zones.get(timezone)
        if zone is None:
            zone = self.zones[timezone] = ZoneInfo(timezone)
        start = datetime.fromisoformat(timestamp[:13] + ":00:00+00:00").astimezone(zone)
        return start.strftime("%Y-%m-%d"), start.hour, start.minute

    def local(self, timestamp: str, timezone: str, to_hour: bool) -> tuple[str, str]:
        """Return the local date and HH:MM (floored to the hour when asked)."""
        key = (timezone, timestamp[:13])
        found = self.hours.get(key)
        if found is None:
            if len(self.hours) >= CLOCK_KEEP:
                self.hours.clear()  # rows come in time order: old hours are not asked again
            found = self.hours[key] = self._hour(timestamp, timezone)
        day, hour, minute = found
        if to_hour:
            # Floor in UTC first (as the API does), then show that moment's local time.
            return day, f"{hour:02d}:{minute:02d}"
        minute += int(timestamp[14:16])
        if minute >= 60:
            # A zone with a 30- or 45-minute offset crossed into the next local hour.
            moment = datetime.fromisoformat(timestamp).astimezone(self.zones[timezone])
            return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M")
        return day, f"{hour:02d}:{minute:02d}"


VISIT_SELECT = (
    "SELECT visits.id, l.name, a.name, l.timezone, visits.observed_at, visits.checklist_slug,"
    " visits.checklist_version, visits.kind, visits.observer_id, u.username, visits.score,"
    " visits.section_scores, visits.status,"
    " (SELECT count(*) FROM visit_photos vp WHERE vp.visit_id = visits.id)"
    " FROM visits JOIN locations l ON l.id = visits.location_id"
    " JOIN areas a ON a.id = l.area_id JOIN users u ON u.id = visits.observer_id"
)


def _chunks(batches: Iterator[list[list[Any]]], header: list[str]) -> Iterator[str]:
    """Yield the header (after a byte-order mark) and then one chunk of CSV per batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield BOM + buffer.getvalue()
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)
        yield buffer.getvalue()


class _Names(dict[str, Any]):
    """Neutralised store and area names, each worked out once."""

    def __missing__(self, name: str) -> Any:
        self[name] = value = neutralise(name)
        return value


def export_visits(
    db: Database, principal: Principal, secret: str, filters: ExportFilters
) -> Iterator[str]:
    """Yield the visits CSV in chunks: one row per visit the caller may see."""
    where, params = _where(principal, filters)
    sections = _section_ids(db, filters)
    header = [
        "visit_id", "store", "area", "local_date", "local_time", "checklist",
        "checklist_version", "kind", "observer", "score",
        *(f"section:{s}" for s in sections), "photos", "status",
    ]  # fmt: skip
    store_side = is_store_side(principal)
    pseudonyms: dict[int, str] = {}
    clock = _Clock()
    cursor = db.execute(
        f"{VISIT_SELECT} WHERE {where} ORDER BY visits.observed_at, visits.id", params
    )

    names = _Names()
    column = {section: place for place, section in enumerate(sections)}
    # Many visits share their section scores exactly (100 everywhere, a critical's 0…):
    # each distinct JSON text is parsed once.
    parsed: dict[str, tuple[Any, ...]] = {}

    def section_cells(text: str) -> tuple[Any, ...]:
        cells: list[Any] = [None] * len(sections)
        for part in json.loads(text):
            place, value = column.get(part["id"]), part["score"]
            if place is not None and value is not None:
                cells[place] = round(value, 1)
        return tuple(cells)

    def produce() -> Iterator[list[list[Any]]]:
        while batch := cursor.fetchmany(BATCH):
            out = []
            for (
                visit_id, store, area, timezone, observed, slug, version, kind, observer_id,
                username, score, section_json, status, photos,
            ) in batch:  # fmt: skip
                hidden = store_side and kind == "mystery_shop"
                if hidden:
                    observer = pseudonyms.get(observer_id)
                    if observer is None:
                        observer = pseudonyms[observer_id] = observer_pseudonym(secret, observer_id)
                    observed = round_to_hour(observed) or observed
                else:
                    observer = names[username]
                day, time = clock.local(observed, timezone, hidden)
                cells = parsed.get(section_json)
                if cells is None:
                    cells = parsed[section_json] = section_cells(section_json)
                out.append([
                    visit_id, names[store], names[area], day, time, slug, version, kind,
                    observer, None if score is None else round(score, 1), *cells, photos, status,
                ])  # fmt: skip
            if len(parsed) > PARSED_KEEP:
                parsed.clear()
            yield out

    return _chunks(produce(), header)


def export_answers(
    db: Database, principal: Principal, secret: str, filters: ExportFilters
) -> Iterator[str]:
    """Yield the answers CSV in chunks: one row per answered item of each visit in view."""
    where, params = _where(principal, filters)
    header = [
        "visit_id", "store", "area", "local_date", "checklist", "checklist_version", "kind",
        "observer", "section", "item", "value", "not_applicable", "comment", "earned",
        "possible", "failed", "photos",
    ]  # fmt: skip
    store_side = is_store_side(principal)
    clock = _Clock()
    cursor = db.execute(
        "SELECT visits.id, l.name, a.name, l.timezone, visits.observed_at,"
        " visits.checklist_slug, visits.checklist_version, visits.kind, visits.observer_id,"
        " u.username, visits.body, visits.breakdown FROM visits"
        " JOIN locations l ON l.id = visits.location_id JOIN areas a ON a.id = l.area_id"
        f" JOIN users u ON u.id = visits.observer_id WHERE {where}"
        " ORDER BY visits.observed_at, visits.id",
        params,
    )

    names = _Names()

    def produce() -> Iterator[list[list[Any]]]:
        while batch := cursor.fetchmany(BATCH // 10):
            out = []
            for (
                visit_id, store, area, timezone, observed, slug, version, kind, observer_id,
                username, body, breakdown,
            ) in batch:  # fmt: skip
                hidden = store_side and kind == "mystery_shop"
                observer = observer_pseudonym(secret, observer_id) if hidden else names[username]
                if hidden:
                    observed = round_to_hour(observed) or observed
                day, _ = clock.local(observed, timezone, hidden)
                scored = {i["item"]: i for i in json.loads(breakdown).get("items", [])}
                for answer in json.loads(body).get("answers", []):
                    item = scored.get(answer["item"], {})
                    value = answer.get("value")
                    out.append([
                        visit_id, names[store], names[area], day, slug, version, kind,
                        observer, item.get("section"), answer["item"],
                        neutralise(json.dumps(value) if isinstance(value, list | dict) else value),
                        bool(answer.get("na")), neutralise(answer.get("comment")),
                        item.get("earned"), item.get("possible"), item.get("failed"),
                        len(answer.get("photos") or []),
                    ])  # fmt: skip
            yield out

    return _chunks(produce(), header)
