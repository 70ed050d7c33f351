"""Reading visits: scope, presentation for the caller, and the paged list."""

from __future__ import annotations

import json
from typing import Any

from fieldobs.checklists.published import get_version
from fieldobs.errors import NotFound
from fieldobs.people.anonymity import is_store_side, present_for, round_to_hour
from fieldobs.people.scope import Principal, Role
from fieldobs.scoring.engine import score_visit
from fieldobs.storage.connection import Database, one
from fieldobs.storage.paging import Keyset
from fieldobs.timeutil import parse_rfc3339, to_rfc3339
from fieldobs.visits.states import photo_states, rounded, stored_sections


def visibility_clause(principal: Principal) -> tuple[str, list[object]]:
    """Return the SQL condition on `visits` that keeps what the caller may see."""
    if principal.role is Role.ADMIN:
        return "1", []
    if principal.role is Role.SHOPPER:
        return "visits.observer_id = ?", [principal.user_id]
    clause, params = principal.location_clause("visits.location_id")
    # Store-side staff see a mystery shop only once it is released.
    return f"({clause}) AND (visits.kind = 'walkthrough' OR visits.status = 'released')", params


def find_visible(db: Database, principal: Principal, visit_id: str) -> dict[str, Any]:
    """Return a visit row the caller may see, or 404 (never revealing that it exists)."""
    clause, params = visibility_clause(principal)
    visit = one(
        db.execute(f"SELECT * FROM visits WHERE id = ? AND {clause}", [visit_id.lower(), *params])
    )
    if visit is None:
        raise NotFound("No such visit.")
    return visit


def present(
    db: Database, principal: Principal, visit: dict[str, Any], secret: str
) -> dict[str, Any]:
    """Return the API representation of a visit for this caller."""
    body = json.loads(visit["body"])
    body.update(
        {
            "revision": visit["revision"],
            "status": visit["status"],
            "kind": visit["kind"],
            "score": rounded(visit["score"]),
            "sections": stored_sections(visit),
            "photos": photo_states(db, visit["id"], visit["observer_id"]),
            "received_at": visit["received_at"],
            "updated_at": visit["updated_at"],
            "observed_at": visit["observed_at"],
            "submitted_at": visit["submitted_at"],
            "released_at": visit["released_at"],
            "flags": json.loads(visit["flags"]),
            "breakdown": explain_score(db, visit, body["answers"]),
        }
    )
    return present_for(db, principal, visit, body, secret)


def explain_score(
    db: Database, visit: dict[str, Any], answers: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the visit's score breakdown with the reason for every item."""
    # Written on read: the push stored the numbers only, and the version is immutable.
    checklist = get_version(db, visit["checklist_slug"], visit["checklist_version"])
    return score_visit(checklist, answers).to_dict()


def get_visit(db: Database, principal: Principal, visit_id: str, secret: str) -> dict[str, Any]:
    """Return one visit in the caller's scope."""
    return present(db, principal, find_visible(db, principal, visit_id), secret)


# Oldest change first; the id breaks ties. Its cursors are sealed (fieldobs/storage/paging.py).
VISIT_PAGES = Keyset("visits", ("visits.updated_at", "visits.id"))


def _since_for(principal: Principal, since: str) -> str:
    """Return `since` in UTC, floored to the hour for store-side staff (who see hours only)."""
    # A filter finer than what is shown would let a manager find a release time by bisecting.
    moment = to_rfc3339(parse_rfc3339(since))
    floored = round_to_hour(moment) if is_store_side(principal) else None
    return floored or moment


def list_visits(
    db: Database,
    principal: Principal,
    secret: str,
    *,
    location_id: int | None = None,
    status: str | None = None,
    since: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Return a page of visits in scope, oldest change first, with a cursor for the next."""
    clause, params = visibility_clause(principal)
    conditions, values = [clause], list(params)
    if location_id is not None:
        conditions.append("visits.location_id = ?")
        values.append(location_id)
    if status is not None:
        conditions.append("visits.status = ?")
        values.append(status)
    if since is not None:
        conditions.append("visits.updated_at >= ?")
        values.append(_since_for(principal, since))
    page, next_cursor, has_more = VISIT_PAGES.fetch(
        db, "SELECT * FROM visits", conditions, values, limit=limit, cursor=cursor
    )
    return {
        "visits": [present(db, principal, visit, secret) for visit in page],
        "cursor": next_cursor,
        "has_more": has_more,
    }
