"""The shape of a visit as phones push it (contract: "Visits (push)")."""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldobs.stored_integers import StoredInteger, is_stored_integer
from fieldobs.timeutil import parse_rfc3339

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
    version = StoredInteger(required=True, strict=True, validate=validate.Range(min=1))


class PhotoManifestSchema(Schema):
    id = PhoneUUID(required=True)
    sha256 = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$", error="must be 64 lowercase hex digits"),
    )
    size = StoredInteger(required=True, strict=True, validate=validate.Range(min=1))
    content_type = fields.String(required=True, validate=validate.OneOf(PHOTO_TYPES))
    item = fields.String(allow_none=True)


class VisitSchema(Schema):
    id = PhoneUUID(required=True)
    revision = StoredInteger(required=True, strict=True, validate=validate.Range(min=1))
    checklist = fields.Nested(ChecklistRefSchema, required=True)
    location_id = StoredInteger(required=True, strict=True)
    assignment_id = StoredInteger(strict=True, allow_none=True)
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


# --- the common case without the schema machinery -----------------------------------------------


def _field_names(schema: Schema) -> tuple[frozenset[str], frozenset[str]]:
    """Return a schema's field names and the required ones among them."""
    fields_ = schema.fields
    return frozenset(fields_), frozenset(name for name, f in fields_.items() if f.required)


_VISIT_KEYS, _REQUIRED_KEYS = _field_names(VisitSchema())
_PHOTO_KEYS, _PHOTO_REQUIRED = _field_names(PhotoManifestSchema())
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PHOTO_TYPE_SET = frozenset(PHOTO_TYPES)


def load_plain_visit(raw: Any) -> dict[str, Any] | None:
    """Return what VisitSchema would load from a plainly valid visit, else None."""
    # Batches carry hundreds of visits and the schema costs ~130 µs for each; this returns
    # None at the first doubt, and the schema then loads the visit or says what is wrong.
    # tests/test_visit_loading.py checks that both agree.
    if type(raw) is not dict or not _REQUIRED_KEYS.issubset(raw) or not _VISIT_KEYS.issuperset(raw):
        return None
    visit_id = _random_uuid(raw["id"])
    checklist = raw["checklist"]
    if (
        visit_id is None
        or not _positive_int(raw["revision"])
        or type(checklist) is not dict
        or checklist.keys() != {"slug", "version"}
        or type(checklist["slug"]) is not str
        or not 1 <= len(checklist["slug"]) <= 100
        or not _positive_int(checklist["version"])
        or not is_stored_integer(raw["location_id"])
        or not (raw.get("assignment_id") is None or is_stored_integer(raw["assignment_id"]))
        or type(raw["answers"]) is not list
        or not _in_order(raw["started_at"], raw["finished_at"])
    ):
        return None
    notes = raw.get("notes")
    if notes is not None and (type(notes) is not str or len(notes) > 20_000):
        return None
    photos = _plain_photos(raw.get("photos", []))
    if photos is None:
        return None
    return {**raw, "id": visit_id, "checklist": dict(checklist), "photos": photos}


def _positive_int(value: Any) -> bool:
    return is_stored_integer(value) and value >= 1


def _random_uuid(value: Any) -> str | None:
    if type(value) is not str:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return None if parsed.version == 1 else str(parsed)


def _in_order(started: Any, finished: Any) -> bool:
    if type(started) is not str or type(finished) is not str:
        return False
    try:
        return parse_rfc3339(started) <= parse_rfc3339(finished)
    except ValueError:
        return False


def _plain_photos(photos: Any) -> list[dict[str, Any]] | None:
    if type(photos) is not list:
        return None
    loaded, seen = [], set()
    for photo in photos:
        if (
            type(photo) is not dict
            or not _PHOTO_REQUIRED.issubset(photo)
            or not _PHOTO_KEYS.issuperset(photo)
        ):
            return None
        photo_id = _random_uuid(photo["id"])
        sha256, item = photo["sha256"], photo.get("item")
        if (
            photo_id is None
            or photo_id in seen
            or type(sha256) is not str
            or not _SHA256.fullmatch(sha256)
            or not _positive_int(photo["size"])
            or type(photo["content_type"]) is not str
            or photo["content_type"] not in _PHOTO_TYPE_SET
            or type(item) not in (str, type(None))
        ):
            return None
        seen.add(photo_id)
        loaded.append({**photo, "id": photo_id})
    return loaded
