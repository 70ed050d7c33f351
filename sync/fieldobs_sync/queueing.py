"""Queue one visit revision and its photo files, inside the caller's transaction."""

# Every photo the manifest names must be given here, already be in the outbox, or (for the
# correction of a returned visit) already be on the server; otherwise the visit could never
# be done. Queueing the same content again is a no-op.

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from fieldobs_sync.errors import OutboxError
from fieldobs_sync.photos import PhotoFile
from fieldobs_sync.records import (
    DISCARDED,
    DONE,
    Entry,
    check_visit,
    entry_from_row,
    entry_row,
    fingerprint,
)


def insert_entry(
    conn: sqlite3.Connection,
    now: float,
    visit: Mapping[str, Any],
    photos: Sequence[PhotoFile] = (),
    *,
    correction: bool = False,
    on_server: Collection[str] = (),
) -> Entry:
    """Insert a pending entry (or return the live one of the same content)."""
    # `on_server`: photo ids the server already holds for this visit (a returned visit's
    # manifest), which need no file on the device.
    vid, revision, manifest = check_visit(visit)
    by_id = {p.id: p for p in photos}
    listed = {str(p.get("id")): p for p in manifest}
    for photo in photos:
        entry = listed.get(photo.id)
        if entry is None:
            raise OutboxError(f"visit {vid}: photo {photo.id} is not in the manifest")
        if entry.get("sha256") != photo.sha256 or entry.get("size") != photo.size:
            raise OutboxError(f"visit {vid}: photo {photo.id} differs from its manifest entry")
    fp = fingerprint(visit)
    live = conn.execute(
        "SELECT * FROM entries WHERE visit_id = ? AND state NOT IN ('superseded', 'discarded')"
        " ORDER BY seq",
        (vid,),
    ).fetchall()
    for row in live:
        if row["revision"] == revision:
            if row["fingerprint"] != fp:
                raise OutboxError(
                    f"visit {vid} revision {revision} is already queued with other content;"
                    " a sent body is frozen, queue a new revision instead"
                )
            register_photos(conn, now, vid, manifest, by_id, on_server)
            return entry_from_row(conn, row)
        if row["revision"] > revision:
            raise OutboxError(
                f"visit {vid}: revision {revision} is older than queued {row['revision']}"
            )
    register_photos(conn, now, vid, manifest, by_id, on_server)
    cur = conn.execute(
        "INSERT INTO entries (visit_id, revision, body, fingerprint, state, created_at,"
        " updated_at, correction) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
        (
            vid,
            revision,
            json.dumps(visit, ensure_ascii=False, separators=(",", ":")),
            fp,
            now,
            now,
            int(correction),
        ),
    )
    seq = int(cur.lastrowid or 0)
    conn.executemany(
        "INSERT INTO entry_photos (seq, photo_id, position) VALUES (?, ?, ?)",
        [(seq, pid, position) for position, pid in enumerate(listed)],
    )
    return entry_from_row(conn, entry_row(conn, seq))


def register_photos(
    conn: sqlite3.Connection,
    now: float,
    vid: str,
    manifest: list[dict[str, Any]],
    files: Mapping[str, PhotoFile],
    on_server: Collection[str] = (),
) -> None:
    """Record photo files; a photo not yet uploaded may get a new file of the same bytes."""
    for item in manifest:
        pid = str(item.get("id"))
        row = conn.execute("SELECT * FROM photos WHERE photo_id = ?", (pid,)).fetchone()
        photo = files.get(pid)
        if row is not None and row["visit_id"] != vid:
            raise OutboxError(f"photo {pid} already belongs to visit {row['visit_id']}")
        if row is not None and row["state"] == DISCARDED:
            # Named again by a new revision: the user wants it sent after all.
            conn.execute(
                "UPDATE photos SET state = 'pending', upload_url = NULL, error = NULL,"
                " http_status = NULL, updated_at = ? WHERE photo_id = ?",
                (now, pid),
            )
        if photo is None:
            if row is None and pid in on_server:
                _record_server_photo(conn, now, vid, item)
                continue
            if row is None:
                raise OutboxError(f"visit {vid}: manifest names photo {pid} but no file given")
            if row["sha256"] != item.get("sha256") or row["size"] != item.get("size"):
                raise OutboxError(f"visit {vid}: photo {pid} differs from the queued file")
            continue
        if row is None:
            conn.execute(
                "INSERT INTO photos (photo_id, visit_id, path, sha256, size, content_type,"
                " filename, state, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    pid,
                    vid,
                    photo.path,
                    photo.sha256,
                    photo.size,
                    photo.content_type,
                    photo.filename,
                    now,
                    now,
                ),
            )
        elif row["sha256"] != photo.sha256:
            raise OutboxError(f"photo {pid} was queued with other bytes; use a new photo id")
        elif row["state"] != DONE:
            conn.execute(
                "UPDATE photos SET path = ?, content_type = ?, filename = ?, updated_at = ?"
                " WHERE photo_id = ?",
                (photo.path, photo.content_type, photo.filename, now, pid),
            )


def _record_server_photo(
    conn: sqlite3.Connection, now: float, vid: str, item: Mapping[str, Any]
) -> None:
    """Record a photo the server already holds: done, with no file on the device."""
    conn.execute(
        "INSERT INTO photos (photo_id, visit_id, path, sha256, size, content_type, filename,"
        " state, created_at, updated_at, done_at) VALUES (?, ?, '', ?, ?, ?, '', 'done', ?, ?, ?)",
        (
            str(item.get("id")),
            vid,
            str(item.get("sha256")),
            int(item.get("size") or 0),
            str(item.get("content_type") or "application/octet-stream"),
            now,
            now,
            now,
        ),
    )
