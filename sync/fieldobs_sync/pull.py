"""Pull server changes into a local replica, with a durable cursor."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fieldobs_sync import db
from fieldobs_sync.client import ApiClient
from fieldobs_sync.errors import HttpError, ProtocolError

# Kept by id: the contract's locations and assignments, and what the shopper must act on —
# visits a reviewer returned for correction (with the note) and reminders.
_BY_ID = ("locations", "assignments", "returned_visits", "notifications")
_TABLES = ("checklists", *_BY_ID)


def _key(value: Any) -> str:
    """Return the storage key of a server id (ints and strings alike)."""
    return str(value)


@dataclass
class PullReport:
    """What one pull did."""

    pages: int = 0
    checklists: int = 0
    locations: int = 0
    assignments: int = 0
    returned_visits: int = 0
    notifications: int = 0
    deleted_locations: int = 0
    deleted_assignments: int = 0
    deleted_returned_visits: int = 0
    deleted_notifications: int = 0
    restarted: bool = False
    cursor: str | None = None
    server_time: str | None = None
    notes: list[str] = field(default_factory=list)
    # The reminders this pull brought, to show the user at once.
    reminders: list[dict[str, Any]] = field(default_factory=list)


class Replica:
    """The phone's read-only copy of checklists, locations and assignments."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._conn = db.connect(self.path)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Replica:
        """Return self for `with`."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving `with`."""
        self.close()

    def _state(self, key: str) -> str | None:
        """Read one value of pull state."""
        row = self._conn.execute("SELECT value FROM pull_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def cursor(self) -> str | None:
        """Return the cursor of the last applied page, None before the first pull."""
        with self._lock:
            return self._state("cursor")

    def server_time(self) -> str | None:
        """Return the server time of the last applied page."""
        with self._lock:
            return self._state("server_time")

    def apply(self, page: Mapping[str, Any], *, reset: bool = False) -> PullReport:
        """Apply one page and store its cursor in one transaction; `reset` wipes first."""
        # Upserts are keyed (checklists by slug and version, the rest by id), so applying the
        # same page twice changes nothing.
        cursor = page.get("cursor")
        if cursor is None or not isinstance(page.get("has_more"), bool):
            raise ProtocolError("a changes page needs `cursor` and a boolean `has_more`")
        report = PullReport(pages=1, cursor=_key(cursor), server_time=page.get("server_time"))
        deleted = page.get("deleted") or {}
        if not isinstance(deleted, Mapping):
            raise ProtocolError("`deleted` must be an object")
        with self._lock, db.transaction(self._conn):
            if reset:
                for table in (*_TABLES, "pull_state"):
                    self._conn.execute(f"DELETE FROM {table}")
            for item in self._items(page, "checklists", ("slug", "version")):
                self._conn.execute(
                    "INSERT OR REPLACE INTO checklists (slug, version, body) VALUES (?, ?, ?)",
                    (str(item["slug"]), int(item["version"]), json.dumps(item)),
                )
                report.checklists += 1
            for table in _BY_ID:
                for item in self._items(page, table, ("id",)):
                    self._conn.execute(
                        f"INSERT OR REPLACE INTO {table} (id, body) VALUES (?, ?)",
                        (_key(item["id"]), json.dumps(item)),
                    )
                    setattr(report, table, getattr(report, table) + 1)
                    if table == "notifications":
                        report.reminders.append(item)
                gone = deleted.get(table) or []
                if not isinstance(gone, list):
                    raise ProtocolError(f"`deleted.{table}` must be a list of ids")
                for gid in gone:
                    self._conn.execute(f"DELETE FROM {table} WHERE id = ?", (_key(gid),))
                setattr(report, f"deleted_{table}", len(gone))
            self._conn.execute(
                "INSERT OR REPLACE INTO pull_state (key, value) VALUES ('cursor', ?)",
                (_key(cursor),),
            )
            if page.get("server_time") is not None:
                self._conn.execute(
                    "INSERT OR REPLACE INTO pull_state (key, value) VALUES ('server_time', ?)",
                    (str(page["server_time"]),),
                )
        return report

    @staticmethod
    def _items(page: Mapping[str, Any], name: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
        """Return a page's list of objects, checking each carries its keys."""
        items = page.get(name) or []
        if not isinstance(items, list):
            raise ProtocolError(f"`{name}` must be a list")
        for item in items:
            if not isinstance(item, dict) or any(item.get(k) is None for k in keys):
                raise ProtocolError(f"every item of `{name}` needs {', '.join(keys)}")
            if "version" in keys and not isinstance(item["version"], int):
                raise ProtocolError(f"`{name}` versions are integers, got {item['version']!r}")
        return items

    def forget(self) -> None:
        """Drop the cursor and everything pulled."""
        with self._lock, db.transaction(self._conn):
            for table in (*_TABLES, "pull_state"):
                self._conn.execute(f"DELETE FROM {table}")

    def _bodies(self, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Run a query of body columns and decode them."""
        with self._lock:
            return [json.loads(r[0]) for r in self._conn.execute(sql, args)]

    def checklists(self) -> list[dict[str, Any]]:
        """Return every checklist version held, by slug then version."""
        return self._bodies("SELECT body FROM checklists ORDER BY slug, version")

    def checklist(self, slug: str, version: int | None = None) -> dict[str, Any] | None:
        """Return one checklist version, the latest held when `version` is None."""
        if version is None:
            found = self._bodies(
                "SELECT body FROM checklists WHERE slug = ? ORDER BY version DESC LIMIT 1", (slug,)
            )
        else:
            found = self._bodies(
                "SELECT body FROM checklists WHERE slug = ? AND version = ?", (slug, version)
            )
        return found[0] if found else None

    def locations(self) -> list[dict[str, Any]]:
        """Return the locations held."""
        return self._bodies("SELECT body FROM locations ORDER BY id")

    def assignments(self) -> list[dict[str, Any]]:
        """Return the assignments held."""
        return self._bodies("SELECT body FROM assignments ORDER BY id")

    def returned_visits(self) -> list[dict[str, Any]]:
        """Return the visits awaiting the shopper's correction, oldest return first."""
        found = self._bodies("SELECT body FROM returned_visits")
        return sorted(found, key=lambda v: (str(v.get("returned_at")), str(v.get("id"))))

    def returned_visit(self, visit_id: str) -> dict[str, Any] | None:
        """Return one visit awaiting correction, or None."""
        found = self._bodies("SELECT body FROM returned_visits WHERE id = ?", (visit_id.lower(),))
        return found[0] if found else None

    def drop_returned(self, visit_id: str) -> None:
        """Forget a returned visit once its correction was accepted (the server did too)."""
        with self._lock, db.transaction(self._conn):
            self._conn.execute("DELETE FROM returned_visits WHERE id = ?", (visit_id.lower(),))

    def notifications(self) -> list[dict[str, Any]]:
        """Return the reminders held, newest first."""
        found = self._bodies("SELECT body FROM notifications")
        return sorted(
            found, key=lambda n: (str(n.get("created_at")), str(n.get("id"))), reverse=True
        )


def pull_changes(
    client: ApiClient, replica: Replica, *, limit: int | None = None, max_pages: int = 10_000
) -> PullReport:
    """Pull every page of changes since the stored cursor, applying each as it arrives."""
    # A 410 (stale or foreign cursor) forgets the cursor and starts over; the old data is
    # replaced in the same transaction as the first fresh page, so the phone is never left
    # empty. A 400 means the kit sent garbage: it is raised, never papered over.
    total = PullReport()
    cursor = replica.cursor()
    # Without a cursor the server sends a snapshot (and no deletions): it replaces whatever
    # is held, in the transaction of its first page.
    reset = cursor is None
    while True:
        if total.pages >= max_pages:
            raise ProtocolError(f"more than {max_pages} pages of changes: the cursor is stuck")
        try:
            page = client.get_changes(cursor, limit)
        except HttpError as exc:
            if exc.status != 410 or cursor is None:
                raise
            total.restarted, total.notes = True, [*total.notes, f"cursor {cursor!r} gone (410)"]
            cursor, reset = None, True
            continue
        report = replica.apply(page, reset=reset)
        reset = False
        _add(total, report)
        if not page["has_more"]:
            return total
        if report.cursor == cursor:
            raise ProtocolError("has_more is true but the cursor did not move")
        cursor = report.cursor


def _add(total: PullReport, page: PullReport) -> None:
    """Fold one page's report into the running total."""
    total.pages += 1
    for name in _TABLES:
        setattr(total, name, getattr(total, name) + getattr(page, name))
    for name in _BY_ID:
        deleted = f"deleted_{name}"
        setattr(total, deleted, getattr(total, deleted) + getattr(page, deleted))
    total.reminders += page.reminders
    total.cursor, total.server_time = page.cursor, page.server_time
