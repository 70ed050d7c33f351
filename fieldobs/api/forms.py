"""Forms: every bad field of a JSON body in one 422, the schema's problems and the domain's.

flask-smorest's `@blp.arguments` answers 422 at the schema's first layer of checks, so a body
with a wrong type in one field and an unknown reference in another named only the first. A
view that loads with `load_form` passes the schema's problems on to its domain function, which
checks the remaining fields and reports them all together. `json_body` documents the schema
as the operation's request body, as `@blp.arguments` would.
"""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest as HTTPBadRequest

from fieldobs.errors import BadRequest, UnsupportedMediaType, flatten_messages


def json_body(schema: type[Schema], description: str | None = None) -> dict[str, Any]:
    """Return the OpenAPI requestBody of a JSON body loaded with `schema`."""
    body: dict[str, Any] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


def load_form(schema: Schema) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load the request's JSON body; return its valid fields and the problems by field path."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
    try:
        # Integers past 4,300 digits are a ValueError (werkzeug's BadRequest); deep nesting
        # a RecursionError.
        payload = request.get_json()
    except (HTTPBadRequest, RecursionError) as error:
        raise BadRequest("The body is not valid JSON.", code="malformed_json") from error
    problems: dict[str, list[str]] = {}
    try:
        data: dict[str, Any] = schema.load(payload)
    except ValidationError as error:
        problems = flatten_messages(error.messages)
        valid = error.valid_data
        data = dict(valid) if isinstance(valid, dict) else {}
    for path in _unencodable(payload):
        # Half an emoji (a lone surrogate) cannot be stored as UTF-8: that field is bad.
        problems.setdefault(path, []).append("not valid Unicode text (a lone surrogate)")
        data.pop(path.split(".", 1)[0], None)
    return data, {_printable(path): listed for path, listed in problems.items()}


def _printable(path: str) -> str:
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _unencodable(value: Any, path: str = "") -> list[str]:
    """Return the paths of the strings (keys or values) that UTF-8 cannot encode."""
    found: list[str] = []
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found.append(path or "_schema")
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            found.extend(_unencodable(key, inner))
            found.extend(_unencodable(item, inner))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_unencodable(item, f"{path}.{index}" if path else str(index)))
    return found
