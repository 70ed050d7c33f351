"""Review before release: release a submitted mystery shop, or return it for correction.

Every review action is kept in `reviews` (who, when, which revision, the note and the
comments per item). A returned visit reaches its observer through the pull feed
(`returned_visits`, with the note and comments) and comes back as the next revision,
which is submitted and reviewed again.
"""

from __future__ import annotations

import json
from typing import Any

from fieldobs import events
from fieldobs.checklists.format import item_index
from fieldobs.checklists.published import get_version
from fieldobs.errors import Conflict, Invalid, NotFound
from fieldobs.people.scope import Principal
from fieldobs.storage.changes import record_change
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import now_rfc3339

ACTIONS = ("release", "return")
MAX_NOTE_LENGTH = 5000
MAX_ITEM_COMMENT_LENGTH = 2000


def note_problems(action: Any, note: Any) -> dict[str, list[str]]:
    """Return the problem of a review's note for its action: a return must say what to fix."""
    if action == "return" and not (note or "").strip():
        return {"note": ["say what to correct: the shopper reads this"]}
    return {}


def _load(db: Database, visit_id: str) -> dict[str, Any]:
    visit = one(db.execute("SELECT * FROM visits WHERE id = ?", [visit_id.lower()]))
    if visit is None:
        raise NotFound("No such visit.")
    return visit


def release_visit(db: Database, visit_id: str) -> dict[str, Any]:
    """Release a submitted visit so it counts and store-side staff can see it."""
    with transaction(db):  # a savepoint inside a caller's transaction (review_visit's)
        return _release(db, visit_id)


def _release(db: Database, visit_id: str) -> dict[str, Any]:
    visit = _load(db, visit_id)
    if visit["status"] != "submitted":
        raise Conflict(
            f"Only a submitted visit can be released; this one is {visit['status']}.",
            code="not_submitted",
        )
    now = now_rfc3339()
    db.execute(
        "UPDATE visits SET status = 'released', released_at = ?, updated_at = ? WHERE id = ?",
        [now, now, visit["id"]],
    )
    after = {**visit, "status": "released", "released_at": now, "updated_at": now}
    events.emit(db, events.VISIT_CHANGED, {"before": visit, "after": after})
    events.emit(db, events.VISIT_RELEASED, {"visit": after})
    return after


def return_visit(db: Database, visit_id: str, note: str | None = None) -> dict[str, Any]:
    """Return a visit to its observer for correction."""
    with transaction(db):  # a savepoint inside a caller's transaction (review_visit's)
        return _return(db, visit_id, note)


def _return(db: Database, visit_id: str, note: str | None) -> dict[str, Any]:
    visit = _load(db, visit_id)
    if visit["status"] not in ("submitted", "released", "awaiting_photos"):
        raise Conflict(f"This visit is already {visit['status']}.", code="not_returnable")
    now = now_rfc3339()
    db.execute(
        "UPDATE visits SET status = 'returned', released_at = NULL, updated_at = ? WHERE id = ?",
        [now, visit["id"]],
    )
    after = {**visit, "status": "returned", "released_at": None, "updated_at": now}
    events.emit(db, events.VISIT_CHANGED, {"before": visit, "after": after})
    events.emit(db, events.VISIT_RETURNED, {"visit": after, "note": note})
    return after


# Reviewing with an audit trail -----------------------------------------------------------


def _check_comments(
    db: Database, visit: dict[str, Any], item_comments: dict[str, str]
) -> dict[str, list[str]]:
    if not item_comments:
        return {}
    items = item_index(get_version(db, visit["checklist_slug"], visit["checklist_version"]))
    return {
        f"item_comments.{item}": [
            f"no item {item!r} in {visit['checklist_slug']} v{visit['checklist_version']}"
        ]
        for item in item_comments
        if item not in items
    }


def review_visit(
    db: Database,
    reviewer: Principal,
    visit_id: str,
    *,
    action: str,
    note: str | None = None,
    item_comments: dict[str, str] | None = None,
    revision: int | None = None,
) -> dict[str, Any]:
    """Release or return a visit and record who did it, when and why, in one transaction.

    `revision`, when given, must be the visit's current revision: a reviewer never acts on
    a correction they have not seen.
    """
    comments = dict(item_comments or {})
    with transaction(db):
        visit = _load(db, visit_id)
        if revision is not None and revision != visit["revision"]:
            raise Conflict(
                f"The visit is at revision {visit['revision']}, not {revision}.",
                code="stale_revision",
                fields={"revision": [f"the server holds revision {visit['revision']}"]},
            )
        problems = {**_check_comments(db, visit, comments), **note_problems(action, note)}
        if action not in ACTIONS:
            problems["action"] = [f"must be one of {', '.join(ACTIONS)}"]
        if problems:
            raise Invalid("The review is invalid.", fields=problems)
        if action == "release":
            after = release_visit(db, visit["id"])
        else:
            after = return_visit(db, visit["id"], note)
        review_id = db.execute(
            "INSERT INTO reviews (visit_id, revision, action, reviewer_id, note, item_comments,"
            " status_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                visit["id"],
                visit["revision"],
                action,
                reviewer.user_id,
                note,
                json.dumps(comments, ensure_ascii=False),
                visit["status"],
                after["updated_at"],
            ],
        ).lastrowid
    review = list_reviews(db, visit["id"], review_id=int(review_id or 0))[0]
    return {
        "visit": {"id": after["id"], "revision": after["revision"], "status": after["status"]},
        "review": review,
    }


REVIEW_SELECT = (
    "SELECT r.*, u.username AS reviewer_username, u.display_name AS reviewer_display_name"
    " FROM reviews r JOIN users u ON u.id = r.reviewer_id"
)


def _present_review(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "visit_id": row["visit_id"],
        "revision": row["revision"],
        "action": row["action"],
        "note": row["note"],
        "item_comments": json.loads(row["item_comments"]),
        "status_before": row["status_before"],
        "reviewer": {
            "id": row["reviewer_id"],
            "username": row["reviewer_username"],
            "display_name": row["reviewer_display_name"],
        },
        "created_at": row["created_at"],
    }


def list_reviews(
    db: Database, visit_id: str, *, review_id: int | None = None
) -> list[dict[str, Any]]:
    """Return a visit's review trail, oldest first (for admins: it names people)."""
    visit = _load(db, visit_id)
    sql, params = f"{REVIEW_SELECT} WHERE r.visit_id = ?", [visit["id"]]
    if review_id is not None:
        sql, params = f"{sql} AND r.id = ?", [*params, review_id]
    return [_present_review(r) for r in rows(db.execute(f"{sql} ORDER BY r.id", params))]


# The queue -------------------------------------------------------------------------------


# Longest waiting first; the id breaks ties. Its cursors are sealed (fieldobs/storage/paging.py).
QUEUE_PAGES = Keyset("review_queue", ("v.submitted_at", "v.id"))


def review_queue(
    db: Database, *, location_id: int | None = None, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """Return submitted mystery shops awaiting review, longest waiting first."""
    conditions = ["v.kind = 'mystery_shop'", "v.status = 'submitted'"]
    params: list[Any] = []
    if location_id is not None:
        conditions.append("v.location_id = ?")
        params.append(location_id)
    page, next_cursor, has_more = QUEUE_PAGES.fetch(
        db,
        "SELECT v.id, v.revision, v.location_id, l.name AS location_name, v.checklist_slug,"
        " v.checklist_version, v.observer_id, u.username, u.display_name, v.score,"
        " v.flags, v.assignment_id, v.received_at, v.submitted_at,"
        " (SELECT count(*) FROM reviews r WHERE r.visit_id = v.id"
        "  AND r.action = 'return') AS times_returned"
        " FROM visits v JOIN locations l ON l.id = v.location_id"
        " JOIN users u ON u.id = v.observer_id",
        conditions,
        params,
        limit=limit,
        cursor=cursor,
    )
    visits = [
        {
            "id": v["id"],
            "revision": v["revision"],
            "location_id": v["location_id"],
            "location_name": v["location_name"],
            "checklist": {"slug": v["checklist_slug"], "version": v["checklist_version"]},
            "observer": {
                "id": v["observer_id"],
                "username": v["username"],
                "display_name": v["display_name"],
            },
            "score": None if v["score"] is None else round(v["score"], 1),
            "flags": json.loads(v["flags"]),
            "assignment_id": v["assignment_id"],
            "received_at": v["received_at"],
            "submitted_at": v["submitted_at"],
            "times_returned": v["times_returned"],
        }
        for v in page
    ]
    return {"visits": visits, "cursor": next_cursor, "has_more": has_more}


# The observer's side: returned visits in the pull feed -----------------------------------


def on_visit_returned(db: Database, payload: dict[str, Any]) -> None:
    """Put a returned visit in its observer's pull feed (a VISIT_RETURNED handler)."""
    record_change(db, "visit", payload["visit"]["id"])


def on_visit_changed(db: Database, payload: dict[str, Any]) -> None:
    """Withdraw a visit from the returned feed once corrected (a VISIT_CHANGED handler)."""
    before, after = payload["before"], payload["after"]
    if before is not None and before["status"] == "returned" and after["status"] != "returned":
        record_change(db, "visit", after["id"], deleted=True)


def load_returned_feed(
    db: Database, principal: Principal, keys: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """Return the caller's own visits awaiting correction, with the reviewer's note."""
    found = rows(
        db.execute(
            "SELECT * FROM visits WHERE id IN (SELECT value FROM json_each(?))"
            " AND observer_id = ? ORDER BY id",
            [json.dumps(keys), principal.user_id],
        )
    )
    items, deleted = [], []
    for visit in found:
        if visit["status"] != "returned":
            deleted.append(visit["id"])
            continue
        review = one(
            db.execute(
                "SELECT note, item_comments, created_at FROM reviews WHERE visit_id = ?"
                " AND action = 'return' ORDER BY id DESC LIMIT 1",
                [visit["id"]],
            )
        )
        # The reviewer's name is left out: the shopper needs what to fix, not who asked.
        items.append(
            {
                "id": visit["id"],
                "revision": visit["revision"],
                "next_revision": visit["revision"] + 1,
                "status": visit["status"],
                "location_id": visit["location_id"],
                "checklist": {
                    "slug": visit["checklist_slug"],
                    "version": visit["checklist_version"],
                },
                "returned_at": review["created_at"] if review else visit["updated_at"],
                "note": review["note"] if review else None,
                "item_comments": json.loads(review["item_comments"]) if review else {},
                "visit": json.loads(visit["body"]),
            }
        )
    return items, deleted
