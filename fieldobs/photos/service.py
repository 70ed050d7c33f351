"""Photos: receive one (tus or one shot), finish it, hand it to recording; scoped lookup.

How a finished photo is processed and recorded, once, is in recording.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fieldobs.errors import BadRequest, Invalid, NotFound, PayloadTooLarge
from fieldobs.people.scope import Principal, Role
from fieldobs.photos import parts
from fieldobs.photos import tus as uploads
from fieldobs.photos.policy import PhotoOutcome, PhotoSettings
from fieldobs.photos.recording import accept_photo, staff_copy
from fieldobs.photos.store import PhotoStore, store_for
from fieldobs.storage.connection import Database, one
from fieldobs.visits.read import find_visible

THUMB_CONTENT_TYPE = "image/jpeg"

log = logging.getLogger(__name__)


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
    with parts.hold_if_present(data_dir, upload_id) as held:
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
        try:
            outcome = finish_upload(db, store_for(data_dir), held, row, settings)
        except parts.StorageFull as full:
            # Every byte is kept (offset = length); HEAD, an empty PATCH or the purge job
            # finishes it once there is room.
            full.headers["Upload-Offset"] = str(row["received"])
            raise
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
            with parts.hold(data_dir, upload_id) as held:
                row = uploads.find_upload(db, upload_id, principal.user_id, now)
                if row["state"] == "receiving" and row["received"] == row["length"]:
                    finish_upload(db, store_for(data_dir), held, row, settings)
        except (parts.UploadBusy, NotFound):
            pass  # another request is finishing it
        except parts.StorageFull:
            log.warning("upload %s is complete but the disk is full; kept for later", upload_id)
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
            with parts.hold(data_dir, upload_id) as held:
                row = one(db.execute("SELECT * FROM uploads WHERE id = ?", [upload_id]))
                if row and row["state"] == "receiving" and row["received"] == row["length"]:
                    finish_upload(db, store_for(data_dir), held, row, settings)
                    finished += 1
        except (parts.UploadBusy, NotFound):
            continue
        except Exception:
            # One upload failing (a full disk) must not stop the others; the next run retries.
            log.exception("finishing stalled upload %s failed", upload_id)
    return finished


def finish_upload(
    db: Database,
    store: PhotoStore,
    held: parts.HeldUpload,
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
    parts.discard_part(held)  # the original is never served: gone once recorded
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
    path, sha256, size = parts.spool(
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


# --- reading ----------------------------------------------------------------------------------

# Store staff: they must not tell shoppers apart by their phones' quantisation tables.
STAFF_ROLES = frozenset({Role.MANAGER, Role.AREA_LEAD})


def image_to_serve(
    db: Database,
    data_dir: Path,
    principal: Principal,
    photo: dict[str, Any],
    *,
    settings: PhotoSettings,
) -> str:
    """Return the blob of the copy this caller gets: re-encoded for staff if it was lossless."""
    if principal.role in STAFF_ROLES and photo["lossless"]:
        return staff_copy(db, store_for(data_dir), photo, settings)
    return str(photo["image_sha256"])


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
