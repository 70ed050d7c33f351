"""Every JSON response the tests receive is checked against the served OpenAPI document."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import Flask
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.test import TestResponse
from werkzeug.wrappers import Request

SPEC_PATH = "/api/v1/openapi.json"
PATH_PARAMETER = re.compile(r"\\\{[^/]+?\\\}")


@dataclass(frozen=True)
class Document:
    """A served OpenAPI document: its validator, and its operations by path pattern."""

    openapi: OpenAPI
    paths: list[tuple[re.Pattern[str], dict[str, Any]]]

    def documented_schema(self, path: str, method: str, status: int) -> Any:
        """Return the JSON schema documented for an answer, or None when there is none."""
        # Literal paths first: /visits/reviews is not /visits/{visit_id}.
        for pattern, item in self.paths:
            if pattern.fullmatch(path):
                responses = item.get(method.lower(), {}).get("responses", {})
                response = responses.get(str(status)) or responses.get(f"{status // 100}XX")
                content = (response or {}).get("content", {})
                return content.get("application/json", {}).get("schema")
        return None


@cache
def _document(spec_text: str) -> Document:
    spec = json.loads(spec_text)
    paths = sorted(spec["paths"].items(), key=lambda entry: entry[0].count("{"))
    return Document(
        OpenAPI.from_dict(spec),
        [(re.compile(PATH_PARAMETER.sub("[^/]+", re.escape(p))), item) for p, item in paths],
    )


def document_of(app: Flask) -> Document:
    """Return the app's served OpenAPI document, parsed once per distinct document."""
    with app.test_request_context():
        spec = app.extensions["fieldobs.api"].spec.to_dict()
    return _document(json.dumps(spec, sort_keys=True))


def check_response(app: Flask, response: TestResponse) -> None:
    """Fail when a JSON response of /api/v1 is not what the OpenAPI document says.

    A successful JSON answer of an operation that documents no schema for it fails too:
    without one, nothing would be checked.
    """
    request = response.request
    if not request.path.startswith("/api/v1/") or request.path == SPEC_PATH:
        return
    if response.mimetype != "application/json" or response.status_code == 405:
        return  # 405: the method has no operation to check against
    document = document_of(app)
    # Only the method, path and query matter here; the body was read by the app already.
    environ = {**request.environ, "wsgi.input": io.BytesIO(), "CONTENT_LENGTH": "0"}
    wrapped: Any = WerkzeugOpenAPIRequest(Request(environ))
    try:
        document.openapi.validate_response(wrapped, WerkzeugOpenAPIResponse(response))
    except PathNotFound:
        return  # no such operation: the 404 of an unknown path
    except OperationNotFound:
        if response.status_code == 404:
            return  # no such method on a URL that names nothing (an id out of range)
        raise
    except Exception as error:
        detail = getattr(error, "__cause__", None) or error
        raise AssertionError(
            f"{request.method} {request.full_path} → {response.status_code} does not match "
            f"the OpenAPI document: {error!r} ({detail!r})\n"
            f"body: {response.get_data(as_text=True)[:500]}"
        ) from error
    status = response.status_code
    if (
        200 <= status < 300
        and document.documented_schema(request.path, request.method, status) is None
    ):
        raise AssertionError(
            f"{request.method} {request.path} → {status} answers JSON, but the OpenAPI document "
            "gives no schema for it: declare one with @blp.response(status, Schema)"
        )
