"""Visit push (single and batch), read-back and the pull feed."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fieldobs.api.openapi import ErrorBodySchema
from fieldobs.api.security import allow, current_principal
from fieldobs.api.visit_schemas import (
    ChangesSchema,
    SectionScoreSchema,
    VisitOutSchema,
    VisitPageSchema,
)
from fieldobs.db import get_db
from fieldobs.errors import PayloadTooLarge
from fieldobs.extensions import current_settings
from fieldobs.people.scope import ALL_ROLES, Role
from fieldobs.stored_integers import StoredInteger
from fieldobs.visits.batch import push_batch
from fieldobs.visits.pull import pull_changes
from fieldobs.visits.push import PushPolicy, push_one
from fieldobs.visits.read import get_visit, list_visits
from fieldobs.visits.schema import Timestamp, VisitSchema

blp = Blueprint(
    "visits",
    __name__,
    url_prefix="/api/v1",
    description="Offline-first visit sync: exactly-once push, read-back, incremental pull.",
)

PUSHERS = (Role.SHOPPER, Role.MANAGER, Role.AREA_LEAD, Role.ADMIN)
STATUSES = ("awaiting_photos", "submitted", "released", "returned")


def _policy() -> PushPolicy:
    return current_settings().push


def _secret() -> str:
    return current_settings().secret_key


class PushAckSchema(Schema):
    id = fields.String()
    revision = StoredInteger()
    status = fields.String()
    score = fields.Float(allow_none=True)
    sections = fields.List(fields.Nested(SectionScoreSchema))


class BatchInSchema(Schema):
    visits = fields.List(
        # Any JSON value: a visit that is not even an object is that visit's own 422 result.
        fields.Raw(allow_none=True),
        required=True,
        metadata={"description": "Up to 100 visits, each shaped like the PUT body."},
    )


class BatchResultSchema(Schema):
    id = fields.String(allow_none=True)
    status = StoredInteger(metadata={"description": "The status PUT would have given."})
    error = fields.Nested(
        ErrorBodySchema, metadata={"description": "The error body PUT would have given."}
    )
    revision = StoredInteger(metadata={"description": "The revision the server holds."})
    visit_status = fields.String(metadata={"description": "awaiting_photos, submitted, …"})
    score = fields.Float(allow_none=True)


class BatchOutSchema(Schema):
    results = fields.List(fields.Nested(BatchResultSchema))


class VisitQuerySchema(Schema):
    location_id = StoredInteger()
    status = fields.String(validate=validate.OneOf(STATUSES))
    since = Timestamp(
        metadata={
            "description": "RFC 3339; visits changed at or after it (floored to the hour for"
            " managers and area leads, who are shown times to the hour)"
        }
    )
    cursor = fields.String(
        metadata={"description": "Opaque, from the previous page; 400 if not made for this list"}
    )
    limit = StoredInteger(validate=validate.Range(min=1, max=200), load_default=50)


class ChangesQuerySchema(Schema):
    cursor = fields.String()
    limit = StoredInteger(validate=validate.Range(min=1, max=1000), load_default=200)


@blp.route("/visits/<visit_id>", methods=["PUT"])
@allow(*PUSHERS)
@blp.arguments(VisitSchema(), description="One visit, as made on the phone.")
@blp.response(201, PushAckSchema, description="Stored for the first time.")
@blp.alt_response(200, schema=PushAckSchema, description="A replay, or a correction accepted.")
@blp.alt_response(409, description="Same id and revision with other content; nothing changed.")
@blp.alt_response(422, description="Invalid: the fields say which.")
def put_visit(visit: dict[str, Any], visit_id: str) -> Response:
    """Push one visit; safe to repeat (a replay gets 200 and writes nothing)."""
    result = push_one(get_db(), current_principal(), visit, policy=_policy(), url_id=visit_id)
    # push_one returns only after its commit: an acknowledged visit is durable.
    response = jsonify(result.visit)
    response.status_code = result.status
    return response


@blp.route("/sync/visits", methods=["POST"])
@allow(*PUSHERS)
@blp.arguments(BatchInSchema)
@blp.response(200, BatchOutSchema)
def post_visits(batch: dict[str, Any]) -> Response:
    """Push many visits in one round trip and one commit; one bad visit never fails the others."""
    limit = current_settings().sync_batch_max
    if len(batch["visits"]) > limit:
        raise PayloadTooLarge(
            f"At most {limit} visits per batch.", fields={"visits": [f"at most {limit} items"]}
        )
    results = push_batch(get_db(), current_principal(), batch["visits"], policy=_policy())
    # Built directly: dumping 100 results through the schema costs more than storing them.
    return jsonify({"results": results})


@blp.route("/visits/<visit_id>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, VisitOutSchema)
def get_one_visit(visit_id: str) -> dict[str, Any]:
    """Return a visit with its scores, status and photo states."""
    return get_visit(get_db(), current_principal(), visit_id, _secret())


@blp.route("/visits", methods=["GET"])
@allow(*ALL_ROLES)
@blp.arguments(VisitQuerySchema, location="query")
@blp.response(200, VisitPageSchema)
def get_visits(query: dict[str, Any]) -> dict[str, Any]:
    """Return a page of visits in scope, oldest change first."""
    return list_visits(get_db(), current_principal(), _secret(), **query)


@blp.route("/sync/changes", methods=["GET"])
@allow(*ALL_ROLES)
@blp.arguments(ChangesQuerySchema, location="query")
@blp.response(200, ChangesSchema)
@blp.alt_response(410, description="Stale or foreign cursor: pull again without one.")
def get_changes(query: dict[str, Any]) -> dict[str, Any]:
    """Return what changed since the cursor (everything in scope without one)."""
    return pull_changes(get_db(), current_principal(), query.get("cursor"), query["limit"])
