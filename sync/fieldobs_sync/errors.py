"""Exceptions raised by the sync kit."""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Base of every error the kit raises."""


class OutboxError(SyncError):
    """Refuse an outbox operation that would lose or duplicate data."""


class ProtocolError(SyncError):
    """Report a server answer that breaks the contract (bad JSON, missing fields)."""


class TransientError(SyncError):
    """Report a failure worth retrying later: network down, 5xx, 408 or 429 after retries."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_at: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_at = retry_at


class HttpError(SyncError):
    """Report an answer that retrying unchanged cannot fix."""

    def __init__(self, status: int, body: Any = None, *, method: str = "", url: str = "") -> None:
        self.status = status
        self.body = body
        self.method = method
        self.url = url
        super().__init__(f"{method} {url} -> HTTP {status}: {self.message}".strip())

    @property
    def error(self) -> dict[str, Any]:
        """Return the contract's error object, or a stand-in when the body has none."""
        return error_object(self.status, self.body)

    @property
    def code(self) -> str:
        """Return the server's snake_case error code."""
        return str(self.error.get("code", f"http_{self.status}"))

    @property
    def message(self) -> str:
        """Return the server's error sentence."""
        return str(self.error.get("message", ""))


class AuthError(HttpError):
    """Report a 401: the token is missing, expired or wrong."""


class UploadRejected(HttpError):
    """Report a photo the server refused for good (400, 403, 409, 413, 415, 422)."""


def error_object(status: int, body: Any) -> dict[str, Any]:
    """Return the `error` object of a contract error body, or a stand-in."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    if isinstance(body, str) and body:
        return {"code": f"http_{status}", "message": body[:500]}
    return {"code": f"http_{status}", "message": f"HTTP {status}"}
