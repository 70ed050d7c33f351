"""Assignments in bulk: a CSV file, all rows or none, problems reported by line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fieldobs.errors import Invalid
from fieldobs.operations.assignment_rules import AssignmentPolicy, check_assignment
from fieldobs.operations.assignments import insert_assignment, load, present
from fieldobs.storage.connection import Database, transaction
from fieldobs.storage.csv_rows import read_csv_rows
from fieldobs.stored_integers import parse_stored_integer

CSV_REQUIRED = ("shopper", "checklist", "window_start", "window_end")


def import_assignments_csv(
    db: Database, text: str, *, created_by: int | None, policy: AssignmentPolicy, now: datetime
) -> list[dict[str, Any]]:
    """Create assignments from CSV (shopper, location_id | location_ref, checklist, window_start,
    window_end[, scenario]); all rows or none, problems reported by line."""
    table = read_csv_rows(text)
    table.require(CSV_REQUIRED, one_of=("location_id", "location_ref"))
    problems: dict[str, list[str]] = {}
    created: list[int] = []
    with transaction(db):
        for record in table.rows:
            data: dict[str, Any] = {k: record.values.get(k) for k in (*CSV_REQUIRED, "scenario")}
            data["location_id"] = _csv_location(db, record.values)
            # Rows are inserted as they pass, so a row clashing with an earlier one (the
            # cooldown) is caught too; any problem rolls the whole file back.
            row, found = check_assignment(db, data, policy, now)
            if found:
                problems[f"line {record.line}"] = [
                    f"{name}: {problem}" for name, listed in found.items() for problem in listed
                ]
            else:
                created.append(insert_assignment(db, row, created_by, now))
        if problems:
            raise Invalid(
                f"{len(problems)} row(s) are invalid; nothing was imported.", fields=problems
            )
    return [present(load(db, i), admin=True) for i in created]


def _csv_location(db: Database, record: dict[str, str]) -> int | None:
    if record.get("location_id"):
        return parse_stored_integer(record["location_id"])
    found = db.execute(
        "SELECT id FROM locations WHERE external_ref = ? AND deleted_at IS NULL",
        [record.get("location_ref") or ""],
    ).fetchone()
    return int(found[0]) if found else None
