"""The shape of a visit as phones push it (contract: "Visits (push)").

The rules are written twice, for speed: `VisitSchema` (which words every problem) and
`load_plain_visit` (the batch fast path, which only says yes or "ask the schema"). Both read
the limits and patterns below, and tests/visits/test_visit_loading.py holds them equal.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldobs.scoring.answers import MAX_ANSWER_PHOTOS, MAX_COMMENT_LENGTH
from fieldobs.stored_integers import StoredInteger, is_stored_integer

# Limits of one pushed visit, shared by VisitSchema and load_plain_visit (and the OpenAPI
# document). A bounded list is refused by its length before any of its entries is read.
MAX_PHOTOS = 1000  # photo manifest entries
MAX_ANSWERS = 1000  # answers (a checklist has far fewer items)
MAX_NOTES_LENGTH = 20_000
MAX_SLUG_LENGTH = 100
MAX_ITEM_ID_LENGTH = 200  # photos[].item
PHOTO_TYPES = ("image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/avif")
SHA256_PATTERN = r"[0-9a-f]{64}"
# RFC 3339 date-time (section 5.6) with an offset; ISO 8601's other forms (week dates,
# ordinal dates, no seconds, basic format) are refused, as the contract says.
RFC3339_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
RFC3339 = re.compile(RFC3339_PATTERN, re.ASCII)
# Versions 1, 6 and 7 embed the time they were made (1 also the device's hardware address).
RANDOM_UUID_VERSIONS = frozenset({4})
UUID_VERSION_ERROR = "must be a random UUID (version 4); versions 1, 6 and 7 reveal when or where"
SURROGATE_ERROR = "must be valid Unicode text (a lone UTF-16 surrogate is not)"


def has_lone_surrogate(text: str) -> bool:
    """Tell whether a string holds a lone UTF-16 surrogate, which no UTF-8 text can carry."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate_paths(value: Any, path: str = "") -> list[str]:
    """Return the field path of every string (or key) in JSON data holding a lone surrogate."""
    found: list[str] = []
    if isinstance(value, str):
        if has_lone_surrogate(value):
            found.append(path or "_schema")
    elif isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and has_lone_surrogate(key):
                found.append(child_path)
            else:
                found.extend(lone_surrogate_paths(child, child_path))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(lone_surrogate_paths(child, f"{path}.{index}" if path else str(index)))
    return found


def parse_device_time(text: str) -> datetime:
    """Parse an RFC 3339 time with an offset that has a UTC equivalent; ValueError otherwise."""
    if not RFC3339.fullmatch(text):
        raise ValueError("not RFC 3339")
    moment = datetime.fromisoformat(text.upper())
    try:
        # 0001-01-01T00:00:00+01:00 is a valid text but lies before year 1 in UTC.
        moment.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("out of range in UTC") from error
    return moment


class CleanString(fields.String):
    """A string that UTF-8 can carry: a lone surrogate is refused by name, never stored."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if has_lone_surrogate(text):
            raise ValidationError(SURROGATE_ERROR)
        return text


_Entry = TypeVar("_Entry")


class BoundedList(fields.List[_Entry]):
    """A list refused by its length before its entries are read (validation stays linear)."""

    def __init__(
        self,
        cls_or_instance: fields.Field[_Entry] | type[fields.Field[_Entry]],
        *,
        max_items: int,
        **kwargs: Any,
    ) -> None:
        self.max_items = max_items
        super().__init__(cls_or_instance, validate=validate.Length(max=max_items), **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> list[_Entry | None]:
        if isinstance(value, list) and len(value) > self.max_items:
            raise ValidationError(f"at most {self.max_items} entries")
        return super()._deserialize(value, attr, data, **kwargs)


class PhoneUUID(fields.String):
    """A random UUID made on the phone, normalised to lowercase hyphenated form."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = uuid.UUID(text)
        except ValueError as error:
            raise ValidationError("must be a UUID") from error
        if parsed.version not in RANDOM_UUID_VERSIONS:
            raise ValidationError(UUID_VERSION_ERROR)
        return str(parsed)


class Timestamp(fields.String):
    """An RFC 3339 timestamp with an offset, kept exactly as sent."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {"format": "date-time", **kwargs.get("metadata", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_device_time(text)
        except ValueError as error:
            raise ValidationError(
                "must be RFC 3339 with an offset, e.g. 2026-11-23T10:15:00Z"
            ) from error
        return text


def _check_answers(value: Any) -> None:
    if not isinstance(value, list):
        raise ValidationError("must be a list of answers")
    if len(value) > MAX_ANSWERS:
        raise ValidationError(f"at most {MAX_ANSWERS} entries")


class ChecklistRefSchema(Schema):
    slug = CleanString(required=True, validate=validate.Length(min=1, max=MAX_SLUG_LENGTH))
    version = StoredInteger(required=True, strict=True, validate=validate.Range(min=1))


class PhotoManifestSchema(Schema):
    id = PhoneUUID(required=True, metadata={"format": "uuid"})
    sha256 = fields.String(
        required=True,
        validate=validate.Regexp(f"^{SHA256_PATTERN}$", error="must be 64 lowercase hex digits"),
    )
    size = StoredInteger(required=True, strict=True, validate=validate.Range(min=1))
    content_type = fields.String(required=True, validate=validate.OneOf(PHOTO_TYPES))
    item = CleanString(allow_none=True, validate=validate.Length(max=MAX_ITEM_ID_LENGTH))


ANSWERS_DOC = {
    "type": "array",
    "maxItems": MAX_ANSWERS,
    "items": {
        "type": "object",
        "properties": {
            "item": {"type": "string"},
            "value": {"description": "Typed by the item: boolean, integer, number, string"},
            "na": {"type": "boolean"},
            "comment": {"type": "string", "maxLength": MAX_COMMENT_LENGTH},
            "photos": {
                "type": "array",
                "maxItems": MAX_ANSWER_PHOTOS,
                "items": {"type": "string", "format": "uuid"},
            },
        },
    },
    "description": (
        'Each {"item", "value", "na"?, "comment"?, "photos"?: [photo_id]}; a text value is at'
        " most its item's max_length characters."
    ),
}


class VisitSchema(Schema):
    id = PhoneUUID(required=True, metadata={"format": "uuid"})
    revision = StoredInteger(required=True, strict=True, validate=validate.Range(min=1))
    checklist = fields.Nested(ChecklistRefSchema, required=True)
    location_id = StoredInteger(required=True, strict=True)
    assignment_id = StoredInteger(strict=True, allow_none=True)
    started_at = Timestamp(required=True)
    finished_at = Timestamp(required=True)
    # Each answer's keys and value are checked against the checklist item it names
    # (fieldobs/scoring/answers.py), which knows the item's type; a nested schema here would
    # only repeat that work on the hot path.
    answers = fields.Raw(required=True, validate=_check_answers, metadata=ANSWERS_DOC)
    photos = BoundedList(
        fields.Nested(PhotoManifestSchema), max_items=MAX_PHOTOS, load_default=list
    )
    notes = CleanString(allow_none=True, validate=validate.Length(max=MAX_NOTES_LENGTH))

    # Run even when a field is bad: one 422 names every bad field.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _check_times_photos_and_text(
        self, data: dict[str, Any], original: Any, **_kwargs: Any
    ) -> None:
        errors: dict[str, list[str]] = {}
        started, finished = data.get("started_at"), data.get("finished_at")
        if started and finished and parse_device_time(finished) < parse_device_time(started):
            errors["finished_at"] = ["must not be before started_at"]
        # Counted, not compared pairwise: a long manifest costs linear time.
        counts = Counter(photo.get("id") for photo in data.get("photos") or [])
        duplicates = sorted(i for i, count in counts.items() if count > 1 and i is not None)
        if duplicates:
            errors["photos"] = [f"photo id {i} is listed twice" for i in duplicates]
        answers = original.get("answers") if isinstance(original, dict) else None
        if isinstance(answers, list) and len(answers) <= MAX_ANSWERS:
            for path in lone_surrogate_paths(answers, "answers"):
                errors.setdefault(path, []).append(SURROGATE_ERROR)
        if errors:
            raise ValidationError(errors)


# --- the common case without the schema machinery -----------------------------------------------
# The same rules as VisitSchema above, from the same constants; None at the first doubt.


def _field_names(schema: Schema) -> tuple[frozenset[str], frozenset[str]]:
    """Return a schema's field names and the required ones among them."""
    fields_ = schema.fields
    return frozenset(fields_), frozenset(name for name, f in fields_.items() if f.required)


_VISIT_KEYS, _REQUIRED_KEYS = _field_names(VisitSchema())
_PHOTO_KEYS, _PHOTO_REQUIRED = _field_names(PhotoManifestSchema())
_SHA256 = re.compile(SHA256_PATTERN)
_PHOTO_TYPE_SET = frozenset(PHOTO_TYPES)


def load_plain_visit(raw: Any) -> dict[str, Any] | None:
    """Return what VisitSchema would load from a plainly valid visit, else None."""
    # Batches carry hundreds of visits and the schema costs ~130 µs for each; this returns
    # None at the first doubt, and the schema then loads the visit or says what is wrong.
    # Strings inside answers are checked for surrogates where the visit is fingerprinted.
    if type(raw) is not dict or not _REQUIRED_KEYS.issubset(raw) or not _VISIT_KEYS.issuperset(raw):
        return None
    visit_id = _random_uuid(raw["id"])
    checklist = raw["checklist"]
    if (
        visit_id is None
        or not _positive_int(raw["revision"])
        or type(checklist) is not dict
        or checklist.keys() != {"slug", "version"}
        or not _clean_text(checklist["slug"], MAX_SLUG_LENGTH)
        or not checklist["slug"]
        or not _positive_int(checklist["version"])
        or not is_stored_integer(raw["location_id"])
        or not (raw.get("assignment_id") is None or is_stored_integer(raw["assignment_id"]))
        or type(raw["answers"]) is not list
        or len(raw["answers"]) > MAX_ANSWERS
        or not _in_order(raw["started_at"], raw["finished_at"])
    ):
        return None
    notes = raw.get("notes")
    if notes is not None and not _clean_text(notes, MAX_NOTES_LENGTH):
        return None
    photos = _plain_photos(raw.get("photos", []))
    if photos is None:
        return None
    return {**raw, "id": visit_id, "checklist": dict(checklist), "photos": photos}


def _positive_int(value: Any) -> bool:
    return is_stored_integer(value) and value >= 1


def _clean_text(value: Any, max_length: int) -> bool:
    return type(value) is str and len(value) <= max_length and not has_lone_surrogate(value)


def _random_uuid(value: Any) -> str | None:
    if type(value) is not str:
        return None
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    return str(parsed) if parsed.version in RANDOM_UUID_VERSIONS else None


def _in_order(started: Any, finished: Any) -> bool:
    if type(started) is not str or type(finished) is not str:
        return False
    try:
        return parse_device_time(started) <= parse_device_time(finished)
    except ValueError:
        return False


def _plain_photos(photos: Any) -> list[dict[str, Any]] | None:
    if type(photos) is not list or len(photos) > MAX_PHOTOS:
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
            or not (item is None or _clean_text(item, MAX_ITEM_ID_LENGTH))
        ):
            return None
        seen.add(photo_id)
        loaded.append({**photo, "id": photo_id})
    return loaded
