"""Checklist items: one schema per item type, dispatched on `type`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from fieldobs.checklists.format.fields import (
    CheckedField,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    StrictSchema,
    Text,
    TrimmedString,
    non_negative,
    pattern,
    positive,
)
from fieldobs.checklists.format.rules import (
    DEFAULT_TEXT_MAX_LENGTH,
    ITEM_ID_PATTERN,
    ITEM_TYPES,
    MAX_TEXT_MAX_LENGTH,
    OPTION_ID_PATTERN,
    PHOTO_SETTINGS,
    is_scored,
)


class ItemSchema(StrictSchema):
    """Keys shared by every item type."""

    id = fields.String(required=True, validate=pattern(ITEM_ID_PATTERN, "greeting.eye_contact"))
    prompt = Text(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ITEM_TYPES))
    weight = StrictNumber(load_default=1.0, validate=positive())
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

    id = fields.String(required=True, validate=pattern(OPTION_ID_PATTERN, "verbal_welcome"))
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

    target = StrictNumber(required=True, validate=non_negative())
    limit = StrictNumber(required=True, validate=non_negative())

    @validates_schema
    def check_thresholds(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require target < limit: a duration is always better short."""
        if data["target"] >= data["limit"]:
            raise ValidationError("Must be greater than target.", "limit")


class NumberItemSchema(ItemSchema):
    """A count or measure >= 0; scored only with both `target` and `limit` (either direction)."""

    target = StrictNumber(load_default=None, validate=non_negative())
    limit = StrictNumber(load_default=None, validate=non_negative())
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

    max_length = StrictInteger(
        load_default=DEFAULT_TEXT_MAX_LENGTH,
        validate=validate.Range(
            min=1, max=MAX_TEXT_MAX_LENGTH, error=f"Must be 1 to {MAX_TEXT_MAX_LENGTH}."
        ),
    )


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
