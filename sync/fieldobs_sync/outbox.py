"""Keep a durable outbox of visits and their photos in its own SQLite file."""

# Entry states: pending → sent (the server acknowledged the visit) → done (and every manifest
# photo is uploaded); or needs_attention (409/422/413, or a photo refused), kept with the
# server's error until the user requeues it (superseded by a new entry) or discards it.
# Every transition is committed before the caller makes its next network call, so a process
# killed at any point resumes from the last committed state.

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fieldobs_sync import db
from fieldobs_sync.errors import OutboxError
from fieldobs_sync.photos import PhotoFile

PENDING: Final = "pending"
SENT: Final = "sent"
DONE: Final = "done"
NEEDS_ATTENTION: Final = "needs_attention"
SUPERSEDED: Final = "superseded"
DISCARDED: Final = "discarded"
ENTRY_STATES: Final = (PENDING, SENT, DONE, NEEDS_ATTENTION, SUPERSEDED, DISCARDED)
OPEN_STATES: Final = (PENDING, SENT, NEEDS_ATTENTION)


def canonical_json(value: Any) -> bytes:
    """Return the canonical form of a JSON value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(visit: Mapping[str, Any]) -> str:
    """Return the sha256 of a visit's canonical JSON."""
    return hashlib.sha256(canonical_json(visit)).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One queued revision of one visit."""

    seq: int
    visit_id: str
    revision: int
    body_text: str
    fingerprint: str
    state: str
    http_status: int | None
    error: dict[str, Any] | None
    last_error: str | None
    attempts: int
    next_attempt_at: float | None
    replaced_by: int | None
    created_at: float
    updated_at: float
    acknowledged_at: float | None
    done_at: float | None
    photo_ids: tuple[str, ...]

    @property
    def body(self) -> dict[str, Any]:
        """Return the visit body as a dict."""
        data: dict[str, Any] = json.loads(self.body_text)
        return data

    @property
    def acknowledged(self) -> bool:
        """Tell whether the server has acknowledged this revision."""
        return self.acknowledged_at is not None


@dataclass(frozen=True)
class PhotoRecord:
    """One photo file waiting for (or done with) its upload."""

    photo_id: str
    visit_id: str
    path: str
    sha256: str
    size: int
    content_type: str
    filename: str
    state: str
    upload_url: str | None
    http_status: int | None
    error: dict[str, Any] | None
    last_error: str | None
    attempts: int
    created_at: float
    updated_at: float
    done_at: float | None


def _loads(text: str | None) -> dict[str, Any] | None:
    """Decode an optional JSON column."""
    return None if text is None else json.loads(text)


def _dumps(value: Mapping[str, Any] | None) -> str | None:
    """Encode an optional JSON column."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _check_visit(visit: Mapping[str, Any]) -> tuple[str, int, list[dict[str, Any]]]:
    """Return id, revision and manifest of a visit, or raise ValueError."""
    if not isinstance(visit, Mapping):
        raise ValueError("a visit must be a JSON object")
    vid = visit.get("id")
    try:
        uuid.UUID(str(vid))
    except ValueError:
        raise ValueError(f"visit id must be a UUID made on the phone, got {vid!r}") from None
    revision = visit.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise ValueError(f"visit {vid}: revision must be an integer ≥ 1, got {revision!r}")
    manifest = visit.get("photos") or []
    if not isinstance(manifest, list) or not all(isinstance(p, dict) for p in manifest):
        raise ValueError(f"visit {vid}: photos must be a list of objects")
    ids = [str(p.get("id")) for p in manifest]
    for pid in ids:
        try:
            uuid.UUID(pid)
        except ValueError:
            raise ValueError(f"visit {vid}: photo id must be a UUID, got {pid!r}") from None
    if len(set(ids)) != len(ids):
        raise ValueError(f"visit {vid}: a photo id appears twice in the manifest")
    return str(vid), revision, manifest


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

    def _entry(self, row: sqlite3.Row) -> Entry:
        """Build an Entry from a row."""
        photo_ids = tuple(
            r[0]
            for r in self._conn.execute(
                "SELECT photo_id FROM entry_photos WHERE seq = ? ORDER BY position", (row["seq"],)
            )
        )
        return Entry(
            seq=row["seq"],
            visit_id=row["visit_id"],
            revision=row["revision"],
            body_text=row["body"],
            fingerprint=row["fingerprint"],
            state=row["state"],
            http_status=row["http_status"],
            error=_loads(row["error"]),
            last_error=row["last_error"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            replaced_by=row["replaced_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            acknowledged_at=row["acknowledged_at"],
            done_at=row["done_at"],
            photo_ids=photo_ids,
        )

    @staticmethod
    def _photo(row: sqlite3.Row) -> PhotoRecord:
        """Build a PhotoRecord from a row."""
        return PhotoRecord(
            photo_id=row["photo_id"],
            visit_id=row["visit_id"],
            path=row["path"],
            sha256=row["sha256"],
            size=row["size"],
            content_type=row["content_type"],
            filename=row["filename"],
            state=row["state"],
            upload_url=row["upload_url"],
            http_status=row["http_status"],
            error=_loads(row["error"]),
            last_error=row["last_error"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            done_at=row["done_at"],
        )

    def entry(self, seq: int) -> Entry:
        """Return one entry by its queue number."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM entries WHERE seq = ?", (seq,)).fetchone()
            if row is None:
                raise KeyError(seq)
            return self._entry(row)

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
            return [self._entry(r) for r in self._conn.execute(sql + " ORDER BY seq", args)]

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
        return self._photo(row)

    def photos(self, visit_id: str | None = None) -> list[PhotoRecord]:
        """Return photos, optionally of one visit."""
        sql, args = "SELECT * FROM photos", []
        if visit_id is not None:
            sql, args = sql + " WHERE visit_id = ?", [visit_id]
        with self._lock:
            return [self._photo(r) for r in self._conn.execute(sql + " ORDER BY created_at", args)]

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
                    ready.append(self._entry(row))
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
            return [self._photo(r) for r in self._conn.execute(sql)]

    # -- queueing ------------------------------------------------------------------------

    def queue(self, visit: Mapping[str, Any], photos: Sequence[PhotoFile] = ()) -> Entry:
        """Queue one visit revision and its photo files; queueing the same content is a no-op."""
        # Every photo the manifest names must be given here or already be in the outbox,
        # otherwise the visit could never be done.
        with self._lock, db.transaction(self._conn):
            return self._insert(visit, photos)

    def _insert(self, visit: Mapping[str, Any], photos: Sequence[PhotoFile]) -> Entry:
        """Insert an entry inside the caller's transaction."""
        vid, revision, manifest = _check_visit(visit)
        by_id = {p.id: p for p in photos}
        listed = {str(p.get("id")): p for p in manifest}
        for photo in photos:
            entry = listed.get(photo.id)
            if entry is None:
                raise OutboxError(f"visit {vid}: photo {photo.id} is not in the manifest")
            if entry.get("sha256") != photo.sha256 or entry.get("size") != photo.size:
                raise OutboxError(f"visit {vid}: photo {photo.id} differs from its manifest entry")
        fp = fingerprint(visit)
        live = self._conn.execute(
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
                self._register_photos(vid, manifest, by_id)
                return self._entry(row)
            if row["revision"] > revision:
                raise OutboxError(
                    f"visit {vid}: revision {revision} is older than queued {row['revision']}"
                )
        self._register_photos(vid, manifest, by_id)
        now = self._clock()
        cur = self._conn.execute(
            "INSERT INTO entries (visit_id, revision, body, fingerprint, state, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (
                vid,
                revision,
                json.dumps(visit, ensure_ascii=False, separators=(",", ":")),
                fp,
                now,
                now,
            ),
        )
        seq = cur.lastrowid
        for position, pid in enumerate(listed):
            self._conn.execute(
                "INSERT INTO entry_photos (seq, photo_id, position) VALUES (?, ?, ?)",
                (seq, pid, position),
            )
        return self._entry(
            self._conn.execute("SELECT * FROM entries WHERE seq = ?", (seq,)).fetchone()
        )

    def _register_photos(
        self, vid: str, manifest: list[dict[str, Any]], files: Mapping[str, PhotoFile]
    ) -> None:
        """Record photo files; a photo not yet uploaded may get a new file of the same bytes."""
        now = self._clock()
        for item in manifest:
            pid = str(item.get("id"))
            row = self._conn.execute("SELECT * FROM photos WHERE photo_id = ?", (pid,)).fetchone()
            photo = files.get(pid)
            if row is not None and row["visit_id"] != vid:
                raise OutboxError(f"photo {pid} already belongs to visit {row['visit_id']}")
            if row is not None and row["state"] == DISCARDED:
                # Named again by a new revision: the user wants it sent after all.
                self._conn.execute(
                    "UPDATE photos SET state = 'pending', upload_url = NULL, error = NULL,"
                    " http_status = NULL, updated_at = ? WHERE photo_id = ?",
                    (now, pid),
                )
            if photo is None:
                if row is None:
                    raise OutboxError(f"visit {vid}: manifest names photo {pid} but no file given")
                if row["sha256"] != item.get("sha256") or row["size"] != item.get("size"):
                    raise OutboxError(f"visit {vid}: photo {pid} differs from the queued file")
                continue
            if row is None:
                self._conn.execute(
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
                self._conn.execute(
                    "UPDATE photos SET path = ?, content_type = ?, filename = ?, updated_at = ?"
                    " WHERE photo_id = ?",
                    (photo.path, photo.content_type, photo.filename, now, pid),
                )

    # -- transitions -------------------------------------------------------------------

    def _get_row(self, seq: int) -> sqlite3.Row:
        """Return the row of an entry or raise KeyError."""
        row = self._conn.execute("SELECT * FROM entries WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise KeyError(seq)
        return row

    def mark_acknowledged(self, seq: int, status: int) -> Entry:
        """Record a 2xx for a pending entry: `sent`, or `done` when no photo is outstanding."""
        with self._lock, db.transaction(self._conn):
            row = self._get_row(seq)
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
            return self._entry(self._get_row(seq))

    def mark_needs_attention(self, seq: int, status: int, error: Mapping[str, Any]) -> Entry:
        """Record the server's final refusal (409/422) of a pending entry, with its error."""
        with self._lock, db.transaction(self._conn):
            row = self._get_row(seq)
            if row["state"] == PENDING:
                self._conn.execute(
                    "UPDATE entries SET state = 'needs_attention', http_status = ?, error = ?,"
                    " next_attempt_at = NULL, updated_at = ? WHERE seq = ?",
                    (status, _dumps(error), self._clock(), seq),
                )
            return self._entry(self._get_row(seq))

    def annotate_error(self, seq: int, extra: Mapping[str, Any]) -> Entry:
        """Merge facts (such as the server's stored revision) into an entry's error."""
        with self._lock, db.transaction(self._conn):
            row = self._get_row(seq)
            error = _loads(row["error"]) or {}
            error.update(extra)
            self._conn.execute("UPDATE entries SET error = ? WHERE seq = ?", (_dumps(error), seq))
            return self._entry(self._get_row(seq))

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
            return self._entry(self._get_row(seq))

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
                (status, _dumps(error), self._clock(), photo_id),
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
                    "error": _loads(first["error"]),
                }
                self._conn.execute(
                    "UPDATE entries SET state = 'needs_attention', error = ?, updated_at = ?"
                    " WHERE seq = ?",
                    (_dumps(error), now, seq),
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
        # An acknowledged visit held up by a refused photo, requeued without a new body, gets
        # its refused photos retried (optionally from new files with the same bytes).
        # Otherwise a new entry replaces the old one: same revision after a 422 (the server
        # stored nothing), the server's revision + 1 after a 409 or once acknowledged.
        with self._lock, db.transaction(self._conn):
            row = self._conn.execute(
                "SELECT * FROM entries WHERE visit_id = ? AND state = 'needs_attention'"
                " ORDER BY seq DESC LIMIT 1",
                (visit_id,),
            ).fetchone()
            if row is None:
                raise OutboxError(f"visit {visit_id} has no entry that needs attention")
            old = self._entry(row)
            if old.acknowledged and body is None and revision is None:
                return self._retry_photos(old, photos)
            new_body = dict(body if body is not None else old.body)
            if str(new_body.get("id")) != visit_id:
                raise OutboxError(f"the new body has id {new_body.get('id')!r}, not {visit_id}")
            new_body["revision"] = revision or self._next_revision(old)
            self._conn.execute(
                "UPDATE entries SET state = 'superseded', updated_at = ? WHERE seq = ?",
                (self._clock(), old.seq),
            )
            entry = self._insert(new_body, photos)
            self._conn.execute(
                "UPDATE entries SET replaced_by = ? WHERE seq = ?", (entry.seq, old.seq)
            )
            return entry

    @staticmethod
    def _next_revision(old: Entry) -> int:
        """Choose the revision of a requeued visit from what the server said."""
        server = (old.error or {}).get("server") or {}
        if old.http_status == 409 and isinstance(server.get("revision"), int):
            return int(server["revision"]) + 1
        if old.acknowledged or old.http_status == 409:
            return old.revision + 1
        # A 422 stored nothing: the corrected content is still this revision.
        return old.revision

    def _retry_photos(self, old: Entry, photos: Sequence[PhotoFile]) -> Entry:
        """Put an acknowledged entry's refused photos back in line."""
        now = self._clock()
        files = {p.id: p for p in photos}
        for pid in old.photo_ids:
            row = self._conn.execute("SELECT * FROM photos WHERE photo_id = ?", (pid,)).fetchone()
            if row["state"] != NEEDS_ATTENTION:
                continue
            new = files.get(pid)
            if new is not None and (new.sha256 != row["sha256"] or new.size != row["size"]):
                raise OutboxError(f"photo {pid}: the new file has other bytes than the manifest")
            self._conn.execute(
                "UPDATE photos SET state = 'pending', path = ?, upload_url = NULL, error = NULL,"
                " http_status = NULL, updated_at = ? WHERE photo_id = ?",
                (new.path if new else row["path"], now, pid),
            )
        self._conn.execute(
            "UPDATE entries SET state = 'sent', error = NULL, updated_at = ? WHERE seq = ?",
            (now, old.seq),
        )
        return self._entry(self._get_row(old.seq))

    def discard(self, visit_id: str) -> list[Entry]:
        """Give up on a visit's open entries and its unfinished photos, as the user asked."""
        with self._lock, db.transaction(self._conn):
            now = self._clock()
            rows = self._conn.execute(
                "SELECT seq FROM entries WHERE visit_id = ? AND state IN"
                " ('pending', 'sent', 'needs_attention')",
                (visit_id,),
            ).fetchall()
            if not rows:
                raise OutboxError(f"visit {visit_id} has nothing open to discard")
            self._conn.execute(
                "UPDATE entries SET state = 'discarded', updated_at = ? WHERE visit_id = ? AND"
                " state IN ('pending', 'sent', 'needs_attention')",
                (now, visit_id),
            )
            self._conn.execute(
                "UPDATE photos SET state = 'discarded', updated_at = ? WHERE visit_id = ? AND"
                " state IN ('pending', 'needs_attention')",
                (now, visit_id),
            )
            return [self._entry(self._get_row(r[0])) for r in rows]

    def prune(self, before: float) -> int:
        """Delete finished history (done, superseded, discarded) last touched before `before`."""
        with self._lock, db.transaction(self._conn):
            rows = self._conn.execute(
                "SELECT seq FROM entries WHERE state IN ('done', 'superseded', 'discarded')"
                " AND updated_at < ?",
                (before,),
            ).fetchall()
            seqs = [r[0] for r in rows]
            for seq in seqs:
                self._conn.execute(
                    "UPDATE entries SET replaced_by = NULL WHERE replaced_by = ?", (seq,)
                )
                self._conn.execute("DELETE FROM entry_photos WHERE seq = ?", (seq,))
                self._conn.execute("DELETE FROM entries WHERE seq = ?", (seq,))
            # Photos nothing refers to any more are history too.
            self._conn.execute(
                "DELETE FROM photos WHERE state IN ('done', 'discarded') AND NOT EXISTS"
                " (SELECT 1 FROM entry_photos ep WHERE ep.photo_id = photos.photo_id)"
            )
            return len(seqs)
