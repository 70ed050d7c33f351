"""Numbered migrations: in order, once, and safely from several processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from fieldobs.db import Storage, migrate, migrations, schema_version


def test_migrations_are_numbered_without_gaps() -> None:
    numbers = [number for number, _, _ in migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    db = Storage(tmp_path / "x.db").open()
    applied = migrate(db)
    assert len(applied) == len(migrations())
    assert migrate(db) == []
    assert schema_version(db) == len(migrations())


def test_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Storage(tmp_path / "x.db", synchronous="NORMAL").open()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1


MIGRATE_SCRIPT = """
import sys
from pathlib import Path
from fieldobs.db import Storage, migrate
print(len(migrate(Storage(Path(sys.argv[1])).open())))
"""


def test_concurrent_processes_apply_each_migration_once(tmp_path: Path) -> None:
    target = tmp_path / "race.db"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_SCRIPT, str(target)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    applied = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(applied) == len(migrations())
    conn = sqlite3.connect(target)
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    conn.close()
    assert versions == list(range(1, len(migrations()) + 1))
