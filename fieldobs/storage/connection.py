"""SQLite connections: one reused connection per worker thread, and transactions."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from fieldobs.storage.app_state import AppState


class Database(sqlite_utils.Database):
    """A sqlite-utils database that knows the lock file queueing its writers and its app."""

    write_lock: int | None = None
    _database_id: str | None = None
    # Set by the Storage that opened it: the domains reach their app's registries through it.
    app_state: AppState


def database_id(db: Database) -> str:
    """Return this database's identity (made by the first migration; never changes)."""
    # Asked on every push and pull: read once per connection.
    if db._database_id is None:
        row = db.execute("SELECT value FROM server_meta WHERE key = 'database_id'").fetchone()
        db._database_id = str(row[0])
    return db._database_id


SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


class Storage:
    """Hand out one long-lived connection per thread to one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10_000,
        app_state: AppState | None = None,
    ):
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
        # Without an app (a script, a test of storage alone) the storage is its own app.
        self.app_state = app_state if app_state is not None else AppState()
        self._local = threading.local()

    def connection(self) -> Database:
        """Return this thread's connection, opening it on first use."""
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self.open()
            self._local.db = db
        return db

    def open(self) -> Database:
        """Open a new connection with the project's pragmas."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000)
        # Explicit BEGIN/COMMIT only: the driver must not open transactions behind our back.
        conn.isolation_level = None
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        db = Database(conn)
        db.app_state = self.app_state
        # One descriptor per connection: flock excludes descriptors, across threads and processes.
        db.write_lock = os.open(f"{self.path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
        return db

    def close_thread_connection(self) -> None:
        """Close this thread's connection (tests and shutdown)."""
        db: Database | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            if db.write_lock is not None:
                os.close(db.write_lock)
            self._local.db = None


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run a block as one write transaction (a savepoint when already inside one)."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    # Writers queue on a file lock first: the kernel wakes the next one the moment the lock
    # is free, where SQLite's busy handler would sleep in steps of up to 100 ms.
    lock = getattr(db, "write_lock", None)
    if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        # IMMEDIATE takes the write lock up front, so a read-then-write block cannot fail
        # half-way with SQLITE_BUSY when another connection wrote in between.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """Return a cursor's rows as dicts."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def one(cursor: sqlite3.Cursor) -> dict[str, Any] | None:
    """Return a cursor's first row as a dict, or None."""
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))
