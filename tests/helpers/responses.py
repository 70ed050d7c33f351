"""Typed reads of test-client responses: a JSON body checked for its shape, not taken as Any."""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse


def json_object(response: TestResponse) -> dict[str, Any]:
    """Return the response's JSON body, failing the test unless it is an object."""
    body = response.get_json()
    assert isinstance(body, dict), (response.status_code, body)
    return body
