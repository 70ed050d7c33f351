"""Checklist files: TOML in `checklists/`, validated and normalised by a marshmallow schema.

A checklist file is reviewed in pull requests like code, so every mistake is reported with the
file and the path of the offending key (`sections.1.items.0.weight`), and unknown keys are
rejected rather than silently ignored (a typo like `alow_na` must not pass review unnoticed).
The format itself is documented in `checklists/README.md`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from fieldobs.errors import Invalid, flatten_messages

KINDS = ("mystery_shop", "walkthrough")
CRITICAL_ZEROES = ("section", "visit")
PHOTO_SETTINGS = ("none", "optional", "required")
ITEM_TYPES = ("yes_no", "scale", "choice", "duration", "number", "text", "photo")

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SECTION_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
ITEM_ID_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
OPTION_ID_PATTERN = r"^[a-z0-9][a-z0-9_]*$"

DEFAULT_TEXT_MAX_LENGTH = 10_000


class ChecklistFileError(Invalid):
    """A checklist file (or a directory of them) is unreadable or invalid."""

    code = "invalid_checklist"
    default_message = "A checklist file is invalid."


# --- strict scalar fields -------------------------------------------------------------------
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


def _non_negative() -> validate.Range:
    """Return a validator for numbers >= 0."""
    return validate.Range(min=0, error="Must be 0 or more.")


def _positive() -> validate.Range:
    """Return a validator for numbers > 0."""
    return validate.Range(min=0, min_inclusive=False, error="Must be greater than 0.")


def _pattern(regex: str, example: str) -> validate.Regexp:
    """Return a validator for an identifier, with an example in the message."""
    return validate.Regexp(regex, error=f"Must look like '{example}' (lowercase).")


# --- items ----------------------------------------------------------------------------------


def is_scored(item: Mapping[str, Any]) -> bool:
    """Tell whether an item can contribute points to a score."""
    kind = item["type"]
    if kind in ("yes_no", "scale", "duration"):
        return True
    if kind == "choice":
        return any(option.get("score") is not None for option in item["options"])
    if kind == "number":
        return item.get("target") is not None and item.get("limit") is not None
    return False  # text and photo are evidence, never points


class StrictSchema(Schema):
    """A schema that rejects unknown keys."""

    class Meta:
        unknown = RAISE


class ItemSchema(StrictSchema):
    """Keys shared by every item type."""

    id = fields.String(required=True, validate=_pattern(ITEM_ID_PATTERN, "greeting.eye_contact"))
    prompt = Text(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ITEM_TYPES))
    weight = StrictNumber(load_default=1.0, validate=_positive())
    critical = StrictBoolean(load_default=False)
    allow_na = StrictBoolean(load_default=False)
    # None means "not given": the default depends on the type (see fill_defaults).
    required = StrictBoolean(load_default=None)
    photo = fields.String(load_default=None, validate=validate.OneOf(PHOTO_SETTINGS))
    guidance = TrimmedString(load_default="")

    default_photo = "none"

    @validates_schema
    def check_critical_can_count(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Reject `critical` on an item that can never score, hence never fail."""
        if data["critical"] and not is_scored(data):
            raise ValidationError("An unscored item cannot be critical.", "critical")

    @post_load
    def fill_defaults(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """Fill in the type-dependent defaults of `required` and `photo`."""
        if data["required"] is None:
            # Scored items must be answered (or marked N/A) so that visits stay comparable;
            # informational ones are optional unless the file says otherwise.
            data["required"] = is_scored(data)
        if data["photo"] is None:
            data["photo"] = self.default_photo
        return data


class YesNoItemSchema(ItemSchema):
    """A yes/no question; yes is the good answer."""


class ScaleItemSchema(ItemSchema):
    """An integer rating from `min` (no points) to `max` (full points)."""

    min = StrictInteger(required=True)
    max = StrictInteger(required=True)
    labels = fields.Dict(keys=fields.String(), values=Text(), load_default=dict)

    @validates_schema
    def check_range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require min < max and labels keyed by points of the scale."""
        if data["min"] >= data["max"]:
            raise ValidationError("Must be greater than min.", "max")
        for key in data["labels"]:
            if not re.fullmatch(r"-?[0-9]+", key) or not data["min"] <= int(key) <= data["max"]:
                raise ValidationError(
                    f"Label key '{key}' is not a point of the scale {data['min']}..{data['max']}.",
                    "labels",
                )

    @post_load
    def normalise_labels(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """Key labels by canonical integer text, in scale order."""
        labels = {int(key): label for key, label in data["labels"].items()}
        data["labels"] = {str(point): labels[point] for point in sorted(labels)}
        return data


class OptionSchema(StrictSchema):
    """One option of a choice item; no score means informational."""

    id = fields.String(required=True, validate=_pattern(OPTION_ID_PATTERN, "verbal_welcome"))
    label = Text(required=True)
    score = StrictNumber(
        load_default=None, validate=validate.Range(0, 1, error="Must be between 0 and 1.")
    )


class ChoiceItemSchema(ItemSchema):
    """One option out of a list; each option carries its own score (fraction of the weight)."""

    options = fields.List(
        fields.Nested(OptionSchema),
        required=True,
        validate=validate.Length(min=2, error="Give at least 2 options."),
    )

    @validates_schema
    def check_options(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require unique option ids, and a zero-score option on a critical item."""
        seen: set[str] = set()
        for index, option in enumerate(data["options"]):
            if option["id"] in seen:
                raise ValidationError(
                    {"options": {index: {"id": [f"Duplicate option id '{option['id']}'."]}}}
                )
            seen.add(option["id"])
        if data["critical"] and not any(o["score"] == 0 for o in data["options"]):
            raise ValidationError(
                "A critical choice item needs an option with score 0 (the failing answer).",
                "options",
            )


class DurationItemSchema(ItemSchema):
    """Seconds: full points at or under `target`, none at or over `limit`, linear between."""

    target = StrictNumber(required=True, validate=_non_negative())
    limit = StrictNumber(required=True, validate=_non_negative())

    @validates_schema
    def check_thresholds(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require target < limit: a duration is always better short."""
        if data["target"] >= data["limit"]:
            raise ValidationError("Must be greater than target.", "limit")


class NumberItemSchema(ItemSchema):
    """A count or measure >= 0; scored only with both `target` and `limit` (either direction)."""

    target = StrictNumber(load_default=None, validate=_non_negative())
    limit = StrictNumber(load_default=None, validate=_non_negative())
    unit = TrimmedString(load_default="")

    @validates_schema
    def check_thresholds(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require both thresholds or neither, and different ones."""
        target, limit = data["target"], data["limit"]
        if (target is None) != (limit is None):
            missing = "limit" if limit is None else "target"
            raise ValidationError("Give both target and limit, or neither.", missing)
        if target is not None and target == limit:
            raise ValidationError("Must differ from target.", "limit")


class TextItemSchema(ItemSchema):
    """Free text; never scored."""

    max_length = StrictInteger(load_default=DEFAULT_TEXT_MAX_LENGTH, validate=_positive())


class PhotoItemSchema(ItemSchema):
    """Photo evidence only: the answer is its `photos` list; never scored."""

    default_photo = "required"

    @validates_schema
    def check_photo_setting(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Keep `photo = "required"`: a photo item without photos is no answer at all."""
        if data["photo"] not in (None, "required"):
            raise ValidationError(
                "A photo item always requires its photos; use required = false to make the "
                "item optional.",
                "photo",
            )


ITEM_SCHEMAS: dict[str, type[ItemSchema]] = {
    "yes_no": YesNoItemSchema,
    "scale": ScaleItemSchema,
    "choice": ChoiceItemSchema,
    "duration": DurationItemSchema,
    "number": NumberItemSchema,
    "text": TextItemSchema,
    "photo": PhotoItemSchema,
}


class ItemField(CheckedField):
    """An item table, validated by the schema of its `type`."""

    def check(self, value: Any) -> dict[str, Any]:
        """Dispatch on `type` so that each type's keys (and only those) are accepted."""
        if not isinstance(value, Mapping):
            raise ValidationError("Not a table.")
        kind = value.get("type")
        if kind is None:
            raise ValidationError({"type": ["Missing data for required field."]})
        if kind not in ITEM_SCHEMAS:
            raise ValidationError({"type": [f"Must be one of: {', '.join(ITEM_TYPES)}."]})
        loaded: dict[str, Any] = ITEM_SCHEMAS[kind]().load(value)
        return loaded


# --- sections and the checklist ---------------------------------------------------------------


class SectionSchema(StrictSchema):
    """A weighted group of items."""

    id = fields.String(required=True, validate=_pattern(SECTION_ID_PATTERN, "greeting"))
    title = Text(required=True)
    weight = StrictNumber(load_default=1.0, validate=_positive())
    description = TrimmedString(load_default="")
    items = fields.List(
        ItemField(),
        required=True,
        validate=validate.Length(min=1, error="A section needs at least one item."),
    )

    @validates_schema
    def check_item_prefix(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require item ids to start with their section id, so an answer reads on its own."""
        for index, item in enumerate(data["items"]):
            if not item["id"].startswith(f"{data['id']}."):
                raise ValidationError(
                    {"items": {index: {"id": [f"Must start with '{data['id']}.'."]}}}
                )


def _reject_version(_value: Any) -> None:
    """Refuse a `version` key: versions are assigned on publishing."""
    raise ValidationError("Do not set version in the file; publishing assigns it.")


class ChecklistSchema(StrictSchema):
    """A whole checklist file."""

    slug = fields.String(required=True, validate=_pattern(SLUG_PATTERN, "mystery-shop"))
    title = Text(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    description = TrimmedString(load_default="")
    critical_zeroes = fields.String(
        load_default="section", validate=validate.OneOf(CRITICAL_ZEROES)
    )
    sections = fields.List(
        fields.Nested(SectionSchema),
        required=True,
        validate=validate.Length(min=1, error="A checklist needs at least one section."),
    )
    version = fields.Raw(load_only=True, validate=_reject_version)

    @validates_schema
    def check_unique_ids(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require unique section ids and item ids unique across the whole checklist."""
        errors: dict[int, Any] = {}
        section_ids: dict[str, int] = {}
        item_ids: dict[str, str] = {}
        for s_index, section in enumerate(data["sections"]):
            if section["id"] in section_ids:
                errors[s_index] = {"id": [f"Duplicate section id '{section['id']}'."]}
            section_ids.setdefault(section["id"], s_index)
            for i_index, item in enumerate(section["items"]):
                path = f"sections.{s_index}.items.{i_index}"
                if item["id"] in item_ids:
                    problem = f"Duplicate item id '{item['id']}' (first at {item_ids[item['id']]})."
                    errors.setdefault(s_index, {}).setdefault("items", {})[i_index] = {
                        "id": [problem]
                    }
                item_ids.setdefault(item["id"], path)
        if errors:
            raise ValidationError({"sections": errors})


# --- public API -------------------------------------------------------------------------------


def _error(
    problems: dict[str, list[str]], hints: Mapping[str, str] | None = None
) -> ChecklistFileError:
    """Build an error from `<file>:<path>` keyed problems, the first one in the message."""
    first_key, first_problems = next(iter(problems.items()))
    hint = (hints or {}).get(first_key, "")
    message = f"{first_key}{hint}: {first_problems[0]}"
    extra = sum(len(p) for p in problems.values()) - 1
    if extra:
        message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return ChecklistFileError(message, fields=problems)


def _owner_hint(data: Any, path: str) -> str:
    """Name the innermost section or item along a path, to make the message easy to act on."""
    owner = ""
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            break
        if isinstance(node, Mapping) and isinstance(node.get("id"), str):
            owner = node["id"]
    return f" (in '{owner}')" if owner else ""


def _file_error(
    source: str, problems: dict[str, list[str]], data: Any = None
) -> ChecklistFileError:
    """Build an error whose message and fields name the file and each bad path."""
    keyed = {f"{source}:{path}": list(messages) for path, messages in problems.items()}
    hints = {f"{source}:{path}": _owner_hint(data, path) for path in problems}
    return _error(keyed, hints)


def parse_checklist(data: Mapping[str, Any], source: str = "<checklist>") -> dict[str, Any]:
    """Validate parsed checklist data and return the normalised definition."""
    try:
        definition: dict[str, Any] = ChecklistSchema().load(data)
    except ValidationError as error:
        raise _file_error(source, flatten_messages(error.messages), data) from error
    return definition


def load_checklist_file(path: Path) -> dict[str, Any]:
    """Read, validate and normalise one checklist TOML file."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise _file_error(
            source, {"_file": [f"Cannot read the file: {error.strerror}."]}
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise _file_error(source, {"_file": [f"Not valid TOML: {error}."]}) from error
    return parse_checklist(data, source)


def load_checklist_dir(directory: Path) -> list[dict[str, Any]]:
    """Load every `*.toml` in a directory, sorted by slug; report all bad files at once."""
    if not directory.is_dir():
        raise _file_error(str(directory), {"_file": ["Not a directory."]})
    problems: dict[str, list[str]] = {}
    by_slug: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            definition = load_checklist_file(path)
        except ChecklistFileError as error:
            problems.update(error.fields or {})
            continue
        slug = definition["slug"]
        if slug in by_slug:
            problems[f"{path}:slug"] = [f"Slug '{slug}' is already used by {by_slug[slug][0]}."]
            continue
        by_slug[slug] = (path, definition)
    if problems:
        raise _error(problems)
    return [by_slug[slug][1] for slug in sorted(by_slug)]


def canonical_json(definition: Mapping[str, Any]) -> str:
    """Serialise a definition canonically: sorted keys, compact separators, UTF-8 text."""
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(definition: Mapping[str, Any]) -> str:
    """Return the sha256 hex digest of the definition's canonical JSON."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def item_index(definition: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Map each item id to its (section, item) pair."""
    return {
        item["id"]: (section, item)
        for section in definition["sections"]
        for item in section["items"]
    }
