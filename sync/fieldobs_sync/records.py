"""What the outbox holds: entry states, entries, photos, the canonical fingerprint, id checks."""

# Entry states: pending → sent (the server acknowledged the visit) → done (and every manifest
# photo is uploaded); or needs_attention (409/422/413, or a photo refused), kept with the
# server's error until the user requeues it (superseded by a new entry) or discards it.

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

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


def new_id() -> str:
    """Return a fresh id for a visit or photo: a random (version 4) UUID."""
    return str(uuid.uuid4())


def check_random_id(value: Any, what: str) -> str:
    """Return `value` as a version-4 UUID string, or raise ValueError naming `what`."""
    # Versions 1, 6 and 7 embed the time (and 1 the device): the server refuses them, as
    # they would tell a store when, and on which phone, a shopper made the visit.
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"{what} must be a UUID made on the phone, got {value!r}") from None
    if parsed.version != 4 or parsed.variant != uuid.RFC_4122:
        raise ValueError(
            f"{what} must be a random (version 4) UUID, got version {parsed.version}: {value}"
        )
    return str(value)


def check_visit(visit: Mapping[str, Any]) -> tuple[str, int, list[dict[str, Any]]]:
    """Return id, revision and manifest of a visit, or raise ValueError."""
    if not isinstance(visit, Mapping):
        raise ValueError("a visit must be a JSON object")
    vid = check_random_id(visit.get("id"), "visit id")
    revision = visit.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise ValueError(f"visit {vid}: revision must be an integer ≥ 1, got {revision!r}")
    manifest = visit.get("photos") or []
    if not isinstance(manifest, list) or not all(isinstance(p, dict) for p in manifest):
        raise ValueError(f"visit {vid}: photos must be a list of objects")
    ids = [check_random_id(p.get("id"), f"visit {vid}: photo id") for p in manifest]
    if len(set(ids)) != len(ids):
        raise ValueError(f"visit {vid}: a photo id appears twice in the manifest")
    return vid, revision, manifest


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
    # Queued as the correction of a visit a reviewer returned (so a 200 means "accepted").
    correction: bool = False

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


def load_json(text: str | None) -> dict[str, Any] | None:
    """Decode an optional JSON column."""
    return None if text is None else json.loads(text)


def dump_json(value: Mapping[str, Any] | None) -> str | None:
    """Encode an optional JSON column."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


def entry_row(conn: sqlite3.Connection, seq: int) -> sqlite3.Row:
    """Return the row of an entry or raise KeyError."""
    row: sqlite3.Row | None = conn.execute("SELECT * FROM entries WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        raise KeyError(seq)
    return row


def entry_from_row(conn: sqlite3.Connection, row: sqlite3.Row) -> Entry:
    """Build an Entry from a row, with its photo ids in manifest order."""
    photo_ids = tuple(
        r[0]
        for r in conn.execute(
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
        error=load_json(row["error"]),
        last_error=row["last_error"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        replaced_by=row["replaced_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        acknowledged_at=row["acknowledged_at"],
        done_at=row["done_at"],
        photo_ids=photo_ids,
        correction=bool(row["correction"]),
    )


def photo_from_row(row: sqlite3.Row) -> PhotoRecord:
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
        error=load_json(row["error"]),
        last_error=row["last_error"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        done_at=row["done_at"],
    )
