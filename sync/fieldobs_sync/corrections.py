"""Visits a reviewer returned: what to fix, and queueing the corrected next revision."""

# The pull feed's `returned_visits` carries each of the shopper's visits awaiting correction:
# the reviewer's note, comments per item, the revision the server holds and the visit as
# stored. The correction is that visit with the shopper's changes, sent as revision + 1 and
# against the checklist version the visit was made with (a visit is always scored by it).

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fieldobs_sync.errors import OutboxError, ProtocolError
from fieldobs_sync.outbox import Entry, Outbox
from fieldobs_sync.photos import PhotoFile, attach_photos
from fieldobs_sync.records import DISCARDED, SUPERSEDED, fingerprint


@dataclass(frozen=True)
class ReturnedVisit:
    """One visit awaiting the shopper's correction, as the pull feed describes it."""

    id: str
    revision: int
    next_revision: int
    checklist: dict[str, Any]
    visit: dict[str, Any]
    location_id: Any = None
    returned_at: str | None = None
    note: str | None = None
    item_comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_feed(cls, item: Mapping[str, Any]) -> ReturnedVisit:
        """Read one `returned_visits` item, or raise ProtocolError."""
        visit = item.get("visit")
        checklist = item.get("checklist") or (visit or {}).get("checklist")
        revision = item.get("revision")
        if not isinstance(visit, dict) or not isinstance(checklist, dict):
            raise ProtocolError("a returned visit needs `visit` and `checklist` objects")
        if not isinstance(revision, int) or isinstance(revision, bool):
            raise ProtocolError("a returned visit needs an integer `revision`")
        next_revision = item.get("next_revision", revision + 1)
        if next_revision != revision + 1:
            raise ProtocolError(
                f"returned visit: next revision {next_revision!r} is not {revision + 1}"
            )
        return cls(
            id=str(item["id"]),
            revision=revision,
            next_revision=next_revision,
            checklist={"slug": checklist.get("slug"), "version": checklist.get("version")},
            visit=visit,
            location_id=item.get("location_id"),
            returned_at=item.get("returned_at"),
            note=item.get("note"),
            item_comments={str(k): str(v) for k, v in (item.get("item_comments") or {}).items()},
        )

    @property
    def photo_ids(self) -> list[str]:
        """Return the ids of the photos the server holds for this visit."""
        return [str(p.get("id")) for p in self.visit.get("photos") or [] if isinstance(p, dict)]


def correction_body(
    returned: ReturnedVisit, edited: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the next revision of a returned visit: the edited body (or the stored one)."""
    body = dict(edited if edited is not None else returned.visit)
    if "id" in body and str(body["id"]).lower() != returned.id.lower():
        raise ValueError(f"the corrected visit has id {body['id']!r}, not {returned.id}")
    made_with = (returned.checklist.get("slug"), returned.checklist.get("version"))
    named = body.get("checklist")
    if named is not None and (
        not isinstance(named, Mapping) or (named.get("slug"), named.get("version")) != made_with
    ):
        raise ValueError(
            f"visit {returned.id} was made with checklist {made_with[0]} v{made_with[1]}:"
            f" a correction keeps that version (got {named!r})"
        )
    revision = body.get("revision")
    if revision not in (None, returned.revision, returned.next_revision):
        raise ValueError(
            f"visit {returned.id}: the correction is revision {returned.next_revision},"
            f" not {revision!r}"
        )
    body.update(
        id=returned.id,
        revision=returned.next_revision,
        checklist={"slug": made_with[0], "version": made_with[1]},
    )
    return body


def queued_correction(outbox: Outbox, returned: ReturnedVisit) -> Entry | None:
    """Return the live outbox entry that already corrects this return, if any."""
    for entry in reversed(outbox.entries(visit_id=returned.id)):
        if entry.state not in (SUPERSEDED, DISCARDED) and entry.revision >= returned.next_revision:
            return entry
    return None


def queue_correction(
    outbox: Outbox,
    returned: ReturnedVisit,
    edited: Mapping[str, Any] | None = None,
    photos: Sequence[PhotoFile] = (),
) -> Entry:
    """Queue the corrected visit as its next revision; new photo files are attached."""
    body = attach_photos(correction_body(returned, edited), photos)
    already = queued_correction(outbox, returned)
    if already is not None and already.fingerprint != fingerprint(body):
        raise OutboxError(
            f"a correction of visit {returned.id} is already queued (#{already.seq},"
            f" {already.state}); discard it first to queue another"
        )
    return outbox.queue_correction(body, photos, on_server=returned.photo_ids)
