"""Resumable upload state (tus 1.0.0): create, offset, append with checksum, finish, expire.

Decisions, and why:

- The bytes of an upload live in DATA_DIR/uploads/<id>.part; the offset the server reports is
  `uploads.received`, and it only grows after the appended bytes were fsynced. The part file may
  hold a longer tail (a crash, a bad checksum): every append first truncates to the offset.
- One upload is written by one request at a time: an exclusive non-blocking `flock` on the part
  file, which holds across gunicorn processes and threads and is released when a worker dies.
  A second writer gets 409 `upload_busy` (the sync kit and tuspy both re-ask HEAD and retry).
- A body cut short keeps the bytes that arrived, unless the PATCH carried `Upload-Checksum`:
  a partial chunk cannot be verified, so it is dropped like a mismatching one.
- An upload expires UPLOAD_EXPIRY_HOURS after its last progress (410 from then on); the purge
  job deletes its bytes, keeps a tombstone row for `tombstone_days`, and deletes photos whose
  visit never arrived after `unclaimed_photo_days` (a phone may sync photos days before the
  visit, so they are kept far longer than an unfinished upload).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from fieldobs.errors import (
    BadRequest,
    Conflict,
    FieldobsError,
    Gone,
    Invalid,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from fieldobs.photos.store import PhotoStore, fsync_dir, store_for
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.timeutil import to_rfc3339

READ_SIZE = 64 * 1024  # the request body is read and written in pieces this big, never whole
CHECKSUMS: dict[str, Callable[[], Any]] = {
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "md5": lambda: hashlib.md5(usedforsecurity=False),
    "sha256": hashlib.sha256,
}
# A part file or temp file without a row may be a create in progress: leave it this long.
ORPHAN_GRACE_SECONDS = 3600
# A blob nothing references may be about to be recorded by a request: leave it this long.
BLOB_GRACE_SECONDS = 3600


class ChecksumMismatch(FieldobsError):
    status = 460
    code = "checksum_mismatch"
    default_message = "The chunk does not match its Upload-Checksum; it was discarded."


class UploadBusy(Conflict):
    code = "upload_busy"
    default_message = "Another request is writing this upload; ask HEAD and retry."


class IncompleteBody(BadRequest):
    code = "incomplete_body"
    default_message = "The request body ended before its Content-Length."


_REFUSALS: dict[int, type[FieldobsError]] = {
    400: BadRequest,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
}


def refusal(status: int, code: str, message: str) -> FieldobsError:
    """Rebuild a recorded refusal as the error that gives the same status and body."""
    return _REFUSALS.get(status, Invalid)(message, code=code)


@dataclass(frozen=True)
class Checksum:
    """A parsed `Upload-Checksum` header."""

    algorithm: str
    digest: bytes


@dataclass(frozen=True)
class Chunk:
    """One PATCH: where the client thinks the upload stands, and its body."""

    offset: int
    stream: IO[bytes]
    declared: int | None  # Content-Length; None for a chunked body
    checksum: Checksum | None = None


@dataclass(frozen=True)
class NewUpload:
    """What a tus creation request asks for."""

    owner_id: int
    visit_id: str
    photo_id: str
    length: int
    metadata: str | None


@dataclass(frozen=True)
class HeldUpload:
    """An upload whose part file this request has locked for writing."""

    id: str
    fd: int
    path: Path


# --- headers ----------------------------------------------------------------------------------


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode `Upload-Metadata`: comma-separated `key base64(value)` pairs (value optional)."""
    found: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        try:
            found[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise BadRequest(
                "Upload-Metadata values must be base64 of UTF-8 text.",
                fields={f"Upload-Metadata.{key}": ["not base64 of UTF-8 text"]},
            ) from error
    return found


def parse_checksum(header: str | None) -> Checksum | None:
    """Decode `Upload-Checksum: <algorithm> <base64 digest>`; None when absent."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise BadRequest(
            f"Checksum algorithm {algorithm!r} is not supported: use {', '.join(CHECKSUMS)}.",
            code="checksum_algorithm",
            fields={"Upload-Checksum": [f"one of {', '.join(CHECKSUMS)}"]},
        )
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as error:
        raise BadRequest(
            "Upload-Checksum must be '<algorithm> <base64 digest>'.",
            fields={"Upload-Checksum": ["the digest is not base64"]},
        ) from error
    if len(digest) != CHECKSUMS[algorithm]().digest_size:
        raise BadRequest(
            f"A {algorithm} digest has {CHECKSUMS[algorithm]().digest_size} bytes.",
            fields={"Upload-Checksum": ["wrong digest length"]},
        )
    return Checksum(algorithm, digest)


# --- files ------------------------------------------------------------------------------------


def uploads_dir(data_dir: Path) -> Path:
    """Return the directory of part files and one-shot temp files."""
    return Path(data_dir) / "uploads"


def part_path(data_dir: Path, upload_id: str) -> Path:
    """Return the part file of an upload."""
    return uploads_dir(data_dir) / f"{upload_id}.part"


@contextlib.contextmanager
def hold_if_present(data_dir: Path, upload_id: str) -> Iterator[HeldUpload | None]:
    """Lock an upload's part file for writing (None when it has none), or raise UploadBusy."""
    path = part_path(data_dir, upload_id)
    try:
        fd = os.open(path, os.O_RDWR) if upload_id.isalnum() else None
    except FileNotFoundError:
        fd = None
    if fd is None:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise UploadBusy(headers={"Retry-After": "1"}) from error
        yield HeldUpload(upload_id, fd, path)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def hold(data_dir: Path, upload_id: str) -> Iterator[HeldUpload]:
    """Lock an upload's part file for writing, or raise UploadBusy (404 when it has none)."""
    with hold_if_present(data_dir, upload_id) as held:
        if held is None:
            raise NotFound("No such upload.")
        yield held


def discard_part(held: HeldUpload) -> None:
    """Delete the part file of a held upload (its bytes are no longer needed)."""
    with contextlib.suppress(FileNotFoundError):
        held.path.unlink()
        fsync_dir(held.path.parent)


def spool(
    stream: IO[bytes], data_dir: Path, *, limit: int, declared: int | None
) -> tuple[Path, str, int]:
    """Copy a request body to a temp file in bounded pieces; return (path, sha256, size)."""
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"At most {limit} bytes are accepted here.")
    folder = uploads_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = _temp_file(folder)
    path, digest, size = Path(name), hashlib.sha256(), 0
    try:
        while declared is None or size < declared:
            want = READ_SIZE if declared is None else min(READ_SIZE, declared - size)
            data = _read(stream, want)
            if not data:
                break
            size += len(data)
            if size > limit:
                raise PayloadTooLarge(f"At most {limit} bytes are accepted here.")
            _write_all(fd, data)
            digest.update(data)
        if declared is not None and size < declared:
            raise IncompleteBody()
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return path, digest.hexdigest(), size


def _temp_file(folder: Path) -> tuple[int, str]:
    name = folder / f"put-{secrets.token_hex(16)}.tmp"
    return os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), str(name)


def _read(stream: IO[bytes], size: int) -> bytes | None:
    """Read up to `size` bytes; None when the client went away mid-body."""
    try:
        return stream.read(size)
    except Exception:
        # werkzeug's ClientDisconnected, gunicorn's NoMoreData, socket timeouts: all mean
        # the body stopped here; what arrived before is already on disk.
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# --- state ------------------------------------------------------------------------------------


def create_upload(
    db: Database, data_dir: Path, new: NewUpload, *, expiry: timedelta, now: datetime
) -> dict[str, Any]:
    """Create an empty upload: its part file, then its row."""
    upload_id = secrets.token_hex(16)
    path = part_path(data_dir, upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    fsync_dir(path.parent)
    stamp = to_rfc3339(now)
    row = {
        "id": upload_id,
        "owner_id": new.owner_id,
        "visit_id": new.visit_id,
        "photo_id": new.photo_id,
        "length": new.length,
        "received": 0,
        "metadata": new.metadata,
        "state": "receiving",
        "outcome_status": None,
        "outcome_error": None,
        "created_at": stamp,
        "updated_at": stamp,
        "expires_at": to_rfc3339(now + expiry),
    }
    with transaction(db):
        db.execute(
            f"INSERT INTO uploads ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    return row


def find_upload(
    db: Database, upload_id: str, owner_id: int, now: datetime, *, allow_expired: bool = False
) -> dict[str, Any]:
    """Return the caller's upload; 404 for anyone else's, 410 once it expired."""
    row = one(db.execute("SELECT * FROM uploads WHERE id = ?", [upload_id]))
    if row is None or row["owner_id"] != owner_id:
        raise NotFound("No such upload.")
    if not allow_expired and (row["state"] == "expired" or row["expires_at"] <= to_rfc3339(now)):
        raise Gone("This upload expired; create a new one.", code="upload_expired")
    return row


def append_chunk(
    db: Database,
    held: HeldUpload,
    owner_id: int,
    chunk: Chunk,
    *,
    expiry: timedelta,
    now: datetime,
) -> dict[str, Any]:
    """Append a PATCH body to a held upload durably; return the row with its new offset.

    Raises 409 (offset differs), 413 (beyond Upload-Length), 460 (checksum) changing nothing,
    and IncompleteBody after keeping what arrived of a cut body without a checksum.
    """
    row = find_upload(db, held.id, owner_id, now)  # again, under the lock
    if row["state"] == "finished":
        check_final_replay(row, chunk)
        return row
    received = _recover_offset(db, held, row)
    if chunk.offset != received:
        raise offset_conflict(received)
    room = row["length"] - received
    if chunk.declared is not None and chunk.declared > room:
        raise PayloadTooLarge(
            f"The chunk would go past Upload-Length ({row['length']} bytes).",
            headers={"Upload-Offset": str(received)},
        )
    os.ftruncate(held.fd, received)  # drop any tail no answer acknowledged
    os.lseek(held.fd, received, os.SEEK_SET)
    hasher = CHECKSUMS[chunk.checksum.algorithm]() if chunk.checksum else None
    got, cut = 0, False
    while chunk.declared is None or got < chunk.declared:
        want = READ_SIZE if chunk.declared is None else min(READ_SIZE, chunk.declared - got)
        data = _read(chunk.stream, want)
        if data is None:
            cut = True
            break
        if not data:
            cut = chunk.declared is not None
            break
        if got + len(data) > room:
            os.ftruncate(held.fd, received)
            raise PayloadTooLarge(
                f"The chunk goes past Upload-Length ({row['length']} bytes); it was discarded.",
                headers={"Upload-Offset": str(received)},
            )
        _write_all(held.fd, data)
        if hasher is not None:
            hasher.update(data)
        got += len(data)
    if chunk.checksum is not None and hasher is not None:
        if cut:
            os.ftruncate(held.fd, received)
            raise IncompleteBody(
                "The chunk ended early and its checksum cannot be verified; it was discarded.",
                headers={"Upload-Offset": str(received)},
            )
        if hasher.digest() != chunk.checksum.digest:
            os.ftruncate(held.fd, received)
            raise ChecksumMismatch(headers={"Upload-Offset": str(received)})
    if got:
        os.fsync(held.fd)  # the bytes are durable before the offset says so
        row = _advance(db, row, received + got, expiry=expiry, now=now)
    if cut:
        raise IncompleteBody(
            f"The body ended early; the {got} bytes that arrived were kept.",
            headers={"Upload-Offset": str(row["received"])},
        )
    return row


def offset_conflict(received: int) -> Conflict:
    """Return the 409 for a PATCH whose Upload-Offset is not the server's."""
    return Conflict(
        f"Upload-Offset must be {received}, the bytes the server holds.",
        code="offset_mismatch",
        headers={"Upload-Offset": str(received)},
    )


def check_final_replay(row: dict[str, Any], chunk: Chunk) -> None:
    """Accept a repeated empty PATCH at the end of a finished upload; refuse anything else."""
    if chunk.offset != row["length"]:
        raise offset_conflict(row["received"])
    if chunk.declared or (chunk.declared is None and _read(chunk.stream, 1)):
        raise PayloadTooLarge(
            "The upload is complete; no more bytes fit.",
            headers={"Upload-Offset": str(row["received"])},
        )


def _recover_offset(db: Database, held: HeldUpload, row: dict[str, Any]) -> int:
    """Return the durable offset, lowered if the part file lost acknowledged bytes."""
    size = os.fstat(held.fd).st_size
    if size >= row["received"]:
        return int(row["received"])
    # Only a disk that lied about fsync gets here: resume from what is really there.
    with transaction(db):
        db.execute("UPDATE uploads SET received = ? WHERE id = ?", [size, row["id"]])
    return size


def _advance(
    db: Database, row: dict[str, Any], received: int, *, expiry: timedelta, now: datetime
) -> dict[str, Any]:
    stamp = to_rfc3339(now)
    expires = to_rfc3339(now + expiry)
    with transaction(db):
        db.execute(
            "UPDATE uploads SET received = ?, updated_at = ?, expires_at = ? WHERE id = ?",
            [received, stamp, expires, row["id"]],
        )
    return {**row, "received": received, "updated_at": stamp, "expires_at": expires}


def mark_finished(db: Database, upload_id: str, status: int, error: FieldobsError | None) -> None:
    """Record how an upload's completion was answered (call inside a transaction)."""
    db.execute(
        "UPDATE uploads SET state = 'finished', outcome_status = ?, outcome_error = ? WHERE id = ?",
        [status, json.dumps(error.to_dict()["error"]) if error else None, upload_id],
    )


def recorded_outcome(row: dict[str, Any]) -> FieldobsError | None:
    """Return the refusal a finished upload was answered with (None: it was kept)."""
    if row["outcome_error"] is None:
        return None
    body = json.loads(row["outcome_error"])
    return refusal(int(row["outcome_status"]), body["code"], body["message"])


def terminate_upload(
    db: Database, data_dir: Path, upload_id: str, owner_id: int, now: datetime
) -> None:
    """Delete an upload and its bytes (tus termination); a photo it made stays."""
    row = find_upload(db, upload_id, owner_id, now, allow_expired=True)
    if row["state"] != "receiving":
        with transaction(db):
            db.execute("DELETE FROM uploads WHERE id = ?", [upload_id])
        return
    with hold_if_present(data_dir, upload_id) as held:
        with transaction(db):
            db.execute("DELETE FROM uploads WHERE id = ?", [upload_id])
        if held is not None:
            discard_part(held)


# --- purge ------------------------------------------------------------------------------------


def purge_expired_uploads(
    db: Database,
    data_dir: Path,
    now: datetime,
    *,
    unclaimed_photo_days: float = 30,
    tombstone_days: float = 30,
) -> dict[str, int]:
    """Expire idle uploads, delete unclaimed photos and unreferenced blobs; return counts.

    Safe to run while the server is serving: busy uploads are skipped, and a blob is deleted
    only inside a write transaction that sees nothing referencing it.
    """
    data_dir = Path(data_dir)
    store = store_for(data_dir)
    counts = {
        "expired": _expire(db, data_dir, now),
        "tombstones": _drop_tombstones(db, now - timedelta(days=tombstone_days)),
        "orphan_files": _drop_orphan_files(db, data_dir, store),
    }
    counts["unclaimed_photos"], freed = _drop_unclaimed_photos(
        db, now - timedelta(days=unclaimed_photo_days)
    )
    candidates = set(freed) | set(store.blobs(older_than_seconds=BLOB_GRACE_SECONDS))
    counts["blobs"] = sum(delete_if_unreferenced(db, store, sha) for sha in sorted(candidates))
    return counts


def _expire(db: Database, data_dir: Path, now: datetime) -> int:
    stamp = to_rfc3339(now)
    due = rows(
        db.execute(
            "SELECT id, state FROM uploads WHERE state != 'expired' AND expires_at <= ?", [stamp]
        )
    )
    expired = 0
    for upload in due:
        try:
            with hold_if_present(data_dir, upload["id"]) as held:
                with transaction(db):
                    # Checked again under the lock: a PATCH may have just made progress.
                    changed = db.execute(
                        "UPDATE uploads SET state = 'expired', metadata = NULL"
                        " WHERE id = ? AND state != 'expired' AND expires_at <= ?",
                        [upload["id"], stamp],
                    ).rowcount
                if changed and held is not None:
                    discard_part(held)
                expired += changed
        except UploadBusy:
            continue
    return expired


def _drop_tombstones(db: Database, before: datetime) -> int:
    with transaction(db):
        return int(
            db.execute(
                "DELETE FROM uploads WHERE state = 'expired' AND expires_at <= ?",
                [to_rfc3339(before)],
            ).rowcount
        )


def _drop_orphan_files(db: Database, data_dir: Path, store: PhotoStore) -> int:
    """Delete part files no receiving upload owns and temp files a crash left behind."""
    folder = uploads_dir(data_dir)
    dropped = 0
    cutoff = time.time() - ORPHAN_GRACE_SECONDS
    for path in sorted(folder.glob("*.part")) if folder.is_dir() else []:
        upload_id = path.name.removesuffix(".part")
        row = one(db.execute("SELECT state FROM uploads WHERE id = ?", [upload_id]))
        if row is not None and row["state"] == "receiving":
            continue
        if row is None and _mtime(path) > cutoff:
            continue  # a create between its file and its row
        try:
            with hold(data_dir, upload_id) as held:
                discard_part(held)
                dropped += 1
        except (UploadBusy, NotFound):
            continue
    stale = [p for p in (folder.glob("*.tmp") if folder.is_dir() else []) if _mtime(p) <= cutoff]
    for path in [*stale, *store.stale_temp_files(ORPHAN_GRACE_SECONDS)]:
        path.unlink(missing_ok=True)
        dropped += 1
    return dropped


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


def _drop_unclaimed_photos(db: Database, before: datetime) -> tuple[int, list[str]]:
    """Delete photos whose visit never arrived; return how many, and the blobs they named."""
    with transaction(db):
        unclaimed = rows(
            db.execute(
                "SELECT id, image_sha256, thumb_sha256 FROM photos WHERE received_at <= ?"
                " AND NOT EXISTS (SELECT 1 FROM visits WHERE visits.id = photos.visit_id)",
                [to_rfc3339(before)],
            )
        )
        db.conn.executemany("DELETE FROM photos WHERE id = ?", [(p["id"],) for p in unclaimed])
    freed = [sha for p in unclaimed for sha in (p["image_sha256"], p["thumb_sha256"]) if sha]
    return len(unclaimed), freed


def is_referenced(db: Database, sha256: str) -> bool:
    """Tell whether any photo row names this blob."""
    return (
        db.execute(
            "SELECT 1 FROM photos WHERE image_sha256 = ? UNION ALL"
            " SELECT 1 FROM photos WHERE thumb_sha256 = ? LIMIT 1",
            [sha256, sha256],
        ).fetchone()
        is not None
    )


def delete_if_unreferenced(db: Database, store: PhotoStore, sha256: str) -> bool:
    """Delete a blob nothing references, inside a write transaction (recording re-puts)."""
    if is_referenced(db, sha256):
        return False
    with transaction(db):
        if is_referenced(db, sha256):
            return False
        return store.delete(sha256)
