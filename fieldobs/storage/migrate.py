"""Numbered SQL migrations shipped with the package, applied in order."""

from __future__ import annotations

import re
from importlib import resources

from fieldobs.storage.connection import Database, transaction
from fieldobs.timeutil import now_rfc3339

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """Return the numbered migrations shipped with the package, in order."""
    found = []
    for entry in resources.files("fieldobs.storage.migrations").iterdir():
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
