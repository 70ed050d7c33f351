"""Areas and locations: the organisation being observed."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fieldobs import events
from fieldobs.errors import Conflict, Invalid, NotFound
from fieldobs.people.scope import Principal
from fieldobs.storage.changes import record_change, record_changes
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.storage.csv_rows import read_csv_rows
from fieldobs.timeutil import now_rfc3339

LOCATION_COLUMNS = "id, name, area_id, timezone, address, external_ref, created_at, updated_at"


def check_timezone(name: str) -> str | None:
    """Return a problem with an IANA time zone name, or None when it is valid."""
    if not name or name not in _timezones():
        return f"unknown IANA time zone {name!r} (e.g. Europe/London)"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown IANA time zone {name!r}"
    return None


_TZ_CACHE: set[str] = set()


def _timezones() -> set[str]:
    if not _TZ_CACHE:
        _TZ_CACHE.update(available_timezones())
    return _TZ_CACHE


def create_area(db: Database, name: str) -> dict[str, Any]:
    """Create an area."""
    with transaction(db):
        if db.execute("SELECT 1 FROM areas WHERE name = ?", [name]).fetchone():
            raise Conflict("An area with that name exists.", fields={"name": ["already exists"]})
        area_id = db.execute(
            "INSERT INTO areas (name, created_at) VALUES (?, ?)", [name, now_rfc3339()]
        ).lastrowid
    return get_area(db, int(area_id or 0))


def get_area(db: Database, area_id: int, principal: Principal | None = None) -> dict[str, Any]:
    """Return one area, or 404 when absent or outside the caller's scope."""
    if principal is not None:
        principal.require_area(area_id)
    area = one(db.execute("SELECT id, name, created_at FROM areas WHERE id = ?", [area_id]))
    if area is None:
        raise NotFound("No such area.")
    return area


def list_areas(db: Database, principal: Principal) -> list[dict[str, Any]]:
    """Return the areas in the caller's scope."""
    clause, params = principal.area_clause("id")
    return rows(
        db.execute(f"SELECT id, name, created_at FROM areas WHERE {clause} ORDER BY name", params)
    )


def _location_problems(db: Database, data: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if "timezone" in data and (problem := check_timezone(data["timezone"])):
        problems["timezone"] = [problem]
    if (
        "area_id" in data
        and not db.execute("SELECT 1 FROM areas WHERE id = ?", [data["area_id"]]).fetchone()
    ):
        problems["area_id"] = [f"no such area: {data['area_id']}"]
    return problems


def create_location(db: Database, data: dict[str, Any]) -> dict[str, Any]:
    """Create a location in an area, with its IANA time zone."""
    with transaction(db):
        if problems := _location_problems(db, data):
            raise Invalid("The location is invalid.", fields=problems)
        ref = data.get("external_ref")
        if (
            ref is not None
            and db.execute("SELECT 1 FROM locations WHERE external_ref = ?", [ref]).fetchone()
        ):
            raise Conflict(
                "A location with that external_ref exists.",
                fields={"external_ref": ["already used by another location"]},
            )
        location_id = _insert_location(db, data)
    return get_location(db, location_id)


def _insert_location(db: Database, data: dict[str, Any]) -> int:
    now = now_rfc3339()
    location_id = int(
        db.execute(
            "INSERT INTO locations (name, area_id, timezone, address, external_ref, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                data["name"],
                data["area_id"],
                data["timezone"],
                data.get("address"),
                data.get("external_ref"),
                now,
                now,
            ],
        ).lastrowid
        or 0
    )
    record_change(db, "location", location_id)
    return location_id


def update_location(db: Database, location_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a location's name, area, time zone or address."""
    with transaction(db):
        get_location(db, location_id)
        if problems := _location_problems(db, data):
            raise Invalid("The location is invalid.", fields=problems)
        fields = {k: v for k, v in data.items() if k in {"name", "area_id", "timezone", "address"}}
        previous_zone = db.execute(
            "SELECT timezone FROM locations WHERE id = ?", [location_id]
        ).fetchone()[0]
        if fields:
            assignments = ", ".join(f"{k} = ?" for k in fields)
            db.execute(
                f"UPDATE locations SET {assignments}, updated_at = ? WHERE id = ?",
                [*fields.values(), now_rfc3339(), location_id],
            )
            record_change(db, "location", location_id)
        if fields.get("timezone", previous_zone) != previous_zone:
            events.emit(db, events.LOCATION_TIMEZONE_CHANGED, {"location_id": location_id})
    return get_location(db, location_id)


def delete_location(db: Database, location_id: int) -> None:
    """Retire a location: its history stays, phones receive a deletion."""
    with transaction(db):
        get_location(db, location_id)
        db.execute(
            "UPDATE locations SET deleted_at = ?, updated_at = ? WHERE id = ?",
            [now_rfc3339(), now_rfc3339(), location_id],
        )
        record_change(db, "location", location_id, deleted=True)


def get_location(
    db: Database, location_id: int, principal: Principal | None = None
) -> dict[str, Any]:
    """Return one active location, or 404 when absent, retired or outside scope."""
    if principal is not None:
        principal.require_location(location_id)
    location = one(
        db.execute(
            f"SELECT {LOCATION_COLUMNS} FROM locations WHERE id = ? AND deleted_at IS NULL",
            [location_id],
        )
    )
    if location is None:
        raise NotFound("No such location.")
    return location


def list_locations(
    db: Database, principal: Principal, area_id: int | None = None
) -> list[dict[str, Any]]:
    """Return the active locations in the caller's scope, optionally in one area."""
    clause, params = principal.location_clause("id")
    sql = f"SELECT {LOCATION_COLUMNS} FROM locations WHERE deleted_at IS NULL AND {clause}"
    if area_id is not None:
        sql += " AND area_id = ?"
        params = [*params, area_id]
    return rows(db.execute(sql + " ORDER BY name, id", params))


CSV_REQUIRED = ("name", "area", "timezone")


def import_locations_csv(db: Database, text: str) -> dict[str, int]:
    """Import locations from CSV (name, area, timezone[, address, external_ref]); all or nothing.

    Areas named in the file are created when missing. A row whose `external_ref` is
    already known updates that location, so a spreadsheet can be re-imported.
    """
    table = read_csv_rows(text)
    table.require(CSV_REQUIRED)
    parsed: list[dict[str, str]] = []
    problems: dict[str, list[str]] = {}
    seen_refs: dict[str, int] = {}
    for row in table.rows:
        line_number, record = row.line, row.values
        line_problems = [f"{c} is empty" for c in CSV_REQUIRED if not record.get(c)]
        if record.get("timezone") and (tz_problem := check_timezone(record["timezone"])):
            line_problems.append(tz_problem)
        ref = record.get("external_ref") or ""
        if ref and ref in seen_refs:
            line_problems.append(f"external_ref {ref!r} repeats line {seen_refs[ref]}")
        elif ref:
            seen_refs[ref] = line_number
        if line_problems:
            problems[f"line {line_number}"] = line_problems
        parsed.append(record)
    if problems:
        raise Invalid(f"{len(problems)} row(s) are invalid; nothing was imported.", fields=problems)
    counts = {"created": 0, "updated": 0, "areas_created": 0}
    with transaction(db):
        areas = {r["name"]: r["id"] for r in rows(db.execute("SELECT id, name FROM areas"))}
        for record in parsed:
            if record["area"] not in areas:
                areas[record["area"]] = int(
                    db.execute(
                        "INSERT INTO areas (name, created_at) VALUES (?, ?)",
                        [record["area"], now_rfc3339()],
                    ).lastrowid
                    or 0
                )
                counts["areas_created"] += 1
            data = {
                "name": record["name"],
                "area_id": areas[record["area"]],
                "timezone": record["timezone"],
                "address": record.get("address") or None,
                "external_ref": record.get("external_ref") or None,
            }
            existing = (
                db.execute(
                    "SELECT id FROM locations WHERE external_ref = ?", [data["external_ref"]]
                ).fetchone()
                if data["external_ref"]
                else None
            )
            if existing:
                db.execute(
                    "UPDATE locations SET name = ?, area_id = ?, timezone = ?, address = ?,"
                    " deleted_at = NULL, updated_at = ? WHERE id = ?",
                    [
                        data["name"],
                        data["area_id"],
                        data["timezone"],
                        data["address"],
                        now_rfc3339(),
                        existing[0],
                    ],
                )
                record_changes(db, "location", [existing[0]])
                counts["updated"] += 1
            else:
                _insert_location(db, data)
                counts["created"] += 1
    return counts
