"""Every JSON response the tests receive is checked against the served OpenAPI document."""

from __future__ import annotations

import io
import json
from functools import cache
from typing import Any

from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import PathNotFound
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request

SPEC_PATH = "/api/v1/openapi.json"


@cache
def _openapi(spec_text: str) -> OpenAPI:
    return OpenAPI.from_dict(json.loads(spec_text))


def openapi_of(app: Flask) -> OpenAPI:
    """Return the app's served OpenAPI document, parsed once per distinct document."""
    with app.test_request_context():
        spec = app.extensions["fieldobs.api"].spec.to_dict()
    return _openapi(json.dumps(spec, sort_keys=True))


def check_response(app: Flask, response: TestResponse) -> None:
    """Fail when a JSON response of /api/v1 is not what the OpenAPI document says."""
    request = response.request
    if not request.path.startswith("/api/v1/") or request.path == SPEC_PATH:
        return
    if response.mimetype != "application/json" or response.status_code == 405:
        return  # 405: the method has no operation to check against
    # Only the method, path and query matter here; the body was read by the app already.
    environ = {**request.environ, "wsgi.input": io.BytesIO(), "CONTENT_LENGTH": "0"}
    wrapped: Any = WerkzeugOpenAPIRequest(Request(environ))
    try:
        openapi_of(app).validate_response(wrapped, WerkzeugOpenAPIResponse(response))
    except PathNotFound:
        return  # no such operation: the 404 of an unknown path
    except Exception as error:
        detail = getattr(error, "__cause__", None) or error
        raise AssertionError(
            f"{request.method} {request.full_path} → {response.status_code} does not match "
            f"the OpenAPI document: {error!r} ({detail!r})\n"
            f"body: {response.get_data(as_text=True)[:500]}"
        ) from error
