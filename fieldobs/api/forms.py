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

from fieldobs.api.json_body import find_problems, parse_json_body
from fieldobs.errors import UnsupportedMediaType, flatten_messages


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
    # The one strict parser (json_body): malformed or too deep is 400, unusable values are
    # fields at fault like any other.
    payload, _ = parse_json_body(request.get_data(cache=True))
    problems = find_problems(payload, surrogates=True)
    if isinstance(payload, dict):
        spoiled = {path.split(".", 1)[0] for path in problems}
        payload = {key: value for key, value in payload.items() if key not in spoiled}
    try:
        data: dict[str, Any] = schema.load(payload)
    except ValidationError as error:
        for path, listed in flatten_messages(error.messages).items():
            problems.setdefault(path, []).extend(listed)
        valid = error.valid_data
        data = dict(valid) if isinstance(valid, dict) else {}
    return data, problems
