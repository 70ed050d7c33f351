"""HTTP layer: flask-smorest blueprints, OpenAPI, the error handler and access control."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from fieldobs.api import (
    assignments,
    auth,
    checklists,
    docs,
    orgs,
    review,
    scores,
    uploads,
    visits,
    webhooks,
)
from fieldobs.api.errors import register_error_handlers
from fieldobs.api.openapi import FieldobsApi, document_errors
from fieldobs.api.security import check_access, public
from fieldobs.stored_integers import StoredIdConverter

BLUEPRINTS = [
    auth.blp,
    orgs.blp,
    checklists.blp,
    visits.blp,
    uploads.blp,
    uploads.photos_blp,
    scores.blp,
    assignments.blp,
    review.blp,
    webhooks.blp,
]


@public
def healthz() -> ResponseReturnValue:
    """Report that the service is up (no token needed)."""
    return jsonify({"status": "ok"})


def init_app(app: Flask) -> None:
    """Register blueprints, the OpenAPI document, access control and error handling."""
    # Before any route is added: <int:...> in URLs then matches only ids SQLite can store.
    app.url_map.converters["int"] = StoredIdConverter
    docs.init_app(app)
    api = FieldobsApi(
        app,
        spec_kwargs={
            "info": {
                "description": "fieldobs: checklists, offline visit sync, photos and scores. "
                "Errors always have the shape "
                '{"error": {"code", "message", "fields"?}}.'
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token"}
    )
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.add_url_rule("/healthz", "healthz", healthz)
    document_errors(app, api)
    app.before_request(check_access)
    register_error_handlers(app)
    app.extensions["fieldobs.api"] = api
