"""The user's decisions on the outbox: requeue, discard, prune (inside the caller's transaction)."""

# A visit that needs attention is never retried blindly and never dropped: it waits for one
# of these. Each function runs inside the Outbox's lock and write transaction.

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from fieldobs_sync.errors import OutboxError
from fieldobs_sync.photos import PhotoFile
from fieldobs_sync.queueing import insert_entry
from fieldobs_sync.records import NEEDS_ATTENTION, Entry, entry_from_row, entry_row


def requeue(
    conn: sqlite3.Connection,
    now: float,
    visit_id: str,
    body: Mapping[str, Any] | None = None,
    *,
    revision: int | None = None,
    photos: Sequence[PhotoFile] = (),
) -> Entry:
    """Send a visit that needs attention again, as the user decided."""
    # An acknowledged visit held up by a refused photo, requeued without a new body, gets
    # its refused photos retried (optionally from new files with the same bytes).
    # Otherwise a new entry replaces the old one: same revision after a 422 (the server
    # stored nothing), the server's revision + 1 after a 409 or once acknowledged.
    row = conn.execute(
        "SELECT * FROM entries WHERE visit_id = ? AND state = 'needs_attention'"
        " ORDER BY seq DESC LIMIT 1",
        (visit_id,),
    ).fetchone()
    if row is None:
        raise OutboxError(f"visit {visit_id} has no entry that needs attention")
    old = entry_from_row(conn, row)
    if old.acknowledged and body is None and revision is None:
        return _retry_photos(conn, now, old, photos)
    new_body = dict(body if body is not None else old.body)
    if str(new_body.get("id")) != visit_id:
        raise OutboxError(f"the new body has id {new_body.get('id')!r}, not {visit_id}")
    new_body["revision"] = revision or next_revision(old)
    conn.execute(
        "UPDATE entries SET state = 'superseded', updated_at = ? WHERE seq = ?", (now, old.seq)
    )
    # After a 409 on a visit the server holds as returned, the next revision is its correction.
    returned = ((old.error or {}).get("server") or {}).get("status") == "returned"
    entry = insert_entry(conn, now, new_body, photos, correction=old.correction or returned)
    conn.execute("UPDATE entries SET replaced_by = ? WHERE seq = ?", (entry.seq, old.seq))
    return entry


def next_revision(old: Entry) -> int:
    """Choose the revision of a requeued visit from what the server said."""
    server = (old.error or {}).get("server") or {}
    if old.http_status == 409 and isinstance(server.get("revision"), int):
        return int(server["revision"]) + 1
    if old.acknowledged or old.http_status == 409:
        return old.revision + 1
    # A 422 stored nothing: the corrected content is still this revision.
    return old.revision


def _retry_photos(
    conn: sqlite3.Connection, now: float, old: Entry, photos: Sequence[PhotoFile]
) -> Entry:
    """Put an acknowledged entry's refused photos back in line."""
    files = {p.id: p for p in photos}
    for pid in old.photo_ids:
        row = conn.execute("SELECT * FROM photos WHERE photo_id = ?", (pid,)).fetchone()
        if row["state"] != NEEDS_ATTENTION:
            continue
        new = files.get(pid)
        if new is not None and (new.sha256 != row["sha256"] or new.size != row["size"]):
            raise OutboxError(f"photo {pid}: the new file has other bytes than the manifest")
        conn.execute(
            "UPDATE photos SET state = 'pending', path = ?, upload_url = NULL, error = NULL,"
            " http_status = NULL, updated_at = ? WHERE photo_id = ?",
            (new.path if new else row["path"], now, pid),
        )
    conn.execute(
        "UPDATE entries SET state = 'sent', error = NULL, updated_at = ? WHERE seq = ?",
        (now, old.seq),
    )
    return entry_from_row(conn, entry_row(conn, old.seq))


def discard(conn: sqlite3.Connection, now: float, visit_id: str) -> list[Entry]:
    """Give up on a visit's open entries and its unfinished photos, as the user asked."""
    rows = conn.execute(
        "SELECT seq FROM entries WHERE visit_id = ? AND state IN"
        " ('pending', 'sent', 'needs_attention')",
        (visit_id,),
    ).fetchall()
    if not rows:
        raise OutboxError(f"visit {visit_id} has nothing open to discard")
    conn.execute(
        "UPDATE entries SET state = 'discarded', updated_at = ? WHERE visit_id = ? AND"
        " state IN ('pending', 'sent', 'needs_attention')",
        (now, visit_id),
    )
    conn.execute(
        "UPDATE photos SET state = 'discarded', updated_at = ? WHERE visit_id = ? AND"
        " state IN ('pending', 'needs_attention')",
        (now, visit_id),
    )
    return [entry_from_row(conn, entry_row(conn, r[0])) for r in rows]


def prune(conn: sqlite3.Connection, before: float) -> int:
    """Delete finished history (done, superseded, discarded) last touched before `before`."""
    rows = conn.execute(
        "SELECT seq FROM entries WHERE state IN ('done', 'superseded', 'discarded')"
        " AND updated_at < ?",
        (before,),
    ).fetchall()
    seqs = [(r[0],) for r in rows]
    conn.executemany("UPDATE entries SET replaced_by = NULL WHERE replaced_by = ?", seqs)
    conn.executemany("DELETE FROM entry_photos WHERE seq = ?", seqs)
    conn.executemany("DELETE FROM entries WHERE seq = ?", seqs)
    # Photos nothing refers to any more are history too.
    conn.execute(
        "DELETE FROM photos WHERE state IN ('done', 'discarded') AND NOT EXISTS"
        " (SELECT 1 FROM entry_photos ep WHERE ep.photo_id = photos.photo_id)"
    )
    return len(seqs)
