"""Record a finished photo: process it once, store its blobs, insert its row in one commit.

Processing (up to ~1 s for a HEIC) runs with no transaction open; the outcome is then recorded
in one short write transaction together with the visit's status (and, through `also`, the
upload's state). The first bytes recorded for a photo id are kept: the same bytes again are a
no-op success, other bytes a 409. A rejected photo is recorded too (state `rejected`, with its
reason), so a replay gets the same answer.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fieldobs.errors import Conflict
from fieldobs.photos.parts import reporting_full_disk
from fieldobs.photos.policy import PhotoOutcome, PhotoSettings, Recorder
from fieldobs.photos.processing import (
    PhotoRejected,
    ProcessedPhoto,
    process_photo,
    reencode_jpeg,
)
from fieldobs.photos.store import PhotoStore
from fieldobs.photos.tus import refusal
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import now_rfc3339
from fieldobs.visits.states import refresh_status

log = logging.getLogger(__name__)


def accept_photo(
    db: Database,
    store: PhotoStore,
    source: Path,
    sha256: str,
    size: int,
    *,
    photo_id: str,
    visit_id: str,
    uploader_id: int,
    settings: PhotoSettings,
    also: Recorder | None = None,
) -> PhotoOutcome:
    """Process uploaded bytes (unless already decided) and record the outcome in one commit.

    A full disk raises StorageFull (507) with nothing recorded: the same bytes sent again,
    once there is room, are processed as if for the first time.
    """
    facts = (photo_id, visit_id, uploader_id, sha256)
    ready: _Ready | None = None
    while True:
        with reporting_full_disk():
            if ready is None and _known_outcome(db, *facts) is None:
                ready = process_one(store, source, settings)  # no transaction is open meanwhile
            with transaction(db):
                outcome = _known_outcome(db, *facts)  # again, under the write lock
                if outcome is None and ready is not None:
                    outcome = _record(db, store, ready, facts, size)
                if outcome is not None:
                    if also is not None:
                        also(db, outcome)
                    return outcome
        # The photo was purged between the two looks: process it after all.


@dataclass(frozen=True)
class _Ready:
    """A processed photo with its blobs stored, or its rejection."""

    result: ProcessedPhoto | PhotoRejected
    image_sha256: str | None = None
    thumb_sha256: str | None = None


@cache
def decode_slots(count: int) -> threading.BoundedSemaphore:
    """Return this process's semaphore of `count` concurrent decodes.

    Process-wide on purpose: what it bounds is the memory of the process, whatever app in it
    asks (one per count, so apps with different settings still get their own bound).
    """
    return threading.BoundedSemaphore(max(1, count))


def process_one(store: PhotoStore, source: Path, settings: PhotoSettings) -> _Ready:
    """Process one photo under the per-process decode bound; a failure becomes a rejection."""
    try:
        with decode_slots(settings.decodes_per_process):
            result = process_photo(
                source,
                max_pixels=settings.max_pixels,
                max_side=settings.max_side,
                max_decode_pixels=settings.max_decode_pixels,
            )
    except PhotoRejected as rejection:
        return _Ready(rejection)
    except Exception:
        # A decoder failing in a way nobody classified: the file cannot be served either way.
        log.exception("processing %s failed", source.name)
        return _Ready(
            PhotoRejected(
                "unprocessable", "The photo cannot be processed. Retake it, or upload it as JPEG."
            )
        )
    return _Ready(result, store.put(result.image), store.put(result.thumbnail))


def _known_outcome(
    db: Database, photo_id: str, visit_id: str, uploader_id: int, sha256: str
) -> PhotoOutcome | None:
    """Decide without processing: a replay, a conflict, or bytes the visit says are wrong."""
    photo = one(db.execute("SELECT * FROM photos WHERE id = ?", [photo_id]))
    if photo is None:
        named = db.execute(
            "SELECT sha256 FROM visit_photos WHERE visit_id = ? AND photo_id = ?",
            [visit_id, photo_id],
        ).fetchone()
        if named is not None and named[0] != sha256:
            # Keeping these would lock out the right bytes for good: refuse, record nothing.
            return PhotoOutcome(
                409,
                None,
                Conflict(
                    "These bytes differ from the photo in the visit's manifest (sha256).",
                    code="manifest_mismatch",
                ),
            )
        return None
    if (photo["sha256"], photo["visit_id"], photo["uploader_id"]) != (
        sha256,
        visit_id,
        uploader_id,
    ):
        return PhotoOutcome(
            409,
            photo,
            Conflict(
                "This photo id was already uploaded with other content; the first is kept.",
                code="photo_conflict",
            ),
        )
    if photo["state"] == "rejected":
        status = int(photo["reject_status"] or 422)
        return PhotoOutcome(status, photo, refusal(status, photo["reason"], photo["message"]))
    return PhotoOutcome(200, photo)


def _record(
    db: Database,
    store: PhotoStore,
    ready: _Ready,
    facts: tuple[str, str, int, str],
    size: int,
) -> PhotoOutcome:
    """Insert the photo row and move its visit on (call inside the write transaction)."""
    photo_id, visit_id, uploader_id, sha256 = facts
    row: dict[str, Any] = {
        "id": photo_id,
        "visit_id": visit_id,
        "uploader_id": uploader_id,
        "sha256": sha256,
        "size": size,
        "received_at": now_rfc3339(),
    }
    result = ready.result
    if isinstance(result, PhotoRejected):
        row.update(
            state="rejected",
            reason=result.reason,
            message=result.message,
            reject_status=result.status,
        )
    else:
        assert ready.image_sha256 is not None
        assert ready.thumb_sha256 is not None
        # The purge deletes unreferenced blobs only under this same write lock: if it took
        # ours since they were stored, put them back before anything refers to them.
        if not store.exists(ready.image_sha256):
            store.put(result.image)
        if not store.exists(ready.thumb_sha256):
            store.put(result.thumbnail)
        row.update(
            state="received",
            content_type=result.content_type,
            image_sha256=ready.image_sha256,
            thumb_sha256=ready.thumb_sha256,
            width=result.width,
            height=result.height,
            captured_at=result.captured_at,
            source_format=result.source_format,
            lossless=int(result.lossless),
        )
    db.execute(
        f"INSERT INTO photos ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    refresh_status(db, visit_id)
    photo = one(db.execute("SELECT * FROM photos WHERE id = ?", [photo_id]))
    if isinstance(result, PhotoRejected):
        return PhotoOutcome(result.status, photo, result)
    return PhotoOutcome(201, photo)


def staff_copy(
    db: Database, store: PhotoStore, photo: dict[str, Any], settings: PhotoSettings
) -> str:
    """Return the blob of a lossless photo's re-encoded copy, making it on the first call."""
    if photo["staff_sha256"]:
        return str(photo["staff_sha256"])
    with reporting_full_disk(), decode_slots(settings.decodes_per_process):
        source = store.path(photo["image_sha256"]).read_bytes()
        data = reencode_jpeg(source, settings.max_decode_pixels)
    with reporting_full_disk():
        sha256 = store.put(data)
        with transaction(db):
            if not store.exists(sha256):  # the purge took it under this lock: put it back
                store.put(data)
            db.execute(
                "UPDATE photos SET staff_sha256 = ? WHERE id = ? AND staff_sha256 IS NULL",
                [sha256, photo["id"]],
            )
            kept = one(db.execute("SELECT staff_sha256 FROM photos WHERE id = ?", [photo["id"]]))
    return str(kept["staff_sha256"]) if kept and kept["staff_sha256"] else sha256
