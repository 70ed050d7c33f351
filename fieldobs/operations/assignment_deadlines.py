"""Assignment deadlines (scheduled): expire past windows, remind shoppers of closing ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fieldobs import events
from fieldobs.operations.assignments import ASSIGNMENT_EXPIRED, withdraw_notifications
from fieldobs.storage.changes import record_change
from fieldobs.storage.connection import Database, rows, transaction
from fieldobs.timeutil import parse_rfc3339, to_rfc3339


def expire_assignments(db: Database, now: datetime) -> list[int]:
    """Expire the open assignments whose window has passed; return their ids."""
    stamp = to_rfc3339(now)
    with transaction(db):
        due = rows(
            db.execute(
                "SELECT * FROM assignments WHERE status = 'open' AND window_end <= ? ORDER BY id",
                [stamp],
            )
        )
        for assignment in due:
            db.execute(
                "UPDATE assignments SET status = 'expired', expired_at = ?, updated_at = ?"
                " WHERE id = ?",
                [stamp, stamp, assignment["id"]],
            )
            record_change(db, "assignment", assignment["id"])
            withdraw_notifications(db, assignment["id"])
            after = {**assignment, "status": "expired", "expired_at": stamp, "updated_at": stamp}
            events.emit(db, ASSIGNMENT_EXPIRED, {"assignment": after})
    return [a["id"] for a in due]


def remind_assignments(db: Database, now: datetime, within: timedelta) -> list[int]:
    """Put a reminder in the feed of each shopper whose open window closes soon; return ids."""
    stamp = to_rfc3339(now)
    created = []
    with transaction(db):
        due = rows(
            db.execute(
                "SELECT a.*, l.name AS location_name, l.timezone FROM assignments a"
                " JOIN locations l ON l.id = a.location_id WHERE a.status = 'open'"
                " AND a.reminded_at IS NULL AND a.window_end > ? AND a.window_end <= ?"
                " ORDER BY a.id",
                [stamp, to_rfc3339(now + within)],
            )
        )
        for assignment in due:
            closes = parse_rfc3339(assignment["window_end"]).astimezone(
                ZoneInfo(assignment["timezone"])
            )
            message = (
                f"Your mystery shop at {assignment['location_name']} closes at"
                f" {closes:%H:%M on %d %b %Y} ({assignment['timezone']})."
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO notifications (user_id, kind, assignment_id, message,"
                " data, created_at) VALUES (?, 'assignment_closing', ?, ?, ?, ?)",
                [
                    assignment["shopper_id"],
                    assignment["id"],
                    message,
                    json.dumps({"window_end": assignment["window_end"]}),
                    stamp,
                ],
            )
            db.execute(
                "UPDATE assignments SET reminded_at = ? WHERE id = ?", [stamp, assignment["id"]]
            )
            if cursor.rowcount:
                record_change(db, "notification", cursor.lastrowid)
                created.append(int(cursor.lastrowid or 0))
    return created
