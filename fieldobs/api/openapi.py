"""The OpenAPI document tells the truth: the one error shape, and which errors each call can get."""

from __future__ import annotations

import http
import re
from typing import Any

from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from fieldobs.api.security import PUBLIC, declared_roles
from fieldobs.visits.schema import RFC3339_PATTERN, PhoneUUID, Timestamp

# Flask's `<int:location_id>` is OpenAPI's `{location_id}`.
RULE_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
WRITES = {"post", "put", "patch"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
# tus answers 412 to a client of another protocol version, and 410 for an expired upload.
EXTRA_ERRORS = {
    "/api/v1/uploads": [412],
    "/api/v1/uploads/{upload_id}": [410, 412],
    "/api/v1/auth/token": [429],  # failed sign-ins are throttled
}


# Version 4 (random) UUIDs only, as the contract says: other versions reveal time or device.
RANDOM_UUID_PATTERN = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)
# Path ids that are not the server's integers: what a generated request must send.
PATH_ID_SCHEMAS: dict[str, dict[str, Any]] = {
    "visit_id": {"type": "string", "format": "uuid", "pattern": RANDOM_UUID_PATTERN},
    "photo_id": {"type": "string", "format": "uuid", "pattern": RANDOM_UUID_PATTERN},
    "upload_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}


# Years 0002 to 9998: every time of theirs, whatever its offset, is a moment in UTC too
# (0001-01-01T00:00:00+08:16 is RFC 3339 but lies before year 1 in UTC, and is refused).
UTC_SAFE_YEAR = (
    "(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
assert RFC3339_PATTERN.startswith("[0-9]{4}-")
TIMESTAMP_PATTERN = "^" + RFC3339_PATTERN.replace("[0-9]{4}", UTC_SAFE_YEAR, 1) + "$"


def field_formats(_converter: Any, field: fields.Field[Any], **_kwargs: Any) -> dict[str, Any]:
    """Return the pattern of the field types that accept less than their OpenAPI format says."""
    if isinstance(field, Timestamp):
        return {"pattern": TIMESTAMP_PATTERN}
    if isinstance(field, PhoneUUID):
        return {"format": "uuid", "pattern": RANDOM_UUID_PATTERN}
    return {}


def declare_path_ids(api: Api) -> None:
    """Give the string ids in paths their formats (Flask's rules only say `string`)."""
    for item in api.spec._paths.values():
        for parameter in item.get("parameters", []):
            schema = PATH_ID_SCHEMAS.get(parameter["name"])
            if parameter.get("in") == "path" and schema is not None:
                parameter["schema"] = dict(schema)


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "snake_case error code"})
    message = fields.String(required=True, metadata={"description": "A sentence for people"})
    field_problems = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Each field at fault with its problems (only when fields are)"},
    )


class ErrorSchema(Schema):
    """Every error response: {"error": {"code", "message", "fields"?}}."""

    error = fields.Nested(ErrorBodySchema, required=True)


class FieldobsApi(Api):
    """flask-smorest's Api, documenting the error shape the server really sends."""

    ERROR_SCHEMA = ErrorSchema


def _error(status: int, method: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": http.HTTPStatus(status).phrase}
    if method != "head":  # a HEAD answer has no body
        response["content"] = {"application/json": {"schema": ERROR_REF}}
    return response


def possible_errors(
    method: str, operation: dict[str, Any], public: bool, has_path_ids: bool
) -> list[int]:
    """Return the error statuses a call can answer, from what it takes and who may call it."""
    statuses = []
    takes_body = "requestBody" in operation or method in WRITES
    takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if takes_body or takes_query:
        statuses += [400, 422]
    if not public:
        statuses += [401, 403]
    if has_path_ids:
        statuses.append(404)
    if method in WRITES or method == "delete":
        statuses.append(409)
    if takes_body:
        statuses += [413, 415]
    if method in WRITES or method == "delete":
        statuses.append(507)  # the disk is full: try again later (Retry-After)
    return statuses


def document_errors(app: Flask, api: Api) -> None:
    """Add to every operation the errors it can answer, in the one error shape."""
    paths: dict[str, dict[str, Any]] = api.spec._paths
    for rule in app.url_map.iter_rules():
        path = RULE_PARAMETER.sub(r"{\1}", rule.rule)
        operations = paths.get(path)
        if not operations:
            continue
        declared = declared_roles(app.view_functions[rule.endpoint])
        for method in rule.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)  # flask-smorest's catch-all: every error is listed
            verb = method.lower()
            if declared == PUBLIC:
                operation["security"] = []  # no token needed (the document's default wants one)
            statuses = possible_errors(verb, operation, declared == PUBLIC, bool(rule.arguments))
            for status in [*statuses, *EXTRA_ERRORS.get(path, [])]:
                responses.setdefault(str(status), _error(status, verb))
            for status, response in responses.items():
                # A view's own note on an error keeps its words and gets the one error body.
                if status[0] in "45" and verb != "head" and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
