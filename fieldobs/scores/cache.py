"""What cached score answers depend on: one cheap read that changes whenever they may."""

from __future__ import annotations

from typing import Any

from fieldobs.storage.connection import Database


def data_version(db: Database) -> tuple[Any, ...]:
    """Return what every ranking depends on: changes to it change this (one cheap read).

    The database's identity, the rollups' version (bumped with every counted change), the
    change feed's sequence (locations created, edited, moved or retired) and the area count.
    """
    return tuple(
        db.execute(
            "SELECT (SELECT value FROM server_meta WHERE key = 'database_id'),"
            " (SELECT version FROM score_state), (SELECT max(seq) FROM changes),"
            " (SELECT count(*) FROM areas)"
        ).fetchone()
    )
