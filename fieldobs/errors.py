"""The one exception tree of fieldobs and its JSON error shape."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Mapping
from typing import Any, ClassVar


class FieldobsError(Exception):
    """Base of every error the service reports to a caller."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on the server."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: Mapping[str, list[str]] | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.fields = dict(fields) if fields else None
        self.error_code = code or self.code
        self.headers = dict(headers) if headers else {}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """Return the contract's error body."""
        body: dict[str, Any] = {"code": self.error_code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class BadRequest(FieldobsError):
    status = 400
    code = "bad_request"
    default_message = "The request is malformed."


class Unauthorized(FieldobsError):
    status = 401
    code = "unauthorized"
    default_message = "A valid bearer token is required."


class Forbidden(FieldobsError):
    status = 403
    code = "forbidden"
    default_message = "Your role may not do this."


class NotFound(FieldobsError):
    status = 404
    code = "not_found"
    default_message = "No such resource."


class Conflict(FieldobsError):
    status = 409
    code = "conflict"
    default_message = "This conflicts with what the server already holds."


class Gone(FieldobsError):
    status = 410
    code = "gone"
    default_message = "This is no longer available."


class PayloadTooLarge(FieldobsError):
    status = 413
    code = "too_large"
    default_message = "The request is too large."


class UnsupportedMediaType(FieldobsError):
    status = 415
    code = "unsupported_media_type"
    default_message = "This media type is not supported."


class Invalid(FieldobsError):
    status = 422
    code = "invalid"
    default_message = "The request is well-formed but invalid."


class InsufficientStorage(FieldobsError):
    status = 507
    code = "insufficient_storage"
    default_message = "The server's disk is full; nothing was stored. Try again later."


def is_disk_full(error: BaseException) -> bool:
    """Tell whether an error, or one it arose from, is a full disk (ENOSPC or SQLITE_FULL)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        if isinstance(current, sqlite3.Error) and (
            getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(current)
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten marshmallow's nested error messages into `a.0.b` field paths."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            for sub_path, problems in flatten_messages(value, path).items():
                flat.setdefault(sub_path, []).extend(problems)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            flat[prefix or "_schema"] = list(messages)
        else:
            for index, value in enumerate(messages):
                for sub_path, problems in flatten_messages(value, f"{prefix}.{index}").items():
                    flat.setdefault(sub_path, []).extend(problems)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat
