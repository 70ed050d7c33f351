"""Strict scalar fields and schemas for checklist files."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

# marshmallow's own fields coerce ("yes" -> True, "1.5" -> 1.5, True -> 1); a reviewed file
# should say exactly what it means, so these accept only the TOML type they name.


class CheckedField(fields.Field[Any]):
    """A field whose whole deserialisation is one `check` of the raw value."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:  # noqa: ARG002 (marshmallow's signature)
        """Delegate to `check`."""
        return self.check(value)

    # Each subclass defines check(value): return the loaded value or raise ValidationError.
    check: Callable[[Any], Any]


class StrictBoolean(CheckedField):
    """A TOML boolean, nothing truthy."""

    def check(self, value: Any) -> bool:
        """Return the value if it is a real boolean."""
        if not isinstance(value, bool):
            raise ValidationError("Not a boolean (use true or false).")
        return value


class StrictInteger(CheckedField):
    """A TOML integer (not a float, not a boolean)."""

    def check(self, value: Any) -> int:
        """Return the value if it is a real integer."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Not an integer.")
        return value


class StrictNumber(CheckedField):
    """A finite TOML integer or float, normalised to float so `1` and `1.0` hash alike."""

    def check(self, value: Any) -> float:
        """Return the value as a float if it is a finite number."""
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValidationError("Not a number.")
        return float(value)


class TrimmedString(CheckedField):
    """A TOML string with surrounding whitespace (a multi-line string's last newline) removed."""

    def __init__(self, *, blank: bool = True, **kwargs: Any) -> None:
        """Build a string field; `blank=False` rejects empty text."""
        super().__init__(**kwargs)
        self.blank = blank

    def check(self, value: Any) -> str:
        """Return the stripped string."""
        if not isinstance(value, str):
            raise ValidationError("Not a string.")
        if not self.blank and not value.strip():
            raise ValidationError("Must not be blank.")
        return value.strip()


class Text(TrimmedString):
    """Non-blank human text."""

    def __init__(self, **kwargs: Any) -> None:
        """Build a trimmed string field that rejects blank text."""
        super().__init__(blank=False, **kwargs)


def non_negative() -> validate.Range:
    """Return a validator for numbers >= 0."""
    return validate.Range(min=0, error="Must be 0 or more.")


def positive() -> validate.Range:
    """Return a validator for numbers > 0."""
    return validate.Range(min=0, min_inclusive=False, error="Must be greater than 0.")


def pattern(regex: str, example: str) -> validate.Regexp:
    """Return a validator for an identifier, with an example in the message."""
    return validate.Regexp(regex, error=f"Must look like '{example}' (lowercase).")


class StrictSchema(Schema):
    """A schema that rejects unknown keys."""

    class Meta:
        unknown = RAISE
