"""Webhook subscriptions and their delivery log (admins)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fieldobs.api.forms import json_body, load_form
from fieldobs.api.security import allow, current_principal
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.operations.webhook_bodies import AUDIENCES, CLIENT
from fieldobs.operations.webhook_events import EVENTS
from fieldobs.operations.webhook_targets import URL_MAX_CHARS
from fieldobs.operations.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    resume_webhook,
)
from fieldobs.people.scope import Role
from fieldobs.stored_integers import StoredInteger
from fieldobs.timeutil import utcnow

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Signed event deliveries: each POST carries `X-Fieldobs-Signature: "
    "sha256=<hex HMAC-SHA256 of the exact body, keyed with the subscription's secret>`, "
    "`X-Fieldobs-Event`, `X-Fieldobs-Event-Id` and `X-Fieldobs-Timestamp`. Shoppers appear "
    "only as pseudonyms. A webhook speaks to an `audience`: `client` (default; a store's "
    "system, told no more than a store manager could see: `visit.released`, walk-throughs' "
    "`visit.submitted`, mystery-shop times to the hour) or `agency` (the admin view: every "
    "event, exact times). URLs must reach public addresses (checked at registration and after "
    "each DNS resolution at delivery) unless WEBHOOK_ALLOW_PRIVATE_TARGETS is set.",
)

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


class WebhookInSchema(Schema):
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=URL_MAX_CHARS),
        metadata={
            "format": "uri",
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
            "description": "http(s); its host must resolve to public addresses only",
        },
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENTS)),
        required=True,
        validate=validate.Length(min=1, max=len(EVENTS)),
    )
    audience = fields.String(
        load_default=CLIENT,
        validate=validate.OneOf(AUDIENCES),
        metadata={"description": "client (a store's system; default) or agency (admin view)"},
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=500))


class WebhookSchema(Schema):
    id = StoredInteger()
    url = fields.String()
    events = fields.List(fields.String())
    audience = fields.String()
    description = fields.String(allow_none=True)
    created_at = fields.String()
    pending = StoredInteger()
    failed = StoredInteger()
    failing_since = fields.String(
        allow_none=True, metadata={"description": "First failure since the last success"}
    )
    paused_at = fields.String(
        allow_none=True,
        metadata={
            "description": "Paused after failing for long: deliveries kept, one tried now "
            "and then; resumed by a success or POST .../resume"
        },
    )


class NewWebhookSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "Shown only in this answer: keep it."})


class WebhookListSchema(Schema):
    webhooks = fields.List(fields.Nested(WebhookSchema))


class AttemptSchema(Schema):
    attempt = StoredInteger(required=True)
    started_at = fields.String(required=True)
    duration_ms = StoredInteger(required=True, allow_none=True)
    status_code = StoredInteger(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    outcome = fields.String(required=True, allow_none=True)


class DeliverySchema(Schema):
    id = StoredInteger(required=True)
    event = fields.String(required=True)
    event_id = fields.String(required=True, metadata={"format": "uuid"})
    occurred_at = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(DELIVERY_STATUSES)})
    attempts = StoredInteger(required=True)
    next_attempt_at = fields.String(
        required=True, allow_none=True, metadata={"description": "Pending deliveries only"}
    )
    delivered_at = fields.String(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    body = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The exact bytes sent and signed (null before the first try)"},
    )
    log = fields.List(fields.Nested(AttemptSchema), required=True)


class DeliveryPageSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)
    cursor = fields.String(required=True, allow_none=True)
    has_more = fields.Boolean(required=True)


class DeliveryQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    cursor = fields.String()
    limit = StoredInteger(validate=validate.Range(min=1, max=200), load_default=50)


@blp.route("", methods=["POST"])
@allow(Role.ADMIN)
@blp.doc(requestBody=json_body(WebhookInSchema))
@blp.response(201, NewWebhookSchema)
@blp.alt_response(
    422, description="Invalid: every bad field is named (`url` for a refused address)."
)
def post_webhook() -> dict[str, Any]:
    """Subscribe a URL to events; the signing secret is in this answer only."""
    data, problems = load_form(WebhookInSchema())
    return create_webhook(
        get_db(),
        data,
        policy=current_settings().webhooks.targets,
        created_by=current_principal().user_id,
        problems=problems,
    )


@blp.route("/<int:webhook_id>/resume", methods=["POST"])
@allow(Role.ADMIN)
@blp.response(200, WebhookSchema)
def post_resume(webhook_id: int) -> dict[str, Any]:
    """Resume a paused (or failing) endpoint: its kept deliveries are due at once."""
    return resume_webhook(get_db(), webhook_id, utcnow())


@blp.route("", methods=["GET"])
@allow(Role.ADMIN)
@blp.response(200, WebhookListSchema)
def get_webhooks() -> dict[str, Any]:
    """List the subscriptions (without secrets)."""
    return {"webhooks": list_webhooks(get_db())}


@blp.route("/<int:webhook_id>", methods=["GET"])
@allow(Role.ADMIN)
@blp.response(200, WebhookSchema)
def get_one_webhook(webhook_id: int) -> dict[str, Any]:
    """Return one subscription (without its secret)."""
    return get_webhook(get_db(), webhook_id)


@blp.route("/<int:webhook_id>", methods=["DELETE"])
@allow(Role.ADMIN)
@blp.response(204)
def remove_webhook(webhook_id: int) -> None:
    """Unsubscribe; pending deliveries are cancelled, the log stays."""
    delete_webhook(get_db(), webhook_id)


@blp.route("/<int:webhook_id>/deliveries", methods=["GET"])
@allow(Role.ADMIN)
@blp.arguments(DeliveryQuerySchema, location="query")
@blp.response(200, DeliveryPageSchema, description="Newest first, each with its attempt log.")
def get_deliveries(query: dict[str, Any], webhook_id: int) -> dict[str, Any]:
    """Return a subscription's deliveries, newest first, with every attempt."""
    return list_deliveries(get_db(), webhook_id, **query)
