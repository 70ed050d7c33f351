"""Assignments (admins make them; a shopper reads their own; store-side staff never)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from fieldobs.api.forms import json_body, load_form
from fieldobs.api.security import allow, current_principal
from fieldobs.db import get_db
from fieldobs.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from fieldobs.extensions import current_settings
from fieldobs.operations.assignment_import import import_assignments_csv
from fieldobs.operations.assignment_rules import SCENARIO_MAX_CHARS, AssignmentPolicy
from fieldobs.operations.assignments import (
    STATUSES,
    cancel_assignment,
    create_assignment,
    get_assignment,
    list_assignments,
    reassign_assignment,
)
from fieldobs.people.scope import Role
from fieldobs.storage.csv_rows import FIELD_MAX_CHARS
from fieldobs.stored_integers import StoredInteger
from fieldobs.timeutil import parse_rfc3339, to_rfc3339, utcnow

blp = Blueprint(
    "assignments",
    __name__,
    url_prefix="/api/v1/assignments",
    description="Mystery shops to make: one shopper, one location, one checklist, a window. "
    "Shoppers also receive theirs through GET /api/v1/sync/changes; managers and area leads "
    "never see assignments.",
)

CSV_MAX_BYTES = 5 * 1024 * 1024
SCENARIO_HELP = (
    "What the shopper plays on the visit: what to ask, buy or raise (shown to them and to "
    f"admins only; surrounding blanks trimmed; at most {SCENARIO_MAX_CHARS} characters; "
    '"" when none).'
)
WINDOW_HELP = (
    "RFC 3339 with an offset (stored as UTC), or a local date-time without one "
    "(2026-11-23T09:00), or a date (2026-11-23: the start of that day; for window_end, its "
    "end), read in the location's time zone."
)


def _policy() -> AssignmentPolicy:
    return current_settings().assignments


class ShopperField(fields.Raw):
    """A user id (JSON number) or a username (string)."""


class AssignmentInSchema(Schema):
    shopper = ShopperField(
        required=True,
        metadata={
            "description": "The shopper: a user id (number) or a username (string; a string of "
            "digits that is no username is taken as an id).",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        },
    )
    location_id = StoredInteger(required=True, strict=True)
    checklist = fields.String(
        required=True, metadata={"description": "Slug of a mystery-shop checklist."}
    )
    window_start = fields.String(required=True, metadata={"description": WINDOW_HELP})
    window_end = fields.String(required=True, metadata={"description": WINDOW_HELP})
    scenario = fields.String(
        allow_none=True,
        validate=validate.Length(max=SCENARIO_MAX_CHARS),
        metadata={"description": SCENARIO_HELP},
    )


class ReassignSchema(Schema):
    shopper = ShopperField(required=True, metadata={"description": "A user id or a username."})


class AssignmentShopperSchema(Schema):
    id = StoredInteger(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)


class AssignmentSchema(Schema):
    id = StoredInteger()
    location_id = StoredInteger()
    location_name = fields.String()
    timezone = fields.String()
    checklist = fields.String()
    scenario = fields.String(metadata={"description": SCENARIO_HELP})
    window_start = fields.String(metadata={"description": "UTC"})
    window_end = fields.String(metadata={"description": "UTC"})
    status = fields.String(metadata={"description": "open | submitted | expired | cancelled"})
    visit_id = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()
    submitted_at = fields.String(allow_none=True)
    expired_at = fields.String(allow_none=True)
    cancelled_at = fields.String(allow_none=True)
    shopper = fields.Nested(AssignmentShopperSchema, metadata={"description": "Admins only"})
    replaced_by = StoredInteger(allow_none=True, metadata={"description": "Admins only"})
    reminded_at = fields.String(allow_none=True, metadata={"description": "Admins only"})


class AssignmentPageSchema(Schema):
    assignments = fields.List(fields.Nested(AssignmentSchema))
    cursor = fields.String(allow_none=True)
    has_more = fields.Boolean()


class ImportResultSchema(Schema):
    created = StoredInteger()
    assignments = fields.List(fields.Nested(AssignmentSchema))


def _rfc3339(value: str) -> None:
    """Refuse a time that is not RFC 3339 with an offset, within the calendar in UTC."""
    try:
        to_rfc3339(parse_rfc3339(value))
    except (ValueError, OverflowError) as error:
        raise ValidationError("must be RFC 3339 with an offset") from error


class AssignmentQuerySchema(Schema):
    # Every filter is checked here, so that several bad ones are named in one answer.
    shopper = fields.String(metadata={"description": "Admins: a user id or username"})
    location_id = StoredInteger()
    status = fields.String(validate=validate.OneOf(STATUSES))
    window_from = fields.String(
        validate=_rfc3339,
        metadata={"description": "RFC 3339: windows ending after it", "format": "date-time"},
    )
    window_to = fields.String(
        validate=_rfc3339,
        metadata={"description": "RFC 3339: windows starting before it", "format": "date-time"},
    )
    cursor = fields.String()
    limit = StoredInteger(validate=validate.Range(min=1, max=200), load_default=50)


@blp.route("", methods=["POST"])
@allow(Role.ADMIN)
@blp.doc(requestBody=json_body(AssignmentInSchema))
@blp.response(201, AssignmentSchema)
@blp.alt_response(
    422, description="Invalid: every bad field is named; `location_id` names a cooldown clash."
)
def post_assignment() -> dict[str, Any]:
    """Assign a mystery shop to a shopper."""
    data, problems = load_form(AssignmentInSchema())
    return create_assignment(
        get_db(),
        data,
        created_by=current_principal().user_id,
        policy=_policy(),
        now=utcnow(),
        problems=problems,
    )


@blp.route("/import", methods=["POST"])
@allow(Role.ADMIN)
@blp.doc(
    requestBody={
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "Columns shopper, location_id (or location_ref: a location's "
        "external_ref), checklist, window_start, window_end, and optionally scenario. "
        f"UTF-8; LF, CRLF or CR line endings; at most {FIELD_MAX_CHARS:,} characters a cell. "
        "All rows or none.",
    }
)
@blp.response(201, ImportResultSchema)
@blp.alt_response(422, description="Problems by line (`line N`); nothing was imported.")
def import_assignments() -> dict[str, Any]:
    """Create many assignments from CSV; all or nothing."""
    if request.mimetype != "text/csv":
        raise UnsupportedMediaType("Send the file as text/csv.")
    if (request.content_length or 0) > CSV_MAX_BYTES:
        raise PayloadTooLarge(f"At most {CSV_MAX_BYTES} bytes of CSV.")
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            "The CSV file is not UTF-8.",
            fields={"body": [f"not UTF-8 at byte {error.start}: save the file as UTF-8"]},
        ) from error
    created = import_assignments_csv(
        get_db(), text, created_by=current_principal().user_id, policy=_policy(), now=utcnow()
    )
    return {"created": len(created), "assignments": created}


@blp.route("", methods=["GET"])
@allow(Role.SHOPPER, Role.ADMIN)
@blp.arguments(AssignmentQuerySchema, location="query")
@blp.response(200, AssignmentPageSchema)
def get_assignments(query: dict[str, Any]) -> dict[str, Any]:
    """List assignments by id: a shopper's own; an admin's filtered choice."""
    return list_assignments(get_db(), current_principal(), **query)


@blp.route("/<int:assignment_id>", methods=["GET"])
@allow(Role.SHOPPER, Role.ADMIN)
@blp.response(200, AssignmentSchema)
def get_one_assignment(assignment_id: int) -> dict[str, Any]:
    """Return one assignment (a shopper: only their own)."""
    return get_assignment(get_db(), current_principal(), assignment_id)


@blp.route("/<int:assignment_id>/cancel", methods=["POST"])
@allow(Role.ADMIN)
@blp.response(200, AssignmentSchema)
@blp.alt_response(409, description="Not open any more.")
def post_cancel(assignment_id: int) -> dict[str, Any]:
    """Cancel an open assignment; the shopper's phone receives it as a deletion."""
    return cancel_assignment(get_db(), assignment_id, utcnow())


@blp.route("/<int:assignment_id>/reassign", methods=["POST"])
@allow(Role.ADMIN)
@blp.arguments(ReassignSchema)
@blp.response(201, AssignmentSchema)
@blp.alt_response(409, description="Not open any more.")
def post_reassign(data: dict[str, Any], assignment_id: int) -> dict[str, Any]:
    """Give an open assignment to another shopper (the old one is cancelled, a new one made)."""
    return reassign_assignment(
        get_db(),
        assignment_id,
        data["shopper"],
        created_by=current_principal().user_id,
        policy=_policy(),
        now=utcnow(),
    )
