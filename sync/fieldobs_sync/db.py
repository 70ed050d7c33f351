"""The kit's one SQLite file: connection settings, schema and transactions."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
    visit_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    body TEXT NOT NULL,                    -- the exact JSON sent, never rewritten
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('pending', 'sent', 'done', 'needs_attention', 'superseded', 'discarded')),
    http_status INTEGER,                   -- the server's last word on this entry
    error TEXT,                            -- JSON: the server's error, for needs_attention
    last_error TEXT,                       -- the last transient failure, for humans
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    replaced_by INTEGER REFERENCES entries(seq),
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    acknowledged_at REAL,
    done_at REAL,
    correction INTEGER NOT NULL DEFAULT 0  -- 1: the next revision of a returned visit
);
-- One live entry per (visit, revision), superseded and discarded ones stay as history.
CREATE UNIQUE INDEX entries_live ON entries(visit_id, revision)
    WHERE state NOT IN ('superseded', 'discarded');
CREATE INDEX entries_state ON entries(state, seq);
CREATE INDEX entries_visit ON entries(visit_id, seq);

CREATE TABLE photos (
    photo_id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'needs_attention', 'discarded')),
    upload_url TEXT,                       -- stored before the first byte is sent
    http_status INTEGER,
    error TEXT,
    last_error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    done_at REAL
);
CREATE INDEX photos_visit ON photos(visit_id);

CREATE TABLE entry_photos (
    seq INTEGER NOT NULL REFERENCES entries(seq),
    photo_id TEXT NOT NULL REFERENCES photos(photo_id),
    position INTEGER NOT NULL,
    PRIMARY KEY (seq, photo_id)
);
CREATE INDEX entry_photos_photo ON entry_photos(photo_id);

-- What pull brought down: the phone's read-only replica of the server.
CREATE TABLE pull_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE checklists (
    slug TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (slug, version)
);
CREATE TABLE locations (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE assignments (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE returned_visits (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE notifications (id TEXT PRIMARY KEY, body TEXT NOT NULL);
"""

# Upgrades of an existing file, by the version they start from.
MIGRATIONS = {
    1: """
ALTER TABLE entries ADD COLUMN correction INTEGER NOT NULL DEFAULT 0;
CREATE TABLE returned_visits (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE notifications (id TEXT PRIMARY KEY, body TEXT NOT NULL);
-- Version 1 dropped the returned visits and reminders it was sent: pull everything again.
DELETE FROM pull_state WHERE key = 'cursor';
""",
}


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the kit's database, creating its schema on first use."""
    conn = sqlite3.connect(os.fspath(path), timeout=30.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    # WAL + FULL: a committed transition survives the process being killed, and the power
    # being cut, right after COMMIT returns.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            _run(conn, SCHEMA)
            version = SCHEMA_VERSION
        while version in MIGRATIONS:
            _run(conn, MIGRATIONS[version])
            version += 1
        conn.execute(f"PRAGMA user_version={version}")
    if version != SCHEMA_VERSION:
        conn.close()
        raise RuntimeError(f"{path}: schema version {version}, this kit knows {SCHEMA_VERSION}")
    return conn


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Run a script's statements inside the caller's transaction."""
    # Statements one by one: executescript() would commit the open transaction.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one write transaction, committed before the block's result is used."""
    # IMMEDIATE takes the write lock up front, so two processes never interleave a
    # read-then-write on the same entry.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
