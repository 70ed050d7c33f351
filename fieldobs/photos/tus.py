"""Resumable upload state (tus 1.0.0): parse headers, create, offset, append with checksum.

Decisions, and why:

- The offset the server reports is `uploads.received`, and it only grows after the appended
  bytes were fsynced. The part file (see parts) may hold a longer tail (a crash, a bad
  checksum): every append first truncates to the offset.
- A body cut short keeps the bytes that arrived, unless the PATCH carried `Upload-Checksum`:
  a partial chunk cannot be verified, so it is dropped like a mismatching one.
- Expired uploads and their bytes are cleaned up by the purge job (see purge).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
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
from fieldobs.photos.parts import (
    READ_SIZE,
    HeldUpload,
    IncompleteBody,
    StorageFull,
    discard_part,
    hold_if_present,
    part_path,
    read_some,
    reporting_full_disk,
    write_all,
)
from fieldobs.photos.store import fsync_dir
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import to_rfc3339

CHECKSUMS: dict[str, Callable[[], Any]] = {
    "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "md5": lambda: hashlib.md5(usedforsecurity=False),
    "sha256": hashlib.sha256,
}


class ChecksumMismatch(FieldobsError):
    status = 460
    code = "checksum_mismatch"
    default_message = "The chunk does not match its Upload-Checksum; it was discarded."


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


# --- headers ----------------------------------------------------------------------------------


INT64_MAX = 2**63 - 1
_COUNT = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"
_METADATA_KEY = re.compile(r"[!-+\--~]+")  # printable ASCII without space or comma


def parse_count(name: str, header: str | None) -> int:
    """Decode a tus byte count (`Upload-Length`, `Upload-Offset`), or raise 400 naming it."""
    value = (header or "").strip(" \t")
    if not _COUNT.fullmatch(value) or int(value) > INT64_MAX:
        raise BadRequest(
            f"{name} must be a whole number of bytes in ASCII digits (at most {INT64_MAX}).",
            fields={name: ["required, ASCII digits, at most 2^63 - 1"]},
        )
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """Decode `Upload-Metadata`: comma-separated `key base64(value)` pairs (value optional)."""
    found: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        if not _METADATA_KEY.fullmatch(key):
            raise BadRequest(
                "Upload-Metadata keys are printable ASCII without spaces or commas.",
                fields={"Upload-Metadata": [f"bad key {key!r}"]},
            )
        if key in found:
            raise BadRequest(
                f"Upload-Metadata names {key!r} twice.",
                fields={f"Upload-Metadata.{key}": ["given twice"]},
            )
        try:
            found[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as error:  # binascii.Error, non-ASCII text
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


# --- state ------------------------------------------------------------------------------------


def create_upload(
    db: Database, data_dir: Path, new: NewUpload, *, expiry: timedelta, now: datetime
) -> dict[str, Any]:
    """Create an empty upload: its part file, then its row."""
    upload_id = secrets.token_hex(16)
    path = part_path(data_dir, upload_id)
    with reporting_full_disk():
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
        data = read_some(chunk.stream, want)
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
        with _discarding_on_full_disk(held, received):
            write_all(held.fd, data)
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
        with _discarding_on_full_disk(held, received):
            os.fsync(held.fd)  # the bytes are durable before the offset says so
            row = _advance(db, row, received + got, expiry=expiry, now=now)
    if cut:
        raise IncompleteBody(
            f"The body ended early; the {got} bytes that arrived were kept.",
            headers={"Upload-Offset": str(row["received"])},
        )
    return row


@contextlib.contextmanager
def _discarding_on_full_disk(held: HeldUpload, received: int) -> Iterator[None]:
    """On a full disk, drop the chunk's bytes and answer 507 at the old offset (tus resumes)."""
    try:
        with reporting_full_disk(**{"Upload-Offset": str(received)}):
            yield
    except StorageFull:
        os.ftruncate(held.fd, received)  # shrinking needs no room
        raise


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
    if chunk.declared or (chunk.declared is None and read_some(chunk.stream, 1)):
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
