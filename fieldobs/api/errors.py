"""The one error handler: every failure becomes the contract's JSON error shape."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from fieldobs.errors import FieldobsError, InsufficientStorage, flatten_messages, is_disk_full

# How long a client should wait before retrying after a full disk.
DISK_FULL_RETRY_AFTER_SECONDS = 300

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    428: "precondition_required",
    429: "too_many_requests",
    507: "insufficient_storage",
}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build the contract's JSON error response."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_fieldobs_error(error: FieldobsError) -> Response:
    return error_response(
        error.status, error.error_code, error.message, error.fields, error.headers
    )


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    fields: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for location_messages in messages.values():
            fields.update(flatten_messages(location_messages))
    code = HTTP_CODES.get(status, "error")
    message = error.description or "Request failed."
    if status == 400 and fields.get("_schema") == ["Invalid JSON body."]:
        code, message, fields = "malformed_json", "The body is not valid JSON.", {}
    elif status == 422:
        message = "Some fields are invalid."
    elif status == 413:
        limit = g.get("body_limit")
        message = f"The body is larger than this endpoint takes (at most {limit} bytes)."
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, code, message, fields or None, headers)


def _handle_unexpected(error: Exception) -> Response:
    if is_disk_full(error):
        current_app.logger.error("disk full: %s", error)
        return _handle_fieldobs_error(
            InsufficientStorage(headers={"Retry-After": str(DISK_FULL_RETRY_AFTER_SECONDS)})
        )
    current_app.logger.exception("unhandled error", exc_info=error)
    return error_response(500, "internal_error", "Something went wrong on the server.")


def register_error_handlers(app: Flask) -> None:
    """Route every exception through the contract's error shape."""
    app.register_error_handler(FieldobsError, _handle_fieldobs_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
