"""SQLite storage: one reused connection per worker thread, transactions, migrations."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
from flask import current_app, g

from .timeutil import now_rfc3339

if TYPE_CHECKING:
    from flask import Flask


class Database(sqlite_utils.Database):
    """A sqlite-utils database that knows the lock file queueing its writers."""

    write_lock: int | None = None
    _database_id: str | None = None


def database_id(db: Database) -> str:
    """Return this database's identity (made by the first migration; never changes)."""
    # Asked on every push and pull: read once per connection.
    if db._database_id is None:
        row = db.execute("SELECT value FROM server_meta WHERE key = 'database_id'").fetchone()
        db._database_id = str(row[0])
    return db._database_id


SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class Storage:
    """Hand out one long-lived connection per thread to one SQLite file."""

    def __init__(self, path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 10_000):
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
        self.path = path
        self.synchronous = synchronous
        self.busy_timeout_ms = busy_timeout_ms
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


def storage_for(app: Flask) -> Storage:
    """Return the app's storage."""
    storage: Storage = app.extensions["fieldobs.storage"]
    return storage


def get_db() -> Database:
    """Return the database for this request or app context."""
    if "db" not in g:
        g.db = storage_for(current_app).connection()
    db: Database = g.db
    return db


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


def _release_connection(_exc: BaseException | None) -> None:
    db: Database | None = g.pop("db", None)
    # The connection is kept for the thread's next request; never hand it on mid-transaction.
    if db is not None and db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def migrations() -> list[tuple[int, str, str]]:
    """Return the numbered migrations shipped with the package, in order."""
    found = []
    for entry in resources.files("fieldobs.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    return found


def migrate(db: Database) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied_now = []
    for version, name, sql in migrations():
        with transaction(db):
            # Checked inside the write lock: another process may have just applied it.
            done = db.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", [version]
            ).fetchone()
            if done:
                continue
            db.executescript(sql)
            db.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                [version, name, now_rfc3339()],
            )
            applied_now.append(name)
    return applied_now


def schema_version(db: Database) -> int:
    """Return the highest applied migration number (0 for an empty database)."""
    if "schema_migrations" not in db.table_names():
        return 0
    row = db.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


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


def init_app(app: Flask) -> None:
    """Attach storage to the app and release connections after each context."""
    data_dir = Path(app.config["DATA_DIR"]).expanduser()
    app.config["DATA_DIR"] = str(data_dir)
    storage = Storage(
        Path(app.config.get("DATABASE") or data_dir / "fieldobs.db"),
        synchronous=str(app.config["SQLITE_SYNCHRONOUS"]).upper(),
        busy_timeout_ms=int(app.config["SQLITE_BUSY_TIMEOUT_MS"]),
    )
    app.extensions["fieldobs.storage"] = storage
    app.teardown_appcontext(_release_connection)
