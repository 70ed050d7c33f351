"""Assignments: which shopper makes which mystery shop where, and by when.

An assignment is `open` until a visit for it arrives (`submitted`), its window passes
(`expired`, by the scheduled job) or an admin cancels it (`cancelled`). Shoppers receive
their own through the pull feed; store-side staff never see one (it would reveal an upcoming
mystery shop).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fieldobs import events
from fieldobs.checklists.published import get_latest
from fieldobs.errors import Conflict, Invalid, NotFound
from fieldobs.people.scope import Principal, Role, resolve_principal
from fieldobs.storage.changes import record_change, record_changes
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import parse_rfc3339, to_rfc3339

ASSIGNMENT_EXPIRED = "assignment.expired"  # payload: {"assignment": row}

STATUSES = ("open", "submitted", "expired", "cancelled")
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CSV_REQUIRED = ("shopper", "checklist", "window_start", "window_end")


@dataclass(frozen=True)
class AssignmentPolicy:
    """The rules a new assignment is checked against."""

    cooldown_days: float = 90


# Reading the request -------------------------------------------------------------------


def parse_window_time(text: str, timezone: str, *, end: bool) -> datetime:
    """Return a window bound in UTC: RFC 3339 as given, else local time in `timezone`.

    `2026-11-23T09:00` (no offset) is wall-clock time at the location. A date alone is the
    start of that local day, or for a window's end the end of that day. A local time the
    clocks skip (spring forward) is refused; one that happens twice is the first.
    """
    text = text.strip()
    if DATE_ONLY.match(text):
        day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
        moment = datetime.combine(day, time(0))
    else:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    zone = ZoneInfo(timezone)
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValueError(f"{text} does not exist in {timezone} (the clocks go forward)")
    return local.astimezone(UTC)


def find_shopper(db: Database, value: Any) -> dict[str, Any] | None:
    """Return the user named by a JSON number (user id) or a string (username, else an id)."""
    if isinstance(value, bool) or value is None:
        return None
    columns = "SELECT id, username, display_name, role, disabled_at FROM users"
    if isinstance(value, int):
        return one(db.execute(f"{columns} WHERE id = ?", [value]))
    text = str(value).strip()
    user = one(db.execute(f"{columns} WHERE username = ?", [text]))
    if user is None and text.isdigit():
        user = one(db.execute(f"{columns} WHERE id = ?", [int(text)]))
    return user


def _problems(
    db: Database, data: dict[str, Any], policy: AssignmentPolicy, now: datetime
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check a requested assignment; return the row to insert and the problems by field."""
    problems: dict[str, list[str]] = {}
    shopper = find_shopper(db, data.get("shopper"))
    if shopper is None:
        problems["shopper"] = ["no such user (give a username or a user id)"]
    elif shopper["role"] != Role.SHOPPER or shopper["disabled_at"]:
        problems["shopper"] = [f"{shopper['username']} is not an active shopper"]
    location = one(
        db.execute(
            "SELECT id, timezone FROM locations WHERE id = ? AND deleted_at IS NULL",
            [data.get("location_id")],
        )
    )
    if location is None:
        problems["location_id"] = ["no such location"]
    slug = data.get("checklist")
    try:
        checklist = get_latest(db, str(slug))
        if checklist["kind"] != "mystery_shop":
            problems["checklist"] = [f"{slug!r} is a {checklist['kind']}, not a mystery shop"]
    except NotFound:
        problems["checklist"] = [f"no published checklist {slug!r}"]
    window: dict[str, datetime] = {}
    for name in ("window_start", "window_end"):
        raw = data.get(name)
        if not isinstance(raw, str) or not raw.strip():
            problems[name] = ["required: RFC 3339, or a local date-time or date"]
            continue
        try:
            window[name] = parse_window_time(
                raw, location["timezone"] if location else "UTC", end=name == "window_end"
            )
        except ValueError as error:
            problems[name] = [f"not a time: {error}"]
    if len(window) == 2:
        if window["window_end"] <= window["window_start"]:
            problems.setdefault("window_end", []).append("must be after window_start")
        elif window["window_end"] <= now:
            problems.setdefault("window_end", []).append("is in the past")
    row = {
        "shopper_id": shopper["id"] if shopper else None,
        "location_id": location["id"] if location else None,
        "checklist_slug": slug,
        "window_start": to_rfc3339(window["window_start"]) if "window_start" in window else None,
        "window_end": to_rfc3339(window["window_end"]) if "window_end" in window else None,
    }
    if not problems and shopper is not None and location is not None:
        scope = resolve_principal(db, shopper["id"], shopper["username"], shopper["role"])
        if not scope.sees_location(location["id"]):
            problems["location_id"] = [f"outside {shopper['username']}'s scope"]
        elif clash := _cooldown_clash(db, row, policy):
            problems["location_id"] = [f"{shopper['username']} {clash}"]
    return row, problems


def _cooldown_clash(db: Database, row: dict[str, Any], policy: AssignmentPolicy) -> str | None:
    """Tell why the shopper may not go to this location again so soon, or None."""
    cooldown = timedelta(days=policy.cooldown_days)
    earliest = to_rfc3339(parse_rfc3339(row["window_start"]) - cooldown)
    latest = to_rfc3339(parse_rfc3339(row["window_end"]) + cooldown)
    # Expired and cancelled assignments were never carried out: the staff never saw the shopper.
    other = one(
        db.execute(
            "SELECT id, window_start, window_end FROM assignments WHERE shopper_id = ?"
            " AND location_id = ? AND status IN ('open', 'submitted')"
            " AND window_end > ? AND window_start < ? ORDER BY window_start LIMIT 1",
            [row["shopper_id"], row["location_id"], earliest, latest],
        )
    )
    days = f"{policy.cooldown_days:g}"
    if other is not None:
        return (
            f"is assigned this location already (assignment {other['id']},"
            f" {other['window_start']} to {other['window_end']}); windows at the same"
            f" location must be {days} days apart"
        )
    visit = one(
        db.execute(
            "SELECT observed_at FROM visits WHERE observer_id = ? AND location_id = ?"
            " AND kind = 'mystery_shop' AND observed_at > ? AND observed_at < ?"
            " ORDER BY observed_at DESC LIMIT 1",
            [row["shopper_id"], row["location_id"], earliest, latest],
        )
    )
    if visit is not None:
        return (
            f"visited this location at {visit['observed_at']}; the staff may recognise them"
            f" within {days} days"
        )
    return None


# Writing ---------------------------------------------------------------------------------


def _insert(db: Database, row: dict[str, Any], created_by: int | None, now: datetime) -> int:
    stamp = to_rfc3339(now)
    assignment_id = int(
        db.execute(
            "INSERT INTO assignments (shopper_id, location_id, checklist_slug, window_start,"
            " window_end, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row["shopper_id"],
                row["location_id"],
                row["checklist_slug"],
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
) -> dict[str, Any]:
    """Create an open assignment; 422 naming each bad field."""
    with transaction(db):
        row, problems = _problems(db, data, policy, now)
        if problems:
            raise Invalid("The assignment is invalid.", fields=problems)
        assignment_id = _insert(db, row, created_by, now)
    return present(load(db, assignment_id), admin=True)


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
            row, found = _problems(db, data, policy, now)
            if found:
                problems[f"line {line_number}"] = [
                    f"{name}: {problem}" for name, listed in found.items() for problem in listed
                ]
            else:
                created.append(_insert(db, row, created_by, now))
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
    _touch_notifications(db, assignment_id)
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
            "window_start": old["window_start"],
            "window_end": old["window_end"],
        }
        row, problems = _problems(db, data, policy, now)
        if problems:
            raise Invalid("The assignment cannot go to that shopper.", fields=problems)
        new_id = _insert(db, row, created_by, now)
        db.execute("UPDATE assignments SET replaced_by = ? WHERE id = ?", [new_id, assignment_id])
    return present(load(db, new_id), admin=True)


def _touch_notifications(db: Database, assignment_id: int) -> None:
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
                moment = parse_rfc3339(value)
            except ValueError as error:
                raise Invalid(
                    f"{name} is not a timestamp.", fields={name: ["must be RFC 3339"]}
                ) from error
            conditions.append(sql)
            params.append(to_rfc3339(moment))
    after, after_values = ASSIGNMENT_PAGES.after(db, cursor)
    found = rows(
        db.execute(
            f"{SELECT} WHERE {' AND '.join(conditions)} AND {after}"
            f" ORDER BY {ASSIGNMENT_PAGES.order_by} LIMIT ?",
            [*params, *after_values, limit + 1],
        )
    )
    page, next_cursor, has_more = ASSIGNMENT_PAGES.page(db, found, limit, cursor)
    return {
        "assignments": [present(a, admin=principal.is_admin) for a in page],
        "cursor": next_cursor,
        "has_more": has_more,
    }


# Visits against assignments --------------------------------------------------------------


def _in_window(assignment: dict[str, Any], started_at: str, finished_at: str) -> bool:
    start, end = parse_rfc3339(assignment["window_start"]), parse_rfc3339(assignment["window_end"])
    return start <= parse_rfc3339(started_at) and parse_rfc3339(finished_at) <= end


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
    if not _in_window(assignment, data["started_at"], data["finished_at"]):
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
    late_but_in_time = assignment["status"] == "expired" and _in_window(
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
    _touch_notifications(db, assignment["id"])


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


# Scheduled work --------------------------------------------------------------------------


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
            _touch_notifications(db, assignment["id"])
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
