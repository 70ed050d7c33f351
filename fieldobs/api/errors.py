"""The one error handler: every failure becomes the contract's JSON error shape."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

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


def _names_nothing(error: MethodNotAllowed) -> bool:
    """Tell whether a 405 is for a URL that no method can reach (an id out of range)."""
    # werkzeug picks the rules by their pattern before their converters check the values:
    # /locations/9223372036854775808 "allows" GET although GET answers 404 for it too.
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in error.valid_methods or ():
        try:
            adapter.match(method=method)
        except (NotFound, MethodNotAllowed):
            continue
        except HTTPException:
            return False  # a redirect: the URL names something
        return False
    return True


def _handle_http_exception(error: HTTPException) -> Response:
    if isinstance(error, MethodNotAllowed) and _names_nothing(error):
        error = NotFound()
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
