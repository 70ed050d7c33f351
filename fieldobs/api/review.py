"""Review before release (admins): the queue, release or return, and the audit trail."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldobs.api.security import allow, current_principal
from fieldobs.api.visit_schemas import QueuePageSchema
from fieldobs.db import get_db
from fieldobs.people.scope import Role
from fieldobs.stored_integers import StoredInteger
from fieldobs.visits.review import (
    ACTIONS,
    MAX_ITEM_COMMENT_LENGTH,
    MAX_NOTE_LENGTH,
    list_reviews,
    note_problems,
    review_queue,
    review_visit,
)
from fieldobs.visits.schema import MAX_ITEM_ID_LENGTH, CleanString

blp = Blueprint(
    "review",
    __name__,
    url_prefix="/api/v1",
    description="Review of submitted mystery shops before store-side staff see them.",
)


class ReviewInSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    note = CleanString(
        allow_none=True,
        validate=validate.Length(max=MAX_NOTE_LENGTH),
        metadata={"description": "Required to return: the shopper reads it."},
    )
    item_comments = fields.Dict(
        keys=CleanString(validate=validate.Length(max=MAX_ITEM_ID_LENGTH)),
        values=CleanString(validate=validate.Length(min=1, max=MAX_ITEM_COMMENT_LENGTH)),
        load_default=dict,
        metadata={"description": "{item_id: comment} for the shopper"},
    )
    revision = StoredInteger(
        strict=True,
        metadata={"description": "If given, the revision reviewed: 409 if the visit moved on."},
    )

    # Run even when a field is bad: one 422 names every bad field.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _check_note(self, data: dict[str, Any], original: Any, **_kwargs: Any) -> None:
        note = original.get("note") if isinstance(original, dict) else None
        if note is not None and not isinstance(note, str):
            return  # the note field says what is wrong with it
        problems = note_problems(data.get("action"), note)
        if problems:
            raise ValidationError(problems)


class QueueQuerySchema(Schema):
    location_id = StoredInteger()
    cursor = fields.String()
    limit = StoredInteger(validate=validate.Range(min=1, max=200), load_default=50)


class ReviewerSchema(Schema):
    id = StoredInteger()
    username = fields.String()
    display_name = fields.String()


class ReviewSchema(Schema):
    id = StoredInteger()
    visit_id = fields.String()
    revision = StoredInteger()
    action = fields.String()
    note = fields.String(allow_none=True)
    item_comments = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "{item_id: comment}"}
    )
    status_before = fields.String()
    reviewer = fields.Nested(ReviewerSchema)
    created_at = fields.String()


class ReviewedVisitSchema(Schema):
    id = fields.String(required=True)
    revision = StoredInteger(required=True)
    status = fields.String(required=True, metadata={"enum": ["released", "returned"]})


class ReviewResultSchema(Schema):
    visit = fields.Nested(ReviewedVisitSchema, metadata={"description": "The visit after it"})
    review = fields.Nested(ReviewSchema)


class ReviewListSchema(Schema):
    reviews = fields.List(fields.Nested(ReviewSchema))


@blp.route("/review/queue", methods=["GET"])
@allow(Role.ADMIN)
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, QueuePageSchema, description="Longest waiting first.")
def get_queue(query: dict[str, Any]) -> dict[str, Any]:
    """List submitted mystery shops awaiting review, oldest submission first."""
    return review_queue(get_db(), **query)


@blp.route("/visits/<visit_id>/review", methods=["POST"])
@allow(Role.ADMIN)
@blp.arguments(ReviewInSchema)
@blp.response(200, ReviewResultSchema)
@blp.alt_response(409, description="Not in a state for this action, or a stale revision.")
@blp.alt_response(422, description="Unknown item in item_comments, or a return without a note.")
def post_review(data: dict[str, Any], visit_id: str) -> dict[str, Any]:
    """Release a visit to store-side staff, or return it to its observer for correction."""
    return review_visit(get_db(), current_principal(), visit_id, **data)


@blp.route("/visits/<visit_id>/reviews", methods=["GET"])
@allow(Role.ADMIN)
@blp.response(200, ReviewListSchema)
def get_reviews(visit_id: str) -> dict[str, Any]:
    """Return every review action on a visit: who, when, what and the note."""
    return {"reviews": list_reviews(get_db(), visit_id)}
