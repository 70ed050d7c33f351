"""Integers as SQLite stores them: 64-bit signed. JSON and URLs allow any size.

A larger number names nothing that is stored, and handing it to SQLite raises OverflowError
(a 500). Request fields refuse it by name; URL ids larger than this match no route (404).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields
from marshmallow.types import ErrorMessages
from werkzeug.routing import IntegerConverter, Map

SMALLEST = -(2**63)
LARGEST = 2**63 - 1


ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_stored_integer(text: str) -> int | None:
    """Read a non-negative integer from a header or query value: ASCII digits within 64 bits.

    `str.isdigit` and `int` take superscripts (`²`) or Arabic-Indic digits; these do not, and
    a number beyond 64 bits is None rather than an OverflowError later.
    """
    if not ASCII_DIGITS.fullmatch(text):
        return None
    number = int(text) if len(text) <= 19 else LARGEST + 1
    return number if number <= LARGEST else None


def is_stored_integer(value: Any) -> bool:
    """Tell whether a JSON value is an integer SQLite can store (booleans are not integers)."""
    return type(value) is int and SMALLEST <= value <= LARGEST


class StoredInteger(fields.Integer):
    """An integer field that refuses, by name, numbers beyond SQLite's 64 bits."""

    default_error_messages: ErrorMessages = {  # noqa: RUF012 - marshmallow's own declaration
        "too_large": f"Must be between {SMALLEST} and {LARGEST}."
    }

    def __init__(self, **kwargs: Any) -> None:
        # OpenAPI's int64 says the same as the error: at most 64 bits.
        kwargs["metadata"] = {"format": "int64", **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and not ASCII_DIGITS.fullmatch(value.removeprefix("-")):
            raise self.make_error("invalid")  # int() would take "１２" or "٣"
        number = super()._validated(value)
        if not SMALLEST <= number <= LARGEST:
            raise self.make_error("too_large")
        return number


class StoredIdConverter(IntegerConverter):
    """Match a URL integer only within SQLite's range: a larger id names nothing (404)."""

    regex = "[0-9]+"  # ASCII only: werkzeug's \d+ also matches "１２"

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = LARGEST,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)
