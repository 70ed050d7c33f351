"""Answers for tests: valid and one-problem sets for a small checklist, a full mystery shop."""

from __future__ import annotations

from typing import Any

from fieldobs.scoring.answers import MAX_ANSWER_PHOTOS, MAX_COMMENT_LENGTH
from tests.helpers.checklist_files import item_of, minimal

PHOTOS = {"p1", "p2"}


def fixture_data() -> dict[str, Any]:
    """Return the raw minimal checklist with a few settings worth validating."""
    data = minimal()
    item_of(data, 0, 0)["allow_na"] = True  # greeting.acknowledged
    item_of(data, 0, 0)["photo"] = "optional"
    item_of(data, 0, 3)["photo"] = "required"  # greeting.wait
    item_of(data, 1, 1)["max_length"] = 10  # notes.summary
    return data


def valid_answers() -> list[dict[str, Any]]:
    """Return a complete, valid set of answers for the fixture checklist."""
    return [
        {"item": "greeting.acknowledged", "value": True, "comment": "Quick hello"},
        {"item": "greeting.mood", "value": 4},
        {"item": "greeting.welcome", "value": "warm"},
        {"item": "greeting.wait", "value": 12.5, "photos": ["p1"]},
        {"item": "notes.queue", "value": 3},
        {"item": "notes.summary", "value": "Fine."},
        {"item": "notes.photo", "photos": ["p1", "p2"]},
    ]


# Each case replaces answer 0..6 of valid_answers() (or appends one) and expects one problem.
BAD: list[tuple[str, int | None, dict[str, Any] | Any, str, str]] = [
    ("not an object", 0, "yes", "answers.0", "must be an object"),
    (
        "unknown key",
        1,
        {"item": "greeting.mood", "value": 3, "score": 1},
        "answers.1.score",
        "unknown field",
    ),
    ("no item", 1, {"value": 3}, "answers.1.item", "missing data"),
    ("item not text", 1, {"item": 7, "value": 3}, "answers.1.item", "must be a string"),
    (
        "unknown item",
        None,
        {"item": "greeting.smile", "value": True},
        "answers.7.item",
        "unknown item 'greeting.smile'",
    ),
    (
        "duplicate",
        None,
        {"item": "greeting.mood", "value": 2},
        "answers.7.item",
        "duplicate answer for item 'greeting.mood' (first at answers.1)",
    ),
    (
        "yes_no as text",
        0,
        {"item": "greeting.acknowledged", "value": "yes"},
        "answers.0.value",
        "must be true or false",
    ),
    (
        "yes_no as int",
        0,
        {"item": "greeting.acknowledged", "value": 1},
        "answers.0.value",
        "must be true or false",
    ),
    (
        "scale float",
        1,
        {"item": "greeting.mood", "value": 3.0},
        "answers.1.value",
        "must be an integer",
    ),
    (
        "scale bool",
        1,
        {"item": "greeting.mood", "value": True},
        "answers.1.value",
        "must be an integer",
    ),
    (
        "scale too high",
        1,
        {"item": "greeting.mood", "value": 6},
        "answers.1.value",
        "must be between 1 and 5",
    ),
    (
        "scale too low",
        1,
        {"item": "greeting.mood", "value": 0},
        "answers.1.value",
        "must be between 1 and 5",
    ),
    (
        "unknown option",
        2,
        {"item": "greeting.welcome", "value": "cold"},
        "answers.2.value",
        "must be one of: warm, none",
    ),
    (
        "duration negative",
        3,
        {"item": "greeting.wait", "value": -1, "photos": ["p1"]},
        "answers.3.value",
        "must be 0 or more",
    ),
    (
        "duration text",
        3,
        {"item": "greeting.wait", "value": "10", "photos": ["p1"]},
        "answers.3.value",
        "must be a number",
    ),
    (
        "number bool",
        4,
        {"item": "notes.queue", "value": False},
        "answers.4.value",
        "must be a number",
    ),
    (
        "number infinite",
        4,
        {"item": "notes.queue", "value": float("inf")},
        "answers.4.value",
        "must be a number",
    ),
    (
        # Valid JSON, but beyond any float: no measurement, and no 500 either.
        "number beyond float",
        4,
        {"item": "notes.queue", "value": 10**400},
        "answers.4.value",
        "must be a number",
    ),
    (
        "text number",
        5,
        {"item": "notes.summary", "value": 5},
        "answers.5.value",
        "must be a string",
    ),
    (
        "text too long",
        5,
        {"item": "notes.summary", "value": "x" * 11},
        "answers.5.value",
        "at most 10 characters",
    ),
    (
        "photo item value",
        6,
        {"item": "notes.photo", "value": "p1", "photos": ["p1"]},
        "answers.6.value",
        "takes no value",
    ),
    (
        "required blank",
        1,
        {"item": "greeting.mood", "value": None},
        "answers.1.value",
        "item 'greeting.mood' is required: give a value or set na to true",
    ),
    (
        "na not allowed",
        1,
        {"item": "greeting.mood", "na": True},
        "answers.1.na",
        "item 'greeting.mood' does not allow N/A",
    ),
    (
        "na not bool",
        0,
        {"item": "greeting.acknowledged", "value": True, "na": "no"},
        "answers.0.na",
        "must be true or false",
    ),
    (
        "na with value",
        0,
        {"item": "greeting.acknowledged", "value": True, "na": True},
        "answers.0.value",
        "must be null or absent when na is true",
    ),
    (
        "comment not text",
        0,
        {"item": "greeting.acknowledged", "value": True, "comment": 3},
        "answers.0.comment",
        "must be a string",
    ),
    (
        "comment too long",
        0,
        {"item": "greeting.acknowledged", "value": True, "comment": "x" * (MAX_COMMENT_LENGTH + 1)},
        "answers.0.comment",
        f"must be at most {MAX_COMMENT_LENGTH} characters",
    ),
    (
        "too many photos",
        6,
        {"item": "notes.photo", "photos": [f"p{n}" for n in range(MAX_ANSWER_PHOTOS + 1)]},
        "answers.6.photos",
        f"at most {MAX_ANSWER_PHOTOS} entries",
    ),
    (
        "photos not list",
        0,
        {"item": "greeting.acknowledged", "value": True, "photos": "p1"},
        "answers.0.photos",
        "must be a list of photo ids",
    ),
    (
        "photo not allowed",
        1,
        {"item": "greeting.mood", "value": 3, "photos": ["p1"]},
        "answers.1.photos",
        "item 'greeting.mood' does not take photos",
    ),
    (
        "photo required",
        3,
        {"item": "greeting.wait", "value": 10},
        "answers.3.photos",
        "item 'greeting.wait' requires at least one photo",
    ),
    (
        "photo not in manifest",
        3,
        {"item": "greeting.wait", "value": 10, "photos": ["p9"]},
        "answers.3.photos.0",
        "photo 'p9' is not in the visit's photo manifest",
    ),
    (
        "photo twice",
        3,
        {"item": "greeting.wait", "value": 10, "photos": ["p1", "p1"]},
        "answers.3.photos.1",
        "photo 'p1' is listed twice",
    ),
    (
        "photo id not text",
        0,
        {"item": "greeting.acknowledged", "value": True, "photos": [1]},
        "answers.0.photos.0",
        "must be a photo id",
    ),
]


def full_mystery_shop_answers() -> list[dict[str, Any]]:
    """Return a realistic complete set of answers for the real mystery shop."""
    return [
        {"item": "greeting.acknowledged_in_time", "value": 42},
        {"item": "greeting.eye_contact_and_welcome", "value": "both"},
        {"item": "greeting.returning_customer_recognised", "na": True},
        {"item": "ownership.took_ownership", "value": True},
        {"item": "ownership.followed_through", "value": True},
        {"item": "ownership.offered_next_step", "value": False, "comment": "No name given"},
        {"item": "tone.courteous_under_pressure", "value": 4},
        {"item": "tone.no_reprimand_in_front_of_customers", "value": True},
        {"item": "tone.no_careless_assumptions", "value": True},
        {"item": "policy_friction.policy_explained", "value": True},
        {"item": "policy_friction.empowered_to_fix", "value": "quick_approval"},
        {"item": "policy_friction.system_wait", "value": 65},
        {"item": "problem_resolution.resolved", "value": "fully"},
        {"item": "problem_resolution.first_contact", "value": True},
        {"item": "problem_resolution.would_return", "value": 4},
        {"item": "notes.queue_length", "value": 2},
        {"item": "notes.queue_photo", "photos": ["f3b2"]},
        {"item": "notes.summary", "value": "Greeted quickly; the refund needed a supervisor."},
    ]
