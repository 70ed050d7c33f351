"""Validation of a visit's answers against the checklist version it was made with.

Problems are keyed by field path (`answers.3.value`, `answers.3.photos.0`, and `answers` for a
required item nobody answered) so the API can return them as the contract's `fields`.

Written twice, for speed: `fieldobs/scoring/plan.py` accepts only what this accepts, and gives
up at the first doubt so that this words every problem (tests/scoring/test_scoring_plan.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal

from fieldobs.checklists.format import item_index

ANSWER_KEYS = frozenset({"item", "value", "na", "comment", "photos"})
# Limits of one answer. The plan's fast check (fieldobs/scoring/plan.py) applies the same ones,
# and the visit schema (fieldobs/visits/schema.py) documents them.
MAX_COMMENT_LENGTH = 5_000
MAX_ANSWER_PHOTOS = 1000

AnswerState = Literal["na", "blank", "answered"]


def answer_state(item: Mapping[str, Any], answer: Mapping[str, Any] | None) -> AnswerState:
    """Classify an answer as N/A, blank (counts as unanswered) or answered."""
    if answer is None:
        return "blank"
    if answer.get("na") is True:
        return "na"
    if item["type"] == "photo":
        # A photo item's answer is its photos: none attached means nothing was observed.
        return "answered" if answer.get("photos") else "blank"
    return "blank" if answer.get("value") is None else "answered"


def validate_answers(
    definition: Mapping[str, Any], answers: Sequence[Any], photo_ids: AbstractSet[str]
) -> dict[str, list[str]]:
    """Return the problems of a visit's answers by field path; {} when they are valid."""
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        return {"answers": ["must be a list of answers"]}
    items = {item_id: item for item_id, (_, item) in item_index(definition).items()}
    problems: dict[str, list[str]] = {}
    first_seen: dict[str, int] = {}
    for position, answer in enumerate(answers):
        _check_answer(answer, position, items, first_seen, photo_ids, problems)
    for item_id, item in items.items():
        if item["required"] and item_id not in first_seen:
            _add(problems, "answers", f"missing required answer for item '{item_id}'")
    return problems


def _add(problems: dict[str, list[str]], path: str, problem: str) -> None:
    """Record one problem under a field path."""
    problems.setdefault(path, []).append(problem)


def _check_answer(
    answer: Any,
    position: int,
    items: Mapping[str, Mapping[str, Any]],
    first_seen: dict[str, int],
    photo_ids: AbstractSet[str],
    problems: dict[str, list[str]],
) -> None:
    """Check one answer: its keys, its item, N/A, value, comment and photos."""
    path = f"answers.{position}"
    # JSON gives dicts: the exact type check spares the slower ABC check on the hot path.
    if type(answer) is not dict and not isinstance(answer, Mapping):
        _add(problems, path, "must be an object")
        return
    if not ANSWER_KEYS.issuperset(answer):
        for key in sorted(set(answer) - ANSWER_KEYS, key=str):
            _add(problems, f"{path}.{key}", "unknown field")
    item = _check_item_ref(answer, position, items, first_seen, problems)
    if item is None:
        return
    na = _check_na(answer, path, item, problems)
    if na is None:
        return  # a misused `na` leaves the observer's intent unclear: one problem is enough
    if na:
        if answer.get("value") is not None:
            _add(problems, f"{path}.value", "must be null or absent when na is true")
    else:
        _check_value(answer, path, item, problems)
    _check_comment(answer, path, problems)
    _check_photos(answer, path, item, na, photo_ids, problems)


def _check_item_ref(
    answer: Mapping[str, Any],
    position: int,
    items: Mapping[str, Mapping[str, Any]],
    first_seen: dict[str, int],
    problems: dict[str, list[str]],
) -> Mapping[str, Any] | None:
    """Return the answered item, or None after recording why it cannot be used."""
    path = f"answers.{position}"
    item_id = answer.get("item")
    if item_id is None:
        _add(problems, f"{path}.item", "missing data for required field")
        return None
    if not isinstance(item_id, str):
        _add(problems, f"{path}.item", "must be a string")
        return None
    if item_id not in items:
        _add(problems, f"{path}.item", f"unknown item '{item_id}'")
        return None
    if item_id in first_seen:
        first = f"answers.{first_seen[item_id]}"
        _add(problems, f"{path}.item", f"duplicate answer for item '{item_id}' (first at {first})")
        return None
    first_seen[item_id] = position
    return items[item_id]


def _check_na(
    answer: Mapping[str, Any], path: str, item: Mapping[str, Any], problems: dict[str, list[str]]
) -> bool | None:
    """Return whether the answer is N/A; None (after recording why) when `na` is misused."""
    na = answer.get("na")
    if na is None or na is False:
        return False
    if na is not True:
        _add(problems, f"{path}.na", "must be true or false")
        return None
    if not item["allow_na"]:
        _add(problems, f"{path}.na", f"item '{item['id']}' does not allow N/A")
        return None
    return True


def _check_value(
    answer: Mapping[str, Any], path: str, item: Mapping[str, Any], problems: dict[str, list[str]]
) -> None:
    """Check the value against the item's type; a null value is a blank answer."""
    value = answer.get("value")
    if item["type"] == "photo":
        if value is not None:
            _add(problems, f"{path}.value", "a photo item takes no value: attach photos instead")
        return
    if value is None:
        if item["required"]:
            _add(
                problems,
                f"{path}.value",
                f"item '{item['id']}' is required: give a value or set na to true",
            )
        return
    problem = _value_problem(item, value)
    if problem:
        _add(problems, f"{path}.value", problem)


def _is_number(value: Any) -> bool:
    """Tell whether a JSON value is a finite number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float (valid JSON) measures nothing
        return False


def _value_problem(item: Mapping[str, Any], value: Any) -> str | None:
    """Return what is wrong with a non-null value for this item, or None."""
    kind = item["type"]
    if kind == "yes_no":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "scale":
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if not item["min"] <= value <= item["max"]:
            return f"must be between {item['min']} and {item['max']}"
        return None
    if kind == "choice":
        option_ids = [option["id"] for option in item["options"]]
        if not isinstance(value, str) or value not in option_ids:
            return f"must be one of: {', '.join(option_ids)}"
        return None
    if kind in ("duration", "number"):
        if not _is_number(value):
            return "must be a number"
        return "must be 0 or more" if value < 0 else None
    if kind == "text":
        if not isinstance(value, str):
            return "must be a string"
        if len(value) > item["max_length"]:
            return f"must be at most {item['max_length']} characters"
        return None
    return f"unsupported item type '{kind}'"


def _check_comment(answer: Mapping[str, Any], path: str, problems: dict[str, list[str]]) -> None:
    """Require a comment, when given, to be a string of at most MAX_COMMENT_LENGTH."""
    comment = answer.get("comment")
    if comment is not None and not isinstance(comment, str):
        _add(problems, f"{path}.comment", "must be a string")
    elif comment is not None and len(comment) > MAX_COMMENT_LENGTH:
        _add(problems, f"{path}.comment", f"must be at most {MAX_COMMENT_LENGTH} characters")


def _expects_photo(item: Mapping[str, Any], answer: Mapping[str, Any], na: bool) -> bool:
    """Tell whether a photo-required item's answer must carry a photo."""
    if na:
        return False
    if item["type"] == "photo":
        # For a photo item the photos are the answer: only an optional one may be left blank.
        return bool(item["required"])
    # A blank answer (only a comment, say) is no observation; its value error says enough.
    return answer_state(item, answer) == "answered"


def _check_photos(
    answer: Mapping[str, Any],
    path: str,
    item: Mapping[str, Any],
    na: bool,
    photo_ids: AbstractSet[str],
    problems: dict[str, list[str]],
) -> None:
    """Check the answer's photos against the item's photo setting and the visit's manifest."""
    photos = answer.get("photos")
    if photos is None:
        if item["photo"] != "required":
            return  # the common case: no photos, none needed
        photos = []
    if not isinstance(photos, list):
        _add(problems, f"{path}.photos", "must be a list of photo ids")
        return
    if len(photos) > MAX_ANSWER_PHOTOS:
        _add(problems, f"{path}.photos", f"at most {MAX_ANSWER_PHOTOS} entries")
        return
    if photos and item["photo"] == "none":
        _add(problems, f"{path}.photos", f"item '{item['id']}' does not take photos")
        return
    seen: set[str] = set()
    for index, photo_id in enumerate(photos):
        photo_path = f"{path}.photos.{index}"
        if not isinstance(photo_id, str):
            _add(problems, photo_path, "must be a photo id (a string)")
        elif photo_id in seen:
            _add(problems, photo_path, f"photo '{photo_id}' is listed twice")
        elif photo_id not in photo_ids:
            _add(problems, photo_path, f"photo '{photo_id}' is not in the visit's photo manifest")
        else:
            seen.add(photo_id)
    if item["photo"] == "required" and not photos and _expects_photo(item, answer, na):
        _add(problems, f"{path}.photos", f"item '{item['id']}' requires at least one photo")
