"""Numbered migrations: in order, once, and safely from several processes at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from fieldobs.storage.connection import Storage
from fieldobs.storage.migrate import migrate, migrations


def test_migrations_are_numbered_without_gaps() -> None:
    numbers = [number for number, _, _ in migrations()]
    assert numbers == list(range(1, len(numbers) + 1))


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    db = Storage(tmp_path / "x.db").open()
    applied = migrate(db)
    assert len(applied) == len(migrations())
    assert migrate(db) == []
    applied_up_to = db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    assert applied_up_to == len(migrations())


def test_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Storage(tmp_path / "x.db", synchronous="NORMAL").open()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1


MIGRATE_SCRIPT = """
import sys
from pathlib import Path

from fieldobs.storage.connection import Storage
from fieldobs.storage.migrate import migrate
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


def migrated_up_to(path: Path, last: int) -> Storage:
    """Return storage for a database with only the migrations up to `last` applied."""
    db = Storage(path).open()
    db.execute(
        "CREATE TABLE schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for version, name, sql in migrations()[:last]:
        db.executescript(sql)
        db.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')", [version, name]
        )
    db.close()
    return Storage(path)


def test_revisions_keep_their_rows_and_visits_list_their_fingerprints(tmp_path: Path) -> None:
    storage = migrated_up_to(tmp_path / "old.db", 5)
    conn = sqlite3.connect(storage.path, isolation_level=None)
    conn.executescript(
        "INSERT INTO areas VALUES (1, 'north', 't');"
        "INSERT INTO locations (id, name, area_id, timezone, created_at, updated_at)"
        " VALUES (1, 'leeds', 1, 'UTC', 't', 't');"
        "INSERT INTO users VALUES (1, 'shopper', 'S', 'shopper', 'x', 't', NULL);"
    )
    for visit_id, revisions in (("b-visit", 2), ("a-visit", 1)):
        conn.execute(
            "INSERT INTO visits (id, revision, fingerprint, observer_id, location_id,"
            " checklist_slug, checklist_version, kind, status, started_at, finished_at,"
            " observed_at, received_at, updated_at, body, section_scores, breakdown)"
            " VALUES (?, ?, 'f', 1, 1, 'c', 1, 'mystery_shop', 'submitted', 't', 't', 't', 't',"
            " 't', '{}', '[]', '{}')",
            [visit_id, revisions],
        )
        # Stored newest first, to show the fingerprints are listed by revision.
        conn.executemany(
            "INSERT INTO visit_revisions VALUES (?, ?, ?, ?, ?)",
            [(visit_id, n, f"fp{n}", f'{{"n": {n}}}', f"2026-0{n}-01") for n in (2, 1)][
                2 - revisions :
            ],
        )
    before = conn.execute("SELECT * FROM visit_revisions ORDER BY 1, 2").fetchall()
    conn.close()

    # 0006 and 0007 come first; later migrations follow them.
    assert migrate(storage.open())[:2] == [
        "0006_revisions_by_rowid.sql",
        "0007_revision_log.sql",
    ]

    conn = sqlite3.connect(storage.path)
    assert conn.execute("SELECT * FROM visit_revisions ORDER BY 1, 2").fetchall() == before
    listed = dict(conn.execute("SELECT id, revision_fingerprints FROM visits"))
    assert {k: json.loads(v) for k, v in listed.items()} == {
        "a-visit": ["fp1"],
        "b-visit": ["fp1", "fp2"],
    }
    schema = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'visit_revisions'").fetchone()
    assert "WITHOUT ROWID" not in schema[0]
    assert "PRIMARY KEY" not in schema[0]
    conn.close()
