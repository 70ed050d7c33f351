"""Assignments in bulk: a CSV file, all rows or none, problems reported by line."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from fieldobs.errors import Invalid
from fieldobs.operations.assignment_rules import AssignmentPolicy, check_assignment
from fieldobs.operations.assignments import insert_assignment, load, present
from fieldobs.storage.connection import Database, transaction

CSV_REQUIRED = ("shopper", "checklist", "window_start", "window_end")


def import_assignments_csv(
    db: Database, text: str, *, created_by: int | None, policy: AssignmentPolicy, now: datetime
) -> list[dict[str, Any]]:
    """Create assignments from CSV (shopper, location_id | location_ref, checklist, window_start,
    window_end); all rows or none, problems reported by line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [(h or "").strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CSV_REQUIRED if c not in headers]
    if "location_id" not in headers and "location_ref" not in headers:
        missing.append("location_id (or location_ref)")
    if missing:
        raise Invalid(
            "The CSV file lacks required columns.",
            fields={"header": [f"missing column {c!r}" for c in missing]},
        )
    problems: dict[str, list[str]] = {}
    created: list[int] = []
    with transaction(db):
        for line_number, raw in enumerate(reader, start=2):
            record = {
                (k or "").strip().lower(): (v or "").strip()
                for k, v in raw.items()
                if isinstance(v, str)
            }
            if not any(record.values()):
                continue
            data: dict[str, Any] = {
                k: record.get(k) for k in ("shopper", "checklist", "window_start", "window_end")
            }
            data["location_id"] = _csv_location(db, record)
            # Rows are inserted as they pass, so a row clashing with an earlier one (the
            # cooldown) is caught too; any problem rolls the whole file back.
            row, found = check_assignment(db, data, policy, now)
            if found:
                problems[f"line {line_number}"] = [
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
        return int(record["location_id"]) if record["location_id"].isdigit() else None
    found = db.execute(
        "SELECT id FROM locations WHERE external_ref = ? AND deleted_at IS NULL",
        [record.get("location_ref") or ""],
    ).fetchone()
    return int(found[0]) if found else None
