"""Assignments and phones: flags on pushed visits, completion by a visit, the pull feeds."""

from __future__ import annotations

import json
from typing import Any

from fieldobs.operations.assignment_rules import in_window
from fieldobs.operations.assignments import SELECT, present, withdraw_notifications
from fieldobs.people.scope import Principal
from fieldobs.storage.changes import record_change
from fieldobs.storage.connection import Database, one, rows


def flag_visit(db: Database, principal: Principal, data: dict[str, Any]) -> list[str]:
    """Flag (never reject) a pushed visit that does not match the assignment it names."""
    assignment_id = data.get("assignment_id")
    if assignment_id is None:
        return []
    assignment = one(db.execute("SELECT * FROM assignments WHERE id = ?", [assignment_id]))
    if assignment is None or assignment["shopper_id"] != principal.user_id:
        # One flag for both: a pusher must not learn which assignment ids exist.
        return ["assignment_not_yours"]
    flags = []
    if assignment["status"] == "cancelled":
        flags.append("assignment_cancelled")
    elif assignment["visit_id"] not in (None, data["id"]):
        flags.append("assignment_already_submitted")
    if assignment["location_id"] != data["location_id"]:
        flags.append("assignment_other_location")
    if assignment["checklist_slug"] != data["checklist"]["slug"]:
        flags.append("assignment_other_checklist")
    if not in_window(assignment, data["started_at"], data["finished_at"]):
        flags.append("outside_assignment_window")
    return flags


def on_visit_changed(db: Database, payload: dict[str, Any]) -> None:
    """Mark the assignment a newly stored visit names as submitted (a VISIT_CHANGED handler)."""
    after = payload["after"]
    before = payload["before"]
    if after.get("assignment_id") is None or (
        before is not None and before.get("assignment_id") == after["assignment_id"]
    ):
        return
    assignment = one(db.execute("SELECT * FROM assignments WHERE id = ?", [after["assignment_id"]]))
    if (
        assignment is None
        or assignment["shopper_id"] != after["observer_id"]
        or assignment["visit_id"] is not None
    ):
        return
    # A visit made inside the window that reached the server after it closed (the phone was
    # offline) still completes its assignment.
    late_but_in_time = assignment["status"] == "expired" and in_window(
        assignment, after["started_at"], after["finished_at"]
    )
    if assignment["status"] != "open" and not late_but_in_time:
        return
    db.execute(
        "UPDATE assignments SET status = 'submitted', visit_id = ?, submitted_at = ?,"
        " updated_at = ? WHERE id = ?",
        [after["id"], after["updated_at"], after["updated_at"], assignment["id"]],
    )
    record_change(db, "assignment", assignment["id"])
    withdraw_notifications(db, assignment["id"])


# Pull feeds ------------------------------------------------------------------------------


def load_feed(
    db: Database, principal: Principal, keys: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Return the caller's own changed assignments; cancelled ones as deletions."""
    found = rows(
        db.execute(
            f"{SELECT} WHERE a.id IN (SELECT value FROM json_each(?)) AND a.shopper_id = ?"
            " ORDER BY a.id",
            [json.dumps([int(k) for k in keys]), principal.user_id],
        )
    )
    items = [present(a, admin=False) for a in found if a["status"] != "cancelled"]
    deleted = [a["id"] for a in found if a["status"] == "cancelled"]
    return items, deleted


def load_notification_feed(
    db: Database, principal: Principal, keys: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Return the caller's own changed notifications; moot ones as deletions."""
    found = rows(
        db.execute(
            "SELECT n.*, a.status AS assignment_status FROM notifications n"
            " LEFT JOIN assignments a ON a.id = n.assignment_id"
            " WHERE n.id IN (SELECT value FROM json_each(?)) AND n.user_id = ? ORDER BY n.id",
            [json.dumps([int(k) for k in keys]), principal.user_id],
        )
    )
    items, deleted = [], []
    for note in found:
        if note["assignment_id"] is not None and note["assignment_status"] != "open":
            deleted.append(note["id"])
            continue
        items.append(
            {
                "id": note["id"],
                "kind": note["kind"],
                "message": note["message"],
                "assignment_id": note["assignment_id"],
                "data": json.loads(note["data"]),
                "created_at": note["created_at"],
            }
        )
    return items, deleted
