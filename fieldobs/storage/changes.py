"""The server-side change sequence behind incremental pull."""

from __future__ import annotations

from collections.abc import Iterable

from fieldobs.storage.connection import Database
from fieldobs.timeutil import now_rfc3339


def record_change(db: Database, entity: str, key: object, *, deleted: bool = False) -> None:
    """Move an entity to the head of the change feed; call inside the changing transaction."""
    record_changes(db, entity, [key], deleted=deleted)


def record_changes(
    db: Database, entity: str, keys: Iterable[object], *, deleted: bool = False
) -> None:
    """Move many entities to the head of the change feed in one statement."""
    now = now_rfc3339()
    # DELETE + INSERT (REPLACE) gives the row a fresh, higher seq: each entity stays once
    # in the feed, in its latest state.
    db.conn.executemany(
        "INSERT OR REPLACE INTO changes (entity, entity_key, deleted, changed_at)"
        " VALUES (?, ?, ?, ?)",
        [(entity, str(key), int(deleted), now) for key in keys],
    )


def current_seq(db: Database) -> int:
    """Return the highest sequence number handed out so far."""
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return int(row[0]) if row else 0
