"""One check of every JSON request body before a schema sees it: media type, syntax, shape.

Python's json module takes what later fails as a 500: lone UTF-16 surrogates (SQLite and UTF-8
cannot store them), nesting deep enough to exhaust the stack, integers too long to convert,
`NaN` and `Infinity`. Each is refused here, once for every endpoint, naming the field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from webargs.core import is_json

from fieldobs.errors import BadRequest, Invalid, UnsupportedMediaType

MAX_DEPTH = 64
MAX_INTEGER_DIGITS = 4300  # Python's own limit for int(str)
# A lone surrogate can only arrive as a \uD800-\uDFFF escape: strict UTF-8 refuses encoded ones.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
SURROGATE = re.compile("[\ud800-\udfff]")
# Endpoints whose loader reports lone surrogates itself: a batch judges each visit on its own
# (one bad visit must not fail its neighbours), and a visit names them beside its other
# problems in one 422 (fieldobs/visits/schema.py).
PER_ITEM_ENDPOINTS = frozenset({"visits.post_visits", "visits.put_visit"})


class MalformedJson(BadRequest):
    code = "malformed_json"
    default_message = "The body is not valid JSON."


class _Unusable:
    """A number json parsed that the service cannot use; replaced by an error naming it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


def json_schema_of(view: Callable[..., Any] | None) -> Any:
    """Return the schema of the JSON body a view reads, or None when it reads none.

    A body is declared with flask-smorest's `@blp.arguments`, or documented with
    `@blp.doc(requestBody=forms.json_body(Schema))` by a view that loads it itself.
    """
    apidoc = getattr(view, "_apidoc", {})
    for parameter in apidoc.get("arguments", {}).get("parameters", []):
        if parameter.get("in") == "json":
            return parameter["schema"]
    body = apidoc.get("manual_doc", {}).get("requestBody", {})
    return body.get("content", {}).get("application/json", {}).get("schema")


def takes_json(view: Callable[..., Any] | None) -> bool:
    """Tell whether a view has flask-smorest read its JSON body (checked here first).

    A view that loads its body itself (`forms.load_form`) runs the same checks there, so
    that a lone surrogate is reported beside the schema's other problems in one 422.
    """
    parameters = getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return any(p.get("in") == "json" for p in parameters)


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _refuse_constant(name: str) -> None:
    raise MalformedJson(f"{name} is not JSON; send a number or null.")


def parse_json_body(raw: bytes) -> tuple[Any, bool]:
    """Parse a request body as strict JSON, or raise 400 saying why.

    Return the document and whether it holds numbers the service cannot use (`_Unusable`).
    """
    unusable: list[_Unusable] = []

    def parse_int(text: str) -> int | _Unusable:
        if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
            unusable.append(_Unusable(f"a number of more than {MAX_INTEGER_DIGITS} digits"))
            return unusable[-1]
        return int(text)

    def parse_float(text: str) -> float | _Unusable:
        number = float(text)
        if math.isfinite(number):
            return number
        unusable.append(_Unusable("a number out of range"))
        return unusable[-1]

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedJson("The body is not UTF-8.") from error
    try:
        document = json.loads(
            text, parse_int=parse_int, parse_float=parse_float, parse_constant=_refuse_constant
        )
    except RecursionError as error:
        raise MalformedJson(f"The body nests deeper than {MAX_DEPTH} levels.") from error
    except ValueError as error:
        raise MalformedJson(f"The body is not valid JSON: {error}.") from error
    return document, bool(unusable)


def _readable(key: object) -> str:
    return SURROGATE.sub("\ufffd", str(key))


def find_problems(document: Any, *, surrogates: bool) -> dict[str, list[str]]:
    """Return the fields that hold unusable values, by dotted path (raise when too deep)."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise MalformedJson(f"The body nests deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            for key, item in value.items():
                if surrogates and SURROGATE.search(key):
                    problems[".".join((*path, _readable(key)))] = [
                        "holds a lone UTF-16 surrogate (half a character); send valid Unicode"
                    ]
                stack.append((item, (*path, _readable(key))))
        elif isinstance(value, list):
            stack.extend((item, (*path, str(index))) for index, item in enumerate(value))
        elif isinstance(value, _Unusable):
            problems[".".join(path) or "_schema"] = [f"is {value.problem}"]
        elif surrogates and isinstance(value, str) and SURROGATE.search(value):
            problems[".".join(path) or "_schema"] = [
                "holds a lone UTF-16 surrogate (half a character); send valid Unicode"
            ]
    return problems


def _needs_walk(raw: bytes, *, surrogates: bool, unusable: bool) -> bool:
    # Most bodies skip the walk: nesting past MAX_DEPTH needs as many brackets.
    return (
        unusable
        or (surrogates and SURROGATE_ESCAPE.search(raw) is not None)
        or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
    )


def check_json_body() -> None:
    """Refuse a JSON endpoint's body that is not JSON a schema can safely read (before_request)."""
    if request.endpoint is None:
        return
    if not takes_json(current_app.view_functions.get(request.endpoint)) or not _has_body():
        return
    if not is_json(request.mimetype):
        raise UnsupportedMediaType(
            "Send the body as JSON, with 'Content-Type: application/json'.",
            fields={"Content-Type": [f"must be application/json, not {request.mimetype!r}"]},
        )
    raw = request.get_data(cache=True)
    document, unusable = parse_json_body(raw)
    surrogates = request.endpoint not in PER_ITEM_ENDPOINTS
    if not _needs_walk(raw, surrogates=surrogates, unusable=unusable):
        return
    if problems := find_problems(document, surrogates=surrogates):
        raise Invalid("Some fields hold values the service cannot store.", fields=problems)
