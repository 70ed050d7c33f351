"""What a published checklist looks like on the wire (the format is checklists/README.md)."""

from __future__ import annotations

from marshmallow import Schema, fields

from fieldobs.stored_integers import StoredInteger

TYPE_ONLY = "only for items of type {}"


class ChoiceOptionSchema(Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    score = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Fraction of the weight, 0 to 1; null: informational"},
    )


class ChecklistItemSchema(Schema):
    """One item; the keys after `guidance` belong to some item types only."""

    id = fields.String(required=True)
    prompt = fields.String(required=True)
    type = fields.String(
        required=True,
        metadata={"enum": ["yes_no", "scale", "choice", "duration", "number", "text", "photo"]},
    )
    weight = fields.Float(required=True)
    critical = fields.Boolean(required=True)
    allow_na = fields.Boolean(required=True)
    required = fields.Boolean(required=True)
    photo = fields.String(required=True, metadata={"description": "none, optional or required"})
    guidance = fields.String(required=True)
    min = fields.Integer(metadata={"description": TYPE_ONLY.format("scale")})
    max = fields.Integer(metadata={"description": TYPE_ONLY.format("scale")})
    # Keys are the scale's values ("1", "5"): as many as the file labels.
    labels = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "scale only: {value: label}"},
    )
    options = fields.List(
        fields.Nested(ChoiceOptionSchema), metadata={"description": TYPE_ONLY.format("choice")}
    )
    target = fields.Float(
        allow_none=True, metadata={"description": TYPE_ONLY.format("duration and number")}
    )
    limit = fields.Float(
        allow_none=True, metadata={"description": TYPE_ONLY.format("duration and number")}
    )
    unit = fields.String(metadata={"description": TYPE_ONLY.format("number")})
    max_length = fields.Integer(metadata={"description": TYPE_ONLY.format("text")})


class ChecklistSectionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    weight = fields.Float(required=True)
    description = fields.String(required=True)
    items = fields.List(fields.Nested(ChecklistItemSchema), required=True)


class ChecklistOutSchema(Schema):
    """One published, immutable checklist version."""

    slug = fields.String(required=True)
    version = StoredInteger(required=True)
    title = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["mystery_shop", "walkthrough"]})
    description = fields.String(required=True)
    critical_zeroes = fields.String(required=True, metadata={"enum": ["section", "visit"]})
    published_at = fields.String(required=True, metadata={"format": "date-time"})
    sections = fields.List(fields.Nested(ChecklistSectionSchema), required=True)


class ChecklistListSchema(Schema):
    checklists = fields.List(fields.Nested(ChecklistOutSchema), required=True)
