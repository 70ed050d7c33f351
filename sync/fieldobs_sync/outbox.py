"""Keep a durable outbox of visits and their photos in its own SQLite file."""

# Every transition is committed before the caller makes its next network call, so a process
# killed at any point resumes from the last committed state. The states and records are in
# `records`; queueing in `queueing`; the user's requeue, discard and prune in `decisions`.

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from fieldobs_sync import db, decisions
from fieldobs_sync.photos import PhotoFile
from fieldobs_sync.queueing import insert_entry
from fieldobs_sync.records import (
    DISCARDED,
    DONE,
    ENTRY_STATES,
    NEEDS_ATTENTION,
    OPEN_STATES,
    PENDING,
    SENT,
    SUPERSEDED,
    Entry,
    PhotoRecord,
    canonical_json,
    dump_json,
    entry_from_row,
    entry_row,
    fingerprint,
    load_json,
    photo_from_row,
)

__all__ = [
    "DISCARDED",
    "DONE",
    "ENTRY_STATES",
    "NEEDS_ATTENTION",
    "OPEN_STATES",
    "PENDING",
    "SENT",
    "SUPERSEDED",
    "Entry",
    "Outbox",
    "PhotoRecord",
    "canonical_json",
    "fingerprint",
]


class Outbox:
    """Queue visits and photos durably and move them through their states."""

    def __init__(
        self, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        self._conn = db.connect(self.path)
        # One connection per Outbox; the lock lets threads share it safely.
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        """Return self for `with`."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving `with`."""
        self.close()

    # -- reading -------------------------------------------------------------------------

    def entry(self, seq: int) -> Entry:
        """Return one entry by its queue number."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM entries WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                raise KeyError(seq)
            return entry_from_row(self._conn, row)

    def entries(
        self, states: Iterable[str] | None = None, *, visit_id: str | None = None
    ) -> list[Entry]:
        """Return entries in queue order, optionally only some states or one visit."""
        sql, args = "SELECT * FROM entries WHERE 1 = 1", []
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            args += wanted
        if visit_id is not None:
            sql += " AND visit_id = ?"
            args.append(visit_id)
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
            return [entry_from_row(self._conn, r) for r in found]

    def latest(self, visit_id: str) -> Entry | None:
        """Return the newest entry of a visit, whatever its state."""
        found = self.entries(visit_id=visit_id)
        return found[-1] if found else None

    def photo(self, photo_id: str) -> PhotoRecord:
        """Return one photo by id."""
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM photos WHERE photo_id = ?", (photo_id,)
            ).fetchone()
        if row is None:
            raise KeyError(photo_id)
        return photo_from_row(row)

    def photos(self, visit_id: str | None = None) -> list[PhotoRecord]:
        """Return photos, optionally of one visit."""
        sql, args = "SELECT * FROM photos", []
        if visit_id is not None:
            sql, args = sql + " WHERE visit_id = ?", [visit_id]
        with self._lock:
            found = self._conn.execute(sql + " ORDER BY created_at", args).fetchall()
        return [photo_from_row(r) for r in found]

    def counts(self) -> dict[str, int]:
        """Return how many entries are in each state."""
        counts = dict.fromkeys(ENTRY_STATES, 0)
        with self._lock:
            for state, n in self._conn.execute(
                "SELECT state, COUNT(*) FROM entries GROUP BY state"
            ):
                counts[state] = n
        return counts

    def ready_to_push(self, limit: int = 100, *, exclude: Collection[int] = ()) -> list[Entry]:
        """Return pending entries to push now, in queue order."""
        # Only the oldest unacknowledged entry of each visit is ready: revision 2 must not
        # overtake revision 1, nor a revision whose predecessor awaits the user.
        sql = """
            SELECT * FROM entries e WHERE e.state = 'pending' AND NOT EXISTS (
                SELECT 1 FROM entries o WHERE o.visit_id = e.visit_id AND o.seq < e.seq
                AND o.state IN ('pending', 'needs_attention'))
            ORDER BY e.seq
        """
        ready: list[Entry] = []
        with self._lock:
            for row in self._conn.execute(sql).fetchall():
                if row["seq"] not in exclude:
                    ready.append(entry_from_row(self._conn, row))
                    if len(ready) >= limit:
                        break
        return ready

    def photos_to_upload(self) -> list[PhotoRecord]:
        """Return pending photos of visits still on their way, oldest entry first."""
        sql = """
            SELECT p.*, MIN(e.seq) AS first_seq, MIN(ep.position) AS pos FROM photos p
            JOIN entry_photos ep ON ep.photo_id = p.photo_id
            JOIN entries e ON e.seq = ep.seq
            WHERE p.state = 'pending' AND e.state IN ('pending', 'sent')
            GROUP BY p.photo_id ORDER BY first_seq, pos
        """
        with self._lock:
            return [photo_from_row(r) for r in self._conn.execute(sql)]

    # -- queueing ------------------------------------------------------------------------

    def queue(self, visit: Mapping[str, Any], photos: Sequence[PhotoFile] = ()) -> Entry:
        """Queue one visit revision and its photo files; queueing the same content is a no-op."""
        # Every photo the manifest names must be given here or already be in the outbox,
        # otherwise the visit could never be done.
        with self._lock, db.transaction(self._conn):
            return insert_entry(self._conn, self._clock(), visit, photos)

    # -- transitions -------------------------------------------------------------------

    def mark_acknowledged(self, seq: int, status: int) -> Entry:
        """Record a 2xx for a pending entry: `sent`, or `done` when no photo is outstanding."""
        with self._lock, db.transaction(self._conn):
            row = entry_row(self._conn, seq)
            # Only pending moves: a replayed acknowledgement of a later state changes nothing.
            if row["state"] == PENDING:
                now = self._clock()
                self._conn.execute(
                    "UPDATE entries SET state = 'sent', http_status = ?, error = NULL,"
                    " last_error = NULL, next_attempt_at = NULL, acknowledged_at = ?,"
                    " updated_at = ? WHERE seq = ?",
                    (status, now, now, seq),
                )
                self._settle(row["visit_id"])
            return entry_from_row(self._conn, entry_row(self._conn, seq))

    def mark_needs_attention(self, seq: int, status: int, error: Mapping[str, Any]) -> Entry:
        """Record the server's final refusal (409/422) of a pending entry, with its error."""
        with self._lock, db.transaction(self._conn):
            row = entry_row(self._conn, seq)
            if row["state"] == PENDING:
                self._conn.execute(
                    "UPDATE entries SET state = 'needs_attention', http_status = ?, error = ?,"
                    " next_attempt_at = NULL, updated_at = ? WHERE seq = ?",
                    (status, dump_json(error), self._clock(), seq),
                )
            return entry_from_row(self._conn, entry_row(self._conn, seq))

    def annotate_error(self, seq: int, extra: Mapping[str, Any]) -> Entry:
        """Merge facts (such as the server's stored revision) into an entry's error."""
        with self._lock, db.transaction(self._conn):
            row = entry_row(self._conn, seq)
            error = load_json(row["error"]) or {}
            error.update(extra)
            self._conn.execute(
                "UPDATE entries SET error = ? WHERE seq = ?", (dump_json(error), seq)
            )
            return entry_from_row(self._conn, entry_row(self._conn, seq))

    def record_failure(
        self,
        seq: int,
        message: str,
        *,
        status: int | None = None,
        next_attempt_at: float | None = None,
    ) -> Entry:
        """Record a transient failure: the entry stays pending, to be retried."""
        with self._lock, db.transaction(self._conn):
            self._conn.execute(
                "UPDATE entries SET attempts = attempts + 1, last_error = ?,"
                " http_status = COALESCE(?, http_status), next_attempt_at = ?, updated_at = ?"
                " WHERE seq = ? AND state = 'pending'",
                (message, status, next_attempt_at, self._clock(), seq),
            )
            return entry_from_row(self._conn, entry_row(self._conn, seq))

    def set_upload_url(self, photo_id: str, url: str | None) -> None:
        """Store (or forget) a photo's tus upload URL; committed before any byte is sent."""
        with self._lock, db.transaction(self._conn):
            self._conn.execute(
                "UPDATE photos SET upload_url = ?, updated_at = ? WHERE photo_id = ?",
                (url, self._clock(), photo_id),
            )

    def mark_photo_done(self, photo_id: str) -> PhotoRecord:
        """Record a photo fully uploaded; its visits may become `done`."""
        with self._lock, db.transaction(self._conn):
            now = self._clock()
            self._conn.execute(
                "UPDATE photos SET state = 'done', error = NULL, last_error = NULL, done_at = ?,"
                " updated_at = ? WHERE photo_id = ? AND state = 'pending'",
                (now, now, photo_id),
            )
            photo = self.photo(photo_id)
            self._settle(photo.visit_id)
            return photo

    def mark_photo_needs_attention(
        self, photo_id: str, status: int | None, error: Mapping[str, Any]
    ) -> PhotoRecord:
        """Record a photo the server (or the device) refused for good."""
        with self._lock, db.transaction(self._conn):
            self._conn.execute(
                "UPDATE photos SET state = 'needs_attention', http_status = ?, error = ?,"
                " updated_at = ? WHERE photo_id = ? AND state = 'pending'",
                (status, dump_json(error), self._clock(), photo_id),
            )
            photo = self.photo(photo_id)
            self._settle(photo.visit_id)
            return photo

    def record_photo_failure(
        self, photo_id: str, message: str, *, status: int | None = None
    ) -> PhotoRecord:
        """Record a transient upload failure: the photo stays pending."""
        with self._lock, db.transaction(self._conn):
            self._conn.execute(
                "UPDATE photos SET attempts = attempts + 1, last_error = ?,"
                " http_status = COALESCE(?, http_status), updated_at = ? WHERE photo_id = ?",
                (message, status, self._clock(), photo_id),
            )
            return self.photo(photo_id)

    def _settle(self, visit_id: str) -> None:
        """Move the visit's `sent` entries on once their photos are all done (or one failed)."""
        now = self._clock()
        sent = self._conn.execute(
            "SELECT seq FROM entries WHERE visit_id = ? AND state = 'sent'", (visit_id,)
        ).fetchall()
        for (seq,) in sent:
            photos = self._conn.execute(
                "SELECT p.* FROM photos p JOIN entry_photos ep ON ep.photo_id = p.photo_id"
                " WHERE ep.seq = ? ORDER BY ep.position",
                (seq,),
            ).fetchall()
            refused = [p for p in photos if p["state"] == NEEDS_ATTENTION]
            if all(p["state"] == DONE for p in photos):
                self._conn.execute(
                    "UPDATE entries SET state = 'done', done_at = ?, updated_at = ? WHERE seq = ?",
                    (now, now, seq),
                )
            elif refused:
                first = refused[0]
                error = {
                    "photo_id": first["photo_id"],
                    "status": first["http_status"],
                    "error": load_json(first["error"]),
                }
                self._conn.execute(
                    "UPDATE entries SET state = 'needs_attention', error = ?, updated_at = ?"
                    " WHERE seq = ?",
                    (dump_json(error), now, seq),
                )

    # -- the user's decisions ----------------------------------------------------------

    def requeue(
        self,
        visit_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        revision: int | None = None,
        photos: Sequence[PhotoFile] = (),
    ) -> Entry:
        """Send a visit that needs attention again, as the user decided."""
        with self._lock, db.transaction(self._conn):
            return decisions.requeue(
                self._conn, self._clock(), visit_id, body, revision=revision, photos=photos
            )

    def queue_correction(
        self,
        visit: Mapping[str, Any],
        photos: Sequence[PhotoFile] = (),
        *,
        on_server: Collection[str] = (),
    ) -> Entry:
        """Queue the corrected next revision of a visit a reviewer returned."""
        # `on_server`: the returned visit's photo ids, already on the server, which the
        # correction may keep without their files being on this device.
        with self._lock, db.transaction(self._conn):
            now = self._clock()
            entry = insert_entry(
                self._conn, now, visit, photos, correction=True, on_server=on_server
            )
            # Older revisions held for the user (a refused photo, say) are answered by the
            # correction; left open they would also hold it back (see ready_to_push).
            self._conn.execute(
                "UPDATE entries SET state = 'superseded', replaced_by = ?, updated_at = ?"
                " WHERE visit_id = ? AND state = 'needs_attention' AND revision < ?",
                (entry.seq, now, entry.visit_id, entry.revision),
            )
            return entry

    def discard(self, visit_id: str) -> list[Entry]:
        """Give up on a visit's open entries and its unfinished photos, as the user asked."""
        with self._lock, db.transaction(self._conn):
            return decisions.discard(self._conn, self._clock(), visit_id)

    def prune(self, before: float) -> int:
        """Delete finished history (done, superseded, discarded) last touched before `before`."""
        with self._lock, db.transaction(self._conn):
            return decisions.prune(self._conn, before)
