"""Incremental pull: what changed since the phone's cursor, within the caller's scope."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fieldobs.checklists.published import get_latest
from fieldobs.errors import Gone
from fieldobs.people.scope import Principal
from fieldobs.storage.app_state import AppState
from fieldobs.storage.changes import current_seq
from fieldobs.storage.connection import Database, rows
from fieldobs.storage.paging import CursorError, ForeignCursor, seal, unseal
from fieldobs.stored_integers import is_stored_integer
from fieldobs.timeutil import now_rfc3339

# entity name -> (response key, loader). A loader takes the changed keys in scope order and
# returns (items to send, keys to announce as deleted) for this caller.
Loader = Callable[[Database, Principal, list[str]], tuple[list[dict[str, Any]], list[Any]]]


@dataclass(frozen=True)
class Feed:
    """One kind of entity in the pull feed."""

    response_key: str
    loader: Loader


# The contract's keys are always present, even before anything of their kind exists.
CONTRACT_KEYS = ("checklists", "locations", "assignments")


class Feeds:
    """One app's entity kinds in the pull feed: checklists and locations, then those added."""

    def __init__(self) -> None:
        self.by_entity: dict[str, Feed] = {
            "checklist": Feed("checklists", _load_checklists),
            "location": Feed("locations", _load_locations),
        }


def register_feed(state: AppState, entity: str, response_key: str, loader: Loader) -> None:
    """Add an entity kind to the app's pull feed."""
    state.get(Feeds).by_entity[entity] = Feed(response_key, loader)


def _load_checklists(
    db: Database, _principal: Principal, keys: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    items = []
    for slug in keys:
        checklist = get_latest(db, slug)
        items.append({k: v for k, v in checklist.items() if k != "etag"})
    return items, []


def _load_locations(
    db: Database, principal: Principal, keys: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    found = rows(
        db.execute(
            "SELECT id, name, area_id, timezone, address, deleted_at FROM locations"
            " WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps([int(k) for k in keys])],
        )
    )
    items, deleted = [], []
    for location in found:
        if not principal.sees_location(location["id"]):
            continue
        if location.pop("deleted_at"):
            deleted.append(location["id"])
        else:
            items.append(location)
    return items, deleted


# Cursors ---------------------------------------------------------------------------------

PULL_CURSOR = "pull"


def _scope_digest(principal: Principal) -> str:
    # A cursor is only valid for the scope it was made for: a widened scope needs a full pull.
    scope = [
        principal.role.value,
        sorted(principal.location_ids) if principal.location_ids is not None else None,
        sorted(principal.area_ids) if principal.area_ids is not None else None,
    ]
    return hashlib.sha256(json.dumps(scope).encode()).hexdigest()[:16]


def make_cursor(db: Database, principal: Principal, seq: int) -> str:
    """Return an opaque cursor for a position in the change sequence, for this caller only."""
    # Sealed like every list's cursor (fieldobs/storage/paging.py): the phone cannot read it.
    return seal(db, PULL_CURSOR, [seq, principal.user_id, _scope_digest(principal)])


def read_cursor(db: Database, principal: Principal, cursor: str) -> int:
    """Return the sequence a cursor stands for; 400 for garbage, 410 when stale or foreign."""
    try:
        values = unseal(db, PULL_CURSOR, cursor)
    except ForeignCursor as error:
        # Made by another server or for another database: start over.
        raise Gone(
            "The cursor is from another server; pull again without one.", code="cursor_gone"
        ) from error
    if len(values) != 3 or not is_stored_integer(values[0]):
        raise CursorError()
    seq, user_id, scope = values
    foreign = user_id != principal.user_id or scope != _scope_digest(principal)
    if foreign or seq > current_seq(db) or seq < _horizon(db):
        raise Gone("The cursor is stale or foreign; pull again without one.", code="cursor_gone")
    return int(seq)


def _horizon(db: Database) -> int:
    row = db.execute("SELECT value FROM server_meta WHERE key = 'pull_horizon'").fetchone()
    return int(row[0]) if row else 0


def pull_changes(
    db: Database, principal: Principal, cursor: str | None, limit: int
) -> dict[str, Any]:
    """Return up to `limit` changed entities after the cursor, each once, in its latest state."""
    after = read_cursor(db, principal, cursor) if cursor else 0
    changed = rows(
        db.execute(
            "SELECT seq, entity, entity_key, deleted FROM changes WHERE seq > ?"
            " ORDER BY seq LIMIT ?",
            [after, limit + 1],
        )
    )
    has_more = len(changed) > limit
    changed = changed[:limit]
    response: dict[str, Any] = {
        "cursor": None,
        "has_more": has_more,
        "server_time": now_rfc3339(),
        "deleted": {},
    }
    for entity, feed in db.app_state.get(Feeds).by_entity.items():
        keys = [
            c["entity_key"]
            for c in changed
            # A first pull is a snapshot: tombstones of things the phone never had are noise.
            if c["entity"] == entity and not (after == 0 and c["deleted"])
        ]
        items, deleted = feed.loader(db, principal, keys) if keys else ([], [])
        response[feed.response_key] = items
        response["deleted"][feed.response_key] = deleted
    for key in CONTRACT_KEYS:
        response.setdefault(key, [])
        response["deleted"].setdefault(key, [])
    last_seq = changed[-1]["seq"] if changed else after
    response["cursor"] = make_cursor(db, principal, last_seq)
    return response
