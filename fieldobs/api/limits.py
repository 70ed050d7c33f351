"""Request body limits: every endpoint takes a body no larger than what it needs.

Each endpoint that takes more is listed in `ENDPOINT_LIMITS` by endpoint name; every other
endpoint takes small JSON (`MAX_JSON_BODY_BYTES`).
A `Content-Length` over the limit is answered 413 before a byte of the body is read; a chunked
body is read through a stream that raises 413 as soon as it passes the limit.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

from flask import Flask, Response, g, request

from fieldobs.errors import PayloadTooLarge
from fieldobs.extensions import current_settings
from fieldobs.settings import Settings

Limit = Callable[[Settings], int]

# The endpoints that take more than small JSON, by endpoint name.
ENDPOINT_LIMITS: dict[str, Limit] = {
    "visits.put_visit": lambda s: s.max_visit_body_bytes,
    "visits.post_visits": lambda s: s.max_batch_body_bytes,
    "uploads.append_upload": lambda s: s.photos.max_bytes,
    "photos.put_photo": lambda s: s.photos.one_shot_max_bytes,
    "assignments.import_assignments": lambda s: s.max_import_body_bytes,
}


def limit_for(endpoint: str | None, settings: Settings) -> int:
    """Return the body limit of an endpoint in bytes."""
    declared = ENDPOINT_LIMITS.get(endpoint or "")
    return declared(settings) if declared else settings.max_json_body_bytes


class CappedStream(io.RawIOBase):
    """A body stream that raises 413 as soon as more than `limit` bytes arrive."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        super().__init__()
        self._raw = raw
        self._limit = limit
        self._seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # One byte past the limit is asked for, so a body of exactly `limit` bytes passes.
        wanted = min(len(buffer), self._limit + 1 - self._seen)
        data = self._raw.read(max(wanted, 1))
        self._seen += len(data)
        if self._seen > self._limit:
            raise PayloadTooLarge(
                f"The body is larger than this endpoint takes (at most {self._limit} bytes).",
                headers={"Connection": "close"},
            )
        buffer[: len(data)] = data
        return len(data)


def enforce_body_limit() -> None:
    """Refuse a body larger than the endpoint takes, before reading it (before_request)."""
    limit = limit_for(request.endpoint, current_settings())
    g.body_limit = limit
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            raise PayloadTooLarge(
                f"The body is {declared} bytes; this endpoint takes at most {limit}.",
                headers={"Connection": "close"},
            )
        return  # Werkzeug reads no further than Content-Length
    if request.environ.get("wsgi.input_terminated"):
        # A chunked body (the server decodes it): count what arrives. Werkzeug's own maximum
        # would cut the body silently at the limit when read whole, so it stays unset.
        request.environ["wsgi.input"] = CappedStream(request.environ["wsgi.input"], limit)


def _body_left_unread() -> bool:
    if not (request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "")):
        return False
    stream = request.__dict__.get("stream")  # cached once something read the body
    if isinstance(stream, CappedStream) or stream is request.environ.get("wsgi.input"):
        return True  # a chunked body: its end is not known here
    return stream is None or not getattr(stream, "is_exhausted", False)


def close_after_unread_body(response: Response) -> Response:
    """After an error that left the body unread, close the connection (after_request).

    The unread bytes would otherwise be taken as the next request on a kept-alive connection.
    """
    if response.status_code >= 400 and _body_left_unread():
        response.headers["Connection"] = "close"
    return response


def describe(settings: Settings) -> str:
    """Say, for the OpenAPI document, how large a body each endpoint takes."""
    listed = ", ".join(
        f"`{endpoint}` {limit(settings)}" for endpoint, limit in sorted(ENDPOINT_LIMITS.items())
    )
    return (
        f"Request bodies: at most {settings.max_json_body_bytes} bytes, except (bytes) "
        f"{listed}. A larger `Content-Length` is answered 413 `too_large` before the body is "
        "read; a chunked body as soon as it passes the limit. A JSON body is sent as "
        "`application/json` (else 415), nests at most 64 levels, and holds no lone UTF-16 "
        "surrogates, integers of more than 4300 digits, NaN or Infinity (else 400/422)."
    )


def init_app(app: Flask) -> None:
    """Check body sizes first on every request, and close connections left mid-body."""
    app.before_request_funcs.setdefault(None, []).insert(0, enforce_body_limit)
    app.after_request(close_after_unread_body)
