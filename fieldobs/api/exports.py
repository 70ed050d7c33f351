"""CSV exports of visits and answers for spreadsheets and BI tools (streamed)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fieldobs.api.downloads import csv_download
from fieldobs.api.security import allow, current_principal
from fieldobs.db import get_db
from fieldobs.exports.csv_export import (
    STATUSES,
    ExportFilters,
    export_answers,
    export_visits,
    parse_export_filters,
)
from fieldobs.extensions import current_settings
from fieldobs.people.scope import Role
from fieldobs.scores import KINDS
from fieldobs.scores.periods import PERIOD_PATTERNS
from fieldobs.stored_integers import StoredInteger

blp = Blueprint(
    "exports",
    __name__,
    url_prefix="/api/v1/exports",
    description="CSV downloads (UTF-8 with a byte-order mark, formula-like cells neutralised), "
    "streamed; the same rows as the console's pages, in the caller's view: store staff get "
    "released mystery shops only, observers as pseudonyms and times to the hour.",
)

READERS = (Role.ADMIN, Role.AREA_LEAD, Role.MANAGER)
CSV_RESPONSE = {
    "200": {
        "description": "CSV, streamed.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}

GRAINS = tuple(PERIOD_PATTERNS)  # week, month


class ExportQuerySchema(Schema):
    area_id = StoredInteger()
    location_id = StoredInteger()
    kind = fields.String(validate=validate.OneOf(KINDS))
    checklist = fields.String(metadata={"description": "A checklist slug"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    grain = fields.String(validate=validate.OneOf(GRAINS), metadata={"description": "month|week"})
    period = fields.String(
        metadata={"description": "2026-11 or 2026-W47 (in UTC); default: every period"}
    )


EXPORT_QUERY = ExportQuerySchema()


def _filters(query: dict[str, Any]) -> ExportFilters:
    return parse_export_filters({k: str(v) for k, v in query.items() if v is not None})


@blp.route("/visits.csv", methods=["GET"])
@allow(*READERS)
@blp.arguments(EXPORT_QUERY, location="query")
@blp.doc(responses=CSV_RESPONSE)
def visits_csv(query: dict[str, Any]) -> Response:
    """Download visits as CSV: one row per visit, with each section's score."""
    secret = current_settings().secret_key
    chunks = export_visits(get_db(), current_principal(), secret, _filters(query))
    return csv_download(chunks, "visits.csv")


@blp.route("/answers.csv", methods=["GET"])
@allow(*READERS)
@blp.arguments(EXPORT_QUERY, location="query")
@blp.doc(responses=CSV_RESPONSE)
def answers_csv(query: dict[str, Any]) -> Response:
    """Download answers as CSV: one row per answered item of each visit."""
    secret = current_settings().secret_key
    chunks = export_answers(get_db(), current_principal(), secret, _filters(query))
    return csv_download(chunks, "answers.csv")
