"""The shape of a visit as phones push it (contract: "Visits (push)")."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .timeutil import parse_rfc3339

PHOTO_TYPES = ("image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/avif")


class PhoneUUID(fields.String):
    """A UUID made on the phone, normalised to lowercase hyphenated form."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = uuid.UUID(text)
        except ValueError as error:
            raise ValidationError("must be a UUID") from error
        if parsed.version == 1:
            # A version-1 UUID carries the phone's hardware address: it would identify the shopper.
            raise ValidationError("must be a random UUID (version 4); version 1 reveals the device")
        return str(parsed)


class Timestamp(fields.String):
    """An RFC 3339 timestamp with an offset, kept exactly as sent."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_rfc3339(text)
        except ValueError as error:
            raise ValidationError(
                "must be RFC 3339 with an offset, e.g. 2026-11-23T10:15:00Z"
            ) from error
        return text


def _must_be_list(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("must be a list of answers")


class ChecklistRefSchema(Schema):
    slug = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class PhotoManifestSchema(Schema):
    id = PhoneUUID(required=True)
    sha256 = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits"),
    )
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    content_type = fields.String(required=True, validate=validate.OneOf(PHOTO_TYPES))
    item = fields.String(allow_none=True)


class VisitSchema(Schema):
    id = PhoneUUID(required=True)
    revision = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    checklist = fields.Nested(ChecklistRefSchema, required=True)
    location_id = fields.Integer(required=True, strict=True)
    assignment_id = fields.Integer(strict=True, allow_none=True)
    started_at = Timestamp(required=True)
    finished_at = Timestamp(required=True)
    # Each answer's keys and value are checked against the checklist item it names
    # (fieldobs/answers.py), which knows the item's type; a nested schema here would only
    # repeat that work on the hot path.
    answers = fields.Raw(
        required=True,
        validate=_must_be_list,
        metadata={
            "type": "array",
            "items": {"type": "object"},
            "description": 'Each {"item", "value", "na"?, "comment"?, "photos"?: [photo_id]}',
        },
    )
    photos = fields.List(fields.Nested(PhotoManifestSchema), load_default=list)
    notes = fields.String(allow_none=True, validate=validate.Length(max=20_000))

    @validates_schema
    def _check_times_and_photos(self, data: dict[str, Any], **_kwargs: Any) -> None:
        started, finished = data.get("started_at"), data.get("finished_at")
        if started and finished and parse_rfc3339(finished) < parse_rfc3339(started):
            raise ValidationError("must not be before started_at", "finished_at")
        ids = [photo["id"] for photo in data.get("photos", [])]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValidationError([f"photo id {i} is listed twice" for i in duplicates], "photos")
