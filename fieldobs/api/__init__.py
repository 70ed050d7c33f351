"""HTTP layer: flask-smorest blueprints, OpenAPI, the error handler and access control."""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from fieldobs.api import (
    assignments,
    auth,
    checklists,
    docs,
    exports,
    limits,
    orgs,
    review,
    scores,
    upload_docs,
    uploads,
    visits,
    webhooks,
)
from fieldobs.api.errors import register_error_handlers
from fieldobs.api.json_body import check_json_body
from fieldobs.api.openapi import FieldobsApi, declare_path_ids, document_errors, field_formats
from fieldobs.api.security import check_access, public, secure_json_headers
from fieldobs.extensions import settings_of
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
    exports.blp,  # CSV downloads (the console's exports, for tools)
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
                '{"error": {"code", "message", "fields"?}}. ' + limits.describe(settings_of(app))
            },
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token"}
    )
    api.ma_plugin.converter.add_attribute_function(field_formats)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.add_url_rule("/healthz", "healthz", healthz)
    declare_path_ids(api)
    upload_docs.declare_upload_limit(api.spec._paths, settings_of(app).photos.max_bytes)
    document_errors(app, api)
    limits.init_app(app)  # sizes first: an oversized body is refused before anything reads it
    app.before_request(check_access)
    app.before_request(check_json_body)  # after access: strangers' bodies are not parsed
    app.after_request(secure_json_headers)
    register_error_handlers(app)
    app.extensions["fieldobs.api"] = api
