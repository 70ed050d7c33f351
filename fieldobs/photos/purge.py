"""Clean up after uploads: expire idle ones, drop unclaimed photos, orphan files and blobs.

An upload expires UPLOAD_EXPIRY_HOURS after its last progress (410 from then on); the purge
job deletes its bytes, keeps a tombstone row for `tombstone_days`, and deletes photos whose
visit never arrived after `unclaimed_photo_days` (a phone may sync photos days before the
visit, so they are kept far longer than an unfinished upload).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from fieldobs.errors import NotFound
from fieldobs.photos.parts import UploadBusy, discard_part, hold, hold_if_present, uploads_dir
from fieldobs.photos.policy import PhotoSettings
from fieldobs.photos.service import finish_stalled_uploads
from fieldobs.photos.store import PhotoStore, store_for
from fieldobs.storage.connection import Database, one, rows, transaction
from fieldobs.timeutil import to_rfc3339

# A part file or temp file without a row may be a create in progress: leave it this long.
ORPHAN_GRACE_SECONDS = 3600
# A blob nothing references may be about to be recorded by a request: leave it this long.
BLOB_GRACE_SECONDS = 3600


def purge_expired_uploads(
    db: Database,
    data_dir: Path,
    now: datetime,
    *,
    photos: PhotoSettings,
    unclaimed_photo_days: float = 30,
    tombstone_days: float = 30,
) -> dict[str, int]:
    """Finish stalled uploads, expire idle ones, delete unclaimed photos and unreferenced blobs.

    Safe to run while the server is serving: busy uploads are skipped, and a blob is deleted
    only inside a write transaction that sees nothing referencing it. An upload whose bytes all
    arrived is finished (processed and recorded), never expired: a crash between its last
    chunk and its processing loses nothing, even if the phone never asks again.
    """
    data_dir = Path(data_dir)
    store = store_for(data_dir)
    counts = {
        "finished": finish_stalled_uploads(db, data_dir, photos),
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
            "SELECT id, state FROM uploads WHERE state != 'expired' AND expires_at <= ?"
            # Complete but unprocessed (finishing failed just now): kept for the next run.
            " AND NOT (state = 'receiving' AND received = length)",
            [stamp],
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
                        " WHERE id = ? AND state != 'expired' AND expires_at <= ?"
                        " AND NOT (state = 'receiving' AND received = length)",
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
                "SELECT id, image_sha256, thumb_sha256, staff_sha256 FROM photos"
                " WHERE received_at <= ?"
                " AND NOT EXISTS (SELECT 1 FROM visits WHERE visits.id = photos.visit_id)",
                [to_rfc3339(before)],
            )
        )
        db.conn.executemany("DELETE FROM photos WHERE id = ?", [(p["id"],) for p in unclaimed])
    columns = ("image_sha256", "thumb_sha256", "staff_sha256")
    freed = [p[column] for p in unclaimed for column in columns if p[column]]
    return len(unclaimed), freed


def is_referenced(db: Database, sha256: str) -> bool:
    """Tell whether any photo row names this blob."""
    return (
        db.execute(
            "SELECT 1 FROM photos WHERE image_sha256 = ? UNION ALL"
            " SELECT 1 FROM photos WHERE thumb_sha256 = ? UNION ALL"
            " SELECT 1 FROM photos WHERE staff_sha256 = ? LIMIT 1",
            [sha256, sha256, sha256],
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
