"""What visits, the review queue and the pull feed look like on the wire."""

from __future__ import annotations

from marshmallow import Schema, fields

from fieldobs.api.assignments import AssignmentSchema
from fieldobs.api.checklist_schemas import ChecklistOutSchema
from fieldobs.stored_integers import StoredInteger

STORE_SIDE_HIDDEN = "Not shown to managers and area leads for a mystery shop."
HOUR = "RFC 3339, UTC; floored to the hour for managers and area leads (mystery shops)"
ANSWER_VALUE = {
    "description": "As the item's type says (boolean, number, string); null or absent when N/A",
    "nullable": True,
    "oneOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string"}],
}


def _time(description: str = HOUR, *, allow_none: bool = False) -> fields.String:
    return fields.String(
        required=True, allow_none=allow_none, metadata={"description": description}
    )


class ChecklistRefOutSchema(Schema):
    slug = fields.String(required=True)
    version = StoredInteger(required=True)


class AnswerOutSchema(Schema):
    item = fields.String(required=True)
    value = fields.Raw(allow_none=True, metadata=ANSWER_VALUE)
    na = fields.Boolean()
    comment = fields.String(allow_none=True)
    photos = fields.List(fields.String(), metadata={"description": "Photo ids"})


class ManifestPhotoSchema(Schema):
    id = fields.String(required=True)
    item = fields.String(allow_none=True)
    sha256 = fields.String(metadata={"description": STORE_SIDE_HIDDEN})
    size = StoredInteger(metadata={"description": STORE_SIDE_HIDDEN})
    content_type = fields.String(metadata={"description": STORE_SIDE_HIDDEN})


class PhotoStateSchema(ManifestPhotoSchema):
    state = fields.String(required=True, metadata={"enum": ["expected", "received", "rejected"]})
    reason = fields.String(metadata={"description": "Why a photo was rejected"})


class SectionScoreSchema(Schema):
    id = fields.String(required=True)
    score = fields.Float(required=True, allow_none=True, metadata={"description": "0-100"})


class SectionBreakdownSchema(Schema):
    id = fields.String(required=True)
    score = fields.Float(required=True, allow_none=True)
    earned = fields.Float(required=True)
    possible = fields.Float(required=True)
    critical_failed = fields.Boolean(required=True)


class ItemBreakdownSchema(Schema):
    item = fields.String(required=True)
    section = fields.String(required=True)
    applicable = fields.Boolean(required=True)
    earned = fields.Float(required=True)
    possible = fields.Float(required=True)
    failed = fields.Boolean(required=True)
    critical = fields.Boolean(required=True)
    reason = fields.String(metadata={"description": "Only when the score needs explaining"})


class BreakdownSchema(Schema):
    score = fields.Float(required=True, allow_none=True)
    sections = fields.List(fields.Nested(SectionBreakdownSchema), required=True)
    items = fields.List(fields.Nested(ItemBreakdownSchema), required=True)
    critical_failures = fields.List(fields.String(), required=True)


class VisitObserverSchema(Schema):
    pseudonym = fields.String(required=True, metadata={"description": "Stable per shopper"})
    id = StoredInteger(metadata={"description": STORE_SIDE_HIDDEN})
    username = fields.String(metadata={"description": STORE_SIDE_HIDDEN})
    display_name = fields.String(metadata={"description": STORE_SIDE_HIDDEN})


class PushedVisitSchema(Schema):
    """A visit as the phone pushed it (PUT /visits/{visit_id})."""

    id = fields.String(required=True)
    revision = StoredInteger(required=True)
    checklist = fields.Nested(ChecklistRefOutSchema, required=True)
    location_id = StoredInteger(required=True)
    assignment_id = StoredInteger(allow_none=True, metadata={"description": STORE_SIDE_HIDDEN})
    started_at = _time()
    finished_at = _time()
    answers = fields.List(fields.Nested(AnswerOutSchema), required=True)
    photos = fields.List(fields.Nested(ManifestPhotoSchema), required=True)
    notes = fields.String(allow_none=True)


class VisitOutSchema(PushedVisitSchema):
    """A visit with its scores, status and photo states, shaped for the caller."""

    status = fields.String(
        required=True,
        metadata={"enum": ["awaiting_photos", "submitted", "released", "returned"]},
    )
    kind = fields.String(required=True, metadata={"enum": ["mystery_shop", "walkthrough"]})
    score = fields.Float(required=True, allow_none=True, metadata={"description": "0-100"})
    sections = fields.List(fields.Nested(SectionScoreSchema), required=True)
    photos = fields.List(fields.Nested(PhotoStateSchema), required=True)
    received_at = _time()
    updated_at = _time()
    observed_at = _time(allow_none=True)
    submitted_at = _time(allow_none=True)
    released_at = _time(allow_none=True)
    flags = fields.List(fields.String(), metadata={"description": STORE_SIDE_HIDDEN})
    breakdown = fields.Nested(BreakdownSchema, required=True)
    observer = fields.Nested(VisitObserverSchema, required=True)


class VisitPageSchema(Schema):
    visits = fields.List(fields.Nested(VisitOutSchema), required=True)
    cursor = fields.String(required=True, allow_none=True)
    has_more = fields.Boolean(required=True)


class QueueObserverSchema(Schema):
    id = StoredInteger(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)


class QueuedVisitSchema(Schema):
    id = fields.String(required=True)
    revision = StoredInteger(required=True)
    location_id = StoredInteger(required=True)
    location_name = fields.String(required=True)
    checklist = fields.Nested(ChecklistRefOutSchema, required=True)
    observer = fields.Nested(QueueObserverSchema, required=True)
    score = fields.Float(required=True, allow_none=True)
    flags = fields.List(fields.String(), required=True)
    assignment_id = StoredInteger(required=True, allow_none=True)
    received_at = fields.String(required=True)
    submitted_at = fields.String(required=True, allow_none=True)
    times_returned = StoredInteger(required=True)


class QueuePageSchema(Schema):
    visits = fields.List(fields.Nested(QueuedVisitSchema), required=True)
    cursor = fields.String(required=True, allow_none=True)
    has_more = fields.Boolean(required=True)


class FeedLocationSchema(Schema):
    id = StoredInteger(required=True)
    name = fields.String(required=True)
    area_id = StoredInteger(required=True)
    timezone = fields.String(required=True)
    address = fields.String(required=True, allow_none=True)


class NotificationSchema(Schema):
    id = StoredInteger(required=True)
    kind = fields.String(required=True)
    message = fields.String(required=True)
    assignment_id = StoredInteger(required=True, allow_none=True)
    # What the phone needs to act on it: keys differ from one kind of notification to the next.
    data = fields.Dict(required=True, metadata={"description": "Depends on kind"})
    created_at = fields.String(required=True)


class ReturnedVisitSchema(Schema):
    id = fields.String(required=True)
    revision = StoredInteger(required=True)
    next_revision = StoredInteger(required=True)
    status = fields.String(required=True)
    location_id = StoredInteger(required=True)
    checklist = fields.Nested(ChecklistRefOutSchema, required=True)
    returned_at = fields.String(required=True)
    note = fields.String(required=True, allow_none=True)
    item_comments = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "{item_id: comment}"},
    )
    visit = fields.Nested(PushedVisitSchema, required=True)


class DeletedSchema(Schema):
    checklists = fields.List(fields.String(), required=True)
    locations = fields.List(StoredInteger(), required=True)
    assignments = fields.List(StoredInteger(), required=True)
    notifications = fields.List(StoredInteger())
    returned_visits = fields.List(fields.String())


class ChangesSchema(Schema):
    cursor = fields.String(required=True, metadata={"description": "Opaque; send it next time"})
    has_more = fields.Boolean(required=True)
    server_time = fields.String(required=True)
    checklists = fields.List(fields.Nested(ChecklistOutSchema), required=True)
    locations = fields.List(fields.Nested(FeedLocationSchema), required=True)
    assignments = fields.List(fields.Nested(AssignmentSchema), required=True)
    notifications = fields.List(fields.Nested(NotificationSchema))
    returned_visits = fields.List(fields.Nested(ReturnedVisitSchema))
    deleted = fields.Nested(DeletedSchema, required=True)
