"""Published checklists: list, latest, exact version; cacheable with ETags."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint

from fieldobs.api.checklist_schemas import ChecklistListSchema, ChecklistOutSchema
from fieldobs.api.security import allow
from fieldobs.checklists.published import get_latest, get_version, list_latest
from fieldobs.db import get_db
from fieldobs.people.scope import ALL_ROLES

blp = Blueprint(
    "checklists",
    __name__,
    url_prefix="/api/v1/checklists",
    description="Published, immutable checklist versions (see checklists/README.md).",
)


def _conditional(definition: dict[str, Any], *, immutable: bool) -> Response:
    # Returned as a Response (for the ETag), so dumped here through the documented schema.
    response = jsonify(ChecklistOutSchema().dump(definition))
    response.set_etag(definition["etag"])
    # An exact version never changes; "latest" may move on the next publish.
    response.cache_control.private = True
    if immutable:
        response.cache_control.max_age = 31_536_000
        response.cache_control.immutable = True
    else:
        response.cache_control.no_cache = True
    response.make_conditional(request)  # turns itself into a 304 when the ETag matches
    return response


@blp.route("", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, ChecklistListSchema)
def get_checklists() -> dict[str, Any]:
    """List the latest published version of each checklist."""
    return {"checklists": list_latest(get_db())}


@blp.route("/<slug>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, ChecklistOutSchema)
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag).")
def get_checklist(slug: str) -> Response:
    """Return the latest published version of a checklist."""
    return _conditional(get_latest(get_db(), slug), immutable=False)


@blp.route("/<slug>/versions/<int:version>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, ChecklistOutSchema)
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag).")
def get_checklist_version(slug: str, version: int) -> Response:
    """Return one exact, immutable version of a checklist."""
    return _conditional(get_version(get_db(), slug, version), immutable=True)
