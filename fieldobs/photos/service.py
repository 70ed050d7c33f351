"""Photos: finish an upload, process it once, record it, join it to its visit; scoped lookup.

Processing (up to ~1 s for a HEIC) runs with no transaction open; the outcome is then recorded
in one short write transaction together with the visit's status and the upload's state. The
first bytes recorded for a photo id are kept: the same bytes again are a no-op success, other
bytes a 409. A rejected photo is recorded too (state `rejected`, with its reason), so a replay
gets the same answer.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fieldobs.errors import BadRequest, Conflict, FieldobsError, Invalid, NotFound, PayloadTooLarge
from fieldobs.people.scope import Principal
from fieldobs.photos import tus as uploads
from fieldobs.photos.processing import PhotoRejected, ProcessedPhoto, process_photo
from fieldobs.photos.store import PhotoStore, store_for
from fieldobs.storage.connection import Database, one, transaction
from fieldobs.timeutil import now_rfc3339
from fieldobs.visits.read import find_visible
from fieldobs.visits.states import refresh_status

THUMB_CONTENT_TYPE = "image/jpeg"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoSettings:
    """How photos are checked and stored (from the app config)."""

    max_bytes: int
    one_shot_max_bytes: int
    max_pixels: int
    max_side: int | None
    upload_expiry: timedelta


@dataclass(frozen=True)
class PhotoOutcome:
    """How a completed upload was answered: 201 kept, 200 replay, else the refusal."""

    status: int
    photo: dict[str, Any] | None
    error: FieldobsError | None = None


Recorder = Callable[[Database, PhotoOutcome], None]


def parse_id(value: str | None, name: str) -> str:
    """Return a phone-made UUID in lowercase hyphenated form, or raise 422 naming the field."""
    try:
        return str(uuid.UUID(value or ""))
    except ValueError as error:
        raise Invalid(f"{name} must be a UUID.", fields={name: ["must be a UUID"]}) from error


def check_visit_owner(db: Database, principal: Principal, visit_id: str) -> None:
    """Let only the observer of an existing visit send its photos (any visit not yet arrived)."""
    visit = one(db.execute("SELECT observer_id FROM visits WHERE id = ?", [visit_id]))
    if visit is not None and visit["observer_id"] != principal.user_id:
        raise NotFound("No such visit.")


# --- tus --------------------------------------------------------------------------------------


def start_upload(
    db: Database,
    data_dir: Path,
    principal: Principal,
    *,
    length: int,
    metadata: str | None,
    settings: PhotoSettings,
    now: datetime,
) -> dict[str, Any]:
    """Create a tus upload of one photo for a visit (which may not have arrived yet)."""
    if length > settings.max_bytes:
        raise PayloadTooLarge(
            f"A photo may have at most {settings.max_bytes} bytes.",
            fields={"Upload-Length": [f"at most {settings.max_bytes}"]},
        )
    if length < 1:
        raise BadRequest("An empty file is not a photo.", fields={"Upload-Length": ["at least 1"]})
    values = uploads.parse_metadata(metadata)
    visit_id = parse_id(values.get("visit_id"), "Upload-Metadata.visit_id")
    photo_id = parse_id(values.get("photo_id"), "Upload-Metadata.photo_id")
    check_visit_owner(db, principal, visit_id)
    new = uploads.NewUpload(principal.user_id, visit_id, photo_id, length, metadata)
    return uploads.create_upload(db, data_dir, new, expiry=settings.upload_expiry, now=now)


def receive_chunk(
    db: Database,
    data_dir: Path,
    principal: Principal,
    upload_id: str,
    chunk: uploads.Chunk,
    *,
    settings: PhotoSettings,
    now: datetime,
) -> tuple[dict[str, Any], PhotoOutcome | None]:
    """Append one PATCH body; the chunk that completes the upload also finishes it."""
    row = uploads.find_upload(db, upload_id, principal.user_id, now)
    with uploads.hold_if_present(data_dir, upload_id) as held:
        if held is None or row["state"] == "finished":
            # No part file: finished (perhaps by a request that just let go of it), or lost.
            row = uploads.find_upload(db, upload_id, principal.user_id, now)
            if row["state"] != "finished":
                raise NotFound("No such upload.")
            uploads.check_final_replay(row, chunk)
            return row, _recorded(row)
        row = uploads.append_chunk(
            db, held, principal.user_id, chunk, expiry=settings.upload_expiry, now=now
        )
        if row["state"] == "finished":
            return row, _recorded(row)
        if row["received"] < row["length"]:
            return row, None
        outcome = finish_upload(db, store_for(data_dir), held, row, settings)
    return {**row, "state": "finished"}, outcome


def upload_status(
    db: Database,
    data_dir: Path,
    principal: Principal,
    upload_id: str,
    *,
    settings: PhotoSettings,
    now: datetime,
) -> dict[str, Any]:
    """Return an upload for HEAD, finishing one whose last bytes arrived before a crash."""
    row = uploads.find_upload(db, upload_id, principal.user_id, now)
    if row["state"] == "receiving" and row["received"] == row["length"]:
        try:
            with uploads.hold(data_dir, upload_id) as held:
                row = uploads.find_upload(db, upload_id, principal.user_id, now)
                if row["state"] == "receiving" and row["received"] == row["length"]:
                    finish_upload(db, store_for(data_dir), held, row, settings)
        except (uploads.UploadBusy, NotFound):
            pass  # another request is finishing it
        except Exception:
            # HEAD must still tell the offset; the next HEAD or the purge job tries again.
            log.exception("finishing upload %s failed", upload_id)
    return row


def finish_stalled_uploads(db: Database, data_dir: Path, settings: PhotoSettings) -> int:
    """Finish uploads whose bytes all arrived but whose processing a crash interrupted."""
    stalled = db.execute(
        "SELECT id FROM uploads WHERE state = 'receiving' AND received = length"
    ).fetchall()
    finished = 0
    for (upload_id,) in stalled:
        try:
            with uploads.hold(data_dir, upload_id) as held:
                row = one(db.execute("SELECT * FROM uploads WHERE id = ?", [upload_id]))
                if row and row["state"] == "receiving" and row["received"] == row["length"]:
                    finish_upload(db, store_for(data_dir), held, row, settings)
                    finished += 1
        except (uploads.UploadBusy, NotFound):
            continue
    return finished


def finish_upload(
    db: Database,
    store: PhotoStore,
    held: uploads.HeldUpload,
    row: dict[str, Any],
    settings: PhotoSettings,
) -> PhotoOutcome:
    """Process a complete held upload once, record the photo and the upload's answer."""
    os.ftruncate(held.fd, row["length"])  # only the counted bytes are the photo
    with held.path.open("rb") as source:
        sha256 = hashlib.file_digest(source, "sha256").hexdigest()

    def also(db: Database, outcome: PhotoOutcome) -> None:
        uploads.mark_finished(db, row["id"], outcome.status, outcome.error)

    outcome = accept_photo(
        db,
        store,
        held.path,
        sha256,
        row["length"],
        photo_id=row["photo_id"],
        visit_id=row["visit_id"],
        uploader_id=row["owner_id"],
        settings=settings,
        also=also,
    )
    uploads.discard_part(held)  # the original is never served: gone once recorded
    return outcome


def _recorded(row: dict[str, Any]) -> PhotoOutcome:
    return PhotoOutcome(int(row["outcome_status"]), None, uploads.recorded_outcome(row))


# --- one shot ---------------------------------------------------------------------------------


def put_photo(
    db: Database,
    data_dir: Path,
    principal: Principal,
    visit_id: str,
    photo_id: str,
    body: Any,
    declared: int | None,
    *,
    settings: PhotoSettings,
) -> PhotoOutcome:
    """Receive a small photo in one request body; safe to repeat."""
    visit_id, photo_id = parse_id(visit_id, "visit_id"), parse_id(photo_id, "photo_id")
    check_visit_owner(db, principal, visit_id)
    path, sha256, size = uploads.spool(
        body, data_dir, limit=settings.one_shot_max_bytes, declared=declared
    )
    try:
        if size == 0:
            raise BadRequest("The body is empty: send the photo's bytes.", code="empty_body")
        return accept_photo(
            db,
            store_for(data_dir),
            path,
            sha256,
            size,
            photo_id=photo_id,
            visit_id=visit_id,
            uploader_id=principal.user_id,
            settings=settings,
        )
    finally:
        path.unlink(missing_ok=True)


# --- recording --------------------------------------------------------------------------------


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
    """Process uploaded bytes (unless already decided) and record the outcome in one commit."""
    facts = (photo_id, visit_id, uploader_id, sha256)
    ready: _Ready | None = None
    while True:
        if ready is None and _known_outcome(db, *facts) is None:
            ready = _process(store, source, settings)  # no transaction is open meanwhile
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


def _process(store: PhotoStore, source: Path, settings: PhotoSettings) -> _Ready:
    try:
        result = process_photo(source, max_pixels=settings.max_pixels, max_side=settings.max_side)
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
        return PhotoOutcome(
            status, photo, uploads.refusal(status, photo["reason"], photo["message"])
        )
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


# --- reading ----------------------------------------------------------------------------------


def find_servable(db: Database, principal: Principal, photo_id: str) -> dict[str, Any]:
    """Return a received photo of a visit the caller may see, or 404.

    The photo must be the one its visit's manifest names (same id, same bytes, sent by the
    visit's observer): a photo someone else sent under that visit id is never shown.
    """
    try:
        photo_id = str(uuid.UUID(photo_id))
    except ValueError as error:
        raise NotFound("No such photo.") from error
    photo = one(db.execute("SELECT * FROM photos WHERE id = ? AND state = 'received'", [photo_id]))
    if photo is None:
        raise NotFound("No such photo.")
    try:
        visit = find_visible(db, principal, photo["visit_id"])
    except NotFound as error:
        raise NotFound("No such photo.") from error
    named = db.execute(
        "SELECT 1 FROM visit_photos WHERE visit_id = ? AND photo_id = ? AND sha256 = ?",
        [visit["id"], photo_id, photo["sha256"]],
    ).fetchone()
    if named is None or photo["uploader_id"] != visit["observer_id"]:
        raise NotFound("No such photo.")
    return photo


def present(photo: dict[str, Any]) -> dict[str, Any]:
    """Return the API representation of a photo row."""
    body = {
        "id": photo["id"],
        "visit_id": photo["visit_id"],
        "state": photo["state"],
        "sha256": photo["sha256"],
        "size": photo["size"],
        "received_at": photo["received_at"],
    }
    if photo["state"] == "received":
        body.update(
            content_type=photo["content_type"],
            width=photo["width"],
            height=photo["height"],
            captured_at=photo["captured_at"],
        )
    else:
        body.update(reason=photo["reason"], message=photo["message"])
    return body
