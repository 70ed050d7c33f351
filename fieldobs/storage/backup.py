"""Online backups of the SQLite database with the sqlite3 backup API, keeping the last few."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldobs.storage.connection import Database

PREFIX = "fieldobs-"
SUFFIX = ".db"


def backup_name(now: datetime) -> str:
    """Return the file name of a backup taken at `now` (names sort by time)."""
    return f"{PREFIX}{now:%Y%m%dT%H%M%SZ}{SUFFIX}"


def backup_database(db: Database, folder: Path, now: datetime, *, keep: int) -> dict[str, Any]:
    """Copy the live database into `folder` without stopping writers; keep the newest `keep`.

    The copy is written under a temporary name, checked, made self-contained (no WAL),
    fsynced and only then renamed: a backup file that exists is complete.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / backup_name(now)
    serial = 1
    while target.exists():  # two backups within one second (by hand and scheduled)
        target = folder / f"{backup_name(now)[: -len(SUFFIX)]}-{serial}{SUFFIX}"
        serial += 1
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    copy = sqlite3.connect(partial)
    try:
        # One step (pages=-1): a read snapshot of the whole file; WAL lets writers carry on.
        db.conn.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        copy.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"backup failed its integrity check: {check}")
    _fsync(partial)
    os.replace(partial, target)
    _fsync(folder)
    removed = prune(folder, keep)
    return {"path": str(target), "bytes": target.stat().st_size, "removed": removed}


def list_backups(folder: Path) -> list[Path]:
    """Return the complete backups in a folder, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX)
    )


def prune(folder: Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` backups; return the names deleted."""
    backups = list_backups(folder)
    doomed = backups[: max(0, len(backups) - max(keep, 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    return [p.name for p in doomed]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
