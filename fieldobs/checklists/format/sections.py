"""Sections and the whole checklist file."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from fieldobs.checklists.format.fields import (
    StrictNumber,
    StrictSchema,
    Text,
    TrimmedString,
    pattern,
    positive,
)
from fieldobs.checklists.format.items import ItemField
from fieldobs.checklists.format.rules import (
    CRITICAL_ZEROES,
    KINDS,
    SECTION_ID_PATTERN,
    SLUG_PATTERN,
)


class SectionSchema(StrictSchema):
    """A weighted group of items."""

    id = fields.String(required=True, validate=pattern(SECTION_ID_PATTERN, "greeting"))
    title = Text(required=True)
    weight = StrictNumber(load_default=1.0, validate=positive())
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

    slug = fields.String(required=True, validate=pattern(SLUG_PATTERN, "mystery-shop"))
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
