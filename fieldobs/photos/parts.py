"""The files behind uploads: part files locked by one writer, request bodies spooled in pieces.

The bytes of an upload live in DATA_DIR/uploads/<id>.part. One upload is written by one request
at a time: an exclusive non-blocking `flock` on the part file, which holds across gunicorn
processes and threads and is released when a worker dies. A second writer gets 409
`upload_busy` (the sync kit and tuspy both re-ask HEAD and retry).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fieldobs.errors import BadRequest, Conflict, FieldobsError, NotFound, PayloadTooLarge
from fieldobs.photos.store import fsync_dir

READ_SIZE = 64 * 1024  # the request body is read and written in pieces this big, never whole
# How long a phone should wait before sending again after a full disk: an operator's fix.
DISK_FULL_RETRY_SECONDS = 300
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageFull(FieldobsError):
    status = 507
    code = "storage_full"
    default_message = (
        "The server's disk is full; nothing you sent was kept half-written. Send it again later."
    )


def is_disk_full(error: BaseException) -> bool:
    """Tell whether an error means the disk (or the quota) has no room left."""
    if isinstance(error, OSError):
        return error.errno in _DISK_FULL
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


@contextlib.contextmanager
def reporting_full_disk(**headers: str) -> Iterator[None]:
    """Turn a full disk into a 507 with Retry-After (a retry succeeds once there is room)."""
    try:
        yield
    except (OSError, sqlite3.Error) as error:
        if not is_disk_full(error):
            raise
        retry = {"Retry-After": str(DISK_FULL_RETRY_SECONDS), **headers}
        raise StorageFull(headers=retry) from error


class UploadBusy(Conflict):
    code = "upload_busy"
    default_message = "Another request is writing this upload; ask HEAD and retry."


class IncompleteBody(BadRequest):
    code = "incomplete_body"
    default_message = "The request body ended before its Content-Length."


@dataclass(frozen=True)
class HeldUpload:
    """An upload whose part file this request has locked for writing."""

    id: str
    fd: int
    path: Path


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
    with reporting_full_disk():
        fd, name = _temp_file(folder)
    path, digest, size = Path(name), hashlib.sha256(), 0
    try:
        while declared is None or size < declared:
            want = READ_SIZE if declared is None else min(READ_SIZE, declared - size)
            data = read_some(stream, want)
            if not data:
                break
            size += len(data)
            if size > limit:
                raise PayloadTooLarge(f"At most {limit} bytes are accepted here.")
            with reporting_full_disk():
                write_all(fd, data)
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


def read_some(stream: IO[bytes], size: int) -> bytes | None:
    """Read up to `size` bytes; None when the client went away mid-body."""
    try:
        return stream.read(size)
    except Exception:
        # werkzeug's ClientDisconnected, gunicorn's NoMoreData, socket timeouts: all mean
        # the body stopped here; what arrived before is already on disk.
        return None


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
