"""Assignments: which shopper makes which mystery shop where, and by when.

An assignment is `open` until a visit for it arrives (`submitted`), its window passes
(`expired`, by the scheduled job) or an admin cancels it (`cancelled`). Shoppers receive
their own through the pull feed; store-side staff never see one (it would reveal an upcoming
mystery shop). The rules live in `assignment_rules`, the CSV import in `assignment_import`,
what phones pull and push in `assignment_feeds`, expiry and reminders in `assignment_deadlines`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fieldobs.errors import Conflict, Invalid, NotFound
from fieldobs.operations.assignment_rules import (
    AssignmentPolicy,
    check_assignment,
    find_shopper,
)
from fieldobs.people.scope import Principal
from fieldobs.storage.changes import record_change, record_changes
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import parse_rfc3339, to_rfc3339

ASSIGNMENT_EXPIRED = "assignment.expired"  # payload: {"assignment": row}

STATUSES = ("open", "submitted", "expired", "cancelled")


# Writing ---------------------------------------------------------------------------------


def insert_assignment(
    db: Database, row: dict[str, Any], created_by: int | None, now: datetime
) -> int:
    """Insert a checked assignment row; return its id."""
    stamp = to_rfc3339(now)
    assignment_id = int(
        db.execute(
            "INSERT INTO assignments (shopper_id, location_id, checklist_slug, scenario,"
            " window_start, window_end, created_by, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["shopper_id"],
                row["location_id"],
                row["checklist_slug"],
                row["scenario"],
                row["window_start"],
                row["window_end"],
                created_by,
                stamp,
                stamp,
            ],
        ).lastrowid
        or 0
    )
    record_change(db, "assignment", assignment_id)
    return assignment_id


def create_assignment(
    db: Database,
    data: dict[str, Any],
    *,
    created_by: int | None,
    policy: AssignmentPolicy,
    now: datetime,
    problems: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Create an open assignment; 422 naming each bad field, with those `problems` found already."""
    with transaction(db):
        row, problems = check_assignment(db, data, policy, now, known=problems)
        if problems:
            raise Invalid("The assignment is invalid.", fields=problems)
        assignment_id = insert_assignment(db, row, created_by, now)
    return present(load(db, assignment_id), admin=True)


def cancel_assignment(db: Database, assignment_id: int, now: datetime) -> dict[str, Any]:
    """Cancel an open assignment; its shopper's phone receives it as a deletion."""
    with transaction(db):
        _cancel(db, assignment_id, now)
    return present(load(db, assignment_id), admin=True)


def _cancel(db: Database, assignment_id: int, now: datetime) -> dict[str, Any]:
    assignment = load(db, assignment_id)
    if assignment["status"] != "open":
        raise Conflict(
            f"Only an open assignment can be cancelled; this one is {assignment['status']}.",
            code="not_open",
        )
    stamp = to_rfc3339(now)
    db.execute(
        "UPDATE assignments SET status = 'cancelled', cancelled_at = ?, updated_at = ?"
        " WHERE id = ?",
        [stamp, stamp, assignment_id],
    )
    record_change(db, "assignment", assignment_id, deleted=True)
    withdraw_notifications(db, assignment_id)
    return assignment


def reassign_assignment(
    db: Database,
    assignment_id: int,
    shopper: Any,
    *,
    created_by: int | None,
    policy: AssignmentPolicy,
    now: datetime,
) -> dict[str, Any]:
    """Give an open assignment to another shopper: the old one is cancelled, a new one made."""
    with transaction(db):
        old = _cancel(db, assignment_id, now)
        data = {
            "shopper": shopper,
            "location_id": old["location_id"],
            "checklist": old["checklist_slug"],
            "scenario": old["scenario"],
            "window_start": old["window_start"],
            "window_end": old["window_end"],
        }
        row, problems = check_assignment(db, data, policy, now)
        if problems:
            raise Invalid("The assignment cannot go to that shopper.", fields=problems)
        new_id = insert_assignment(db, row, created_by, now)
        db.execute("UPDATE assignments SET replaced_by = ? WHERE id = ?", [new_id, assignment_id])
    return present(load(db, new_id), admin=True)


def withdraw_notifications(db: Database, assignment_id: int) -> None:
    """Withdraw from the feed the reminders of an assignment that is no longer open."""
    # A reminder about an assignment that is no longer open is withdrawn from the feed.
    ids = [
        r[0]
        for r in db.execute("SELECT id FROM notifications WHERE assignment_id = ?", [assignment_id])
    ]
    record_changes(db, "notification", ids, deleted=True)


# Reading ---------------------------------------------------------------------------------

SELECT = (
    "SELECT a.*, l.name AS location_name, l.timezone, u.username, u.display_name"
    " FROM assignments a JOIN locations l ON l.id = a.location_id"
    " JOIN users u ON u.id = a.shopper_id"
)


def load(db: Database, assignment_id: int) -> dict[str, Any]:
    """Return an assignment row with its location and shopper, or 404."""
    assignment = one(db.execute(f"{SELECT} WHERE a.id = ?", [assignment_id]))
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def present(row: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    """Return the API representation of an assignment; the shopper's identity for admins only."""
    body = {
        "id": row["id"],
        "location_id": row["location_id"],
        "location_name": row["location_name"],
        "timezone": row["timezone"],
        "checklist": row["checklist_slug"],
        "scenario": row["scenario"],
        "window_start": row["window_start"],
        "window_end": row["window_end"],
        "status": row["status"],
        "visit_id": row["visit_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "submitted_at": row["submitted_at"],
        "expired_at": row["expired_at"],
        "cancelled_at": row["cancelled_at"],
    }
    if admin:
        body["shopper"] = {
            "id": row["shopper_id"],
            "username": row["username"],
            "display_name": row["display_name"],
        }
        body["replaced_by"] = row["replaced_by"]
        body["reminded_at"] = row["reminded_at"]
    return body


def get_assignment(db: Database, principal: Principal, assignment_id: int) -> dict[str, Any]:
    """Return one assignment: a shopper only their own (404 otherwise), an admin any."""
    assignment = load(db, assignment_id)
    if not principal.is_admin and assignment["shopper_id"] != principal.user_id:
        raise NotFound("No such assignment.")
    return present(assignment, admin=principal.is_admin)


ASSIGNMENT_PAGES = Keyset("assignments", ("a.id",))


def list_assignments(
    db: Database,
    principal: Principal,
    *,
    shopper: Any = None,
    location_id: int | None = None,
    status: str | None = None,
    window_from: str | None = None,
    window_to: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Return a page of assignments by id: a shopper's own, or any an admin filters for."""
    conditions: list[str] = ["1"]
    params: list[Any] = []
    if not principal.is_admin:
        conditions.append("a.shopper_id = ?")
        params.append(principal.user_id)
    elif shopper is not None:
        user = find_shopper(db, shopper)
        conditions.append("a.shopper_id = ?")
        params.append(user["id"] if user else -1)
    if location_id is not None:
        conditions.append("a.location_id = ?")
        params.append(location_id)
    if status is not None:
        conditions.append("a.status = ?")
        params.append(status)
    for name, value, sql in (
        ("window_from", window_from, "a.window_end > ?"),
        ("window_to", window_to, "a.window_start < ?"),
    ):
        if value is not None:
            try:
                bound = to_rfc3339(parse_rfc3339(value))
            except (ValueError, OverflowError) as error:
                raise Invalid(
                    f"{name} is not a timestamp.", fields={name: ["must be RFC 3339"]}
                ) from error
            conditions.append(sql)
            params.append(bound)
    page, next_cursor, has_more = ASSIGNMENT_PAGES.fetch(
        db, SELECT, conditions, params, limit=limit, cursor=cursor
    )
    return {
        "assignments": [present(a, admin=principal.is_admin) for a in page],
        "cursor": next_cursor,
        "has_more": has_more,
    }
