"""Validation of a visit's answers against one checklist definition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fieldobs.checklists.format import item_index, load_checklist_file, parse_checklist
from fieldobs.scoring.answers import answer_state, validate_answers
from tests.helpers.checklist_answers import (
    BAD,
    PHOTOS,
    fixture_data,
    full_mystery_shop_answers,
    valid_answers,
)
from tests.helpers.checklist_files import CHECKLISTS, item_of, minimal


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    """Return the fixture checklist, parsed."""
    return parse_checklist(fixture_data())


def test_valid_answers_have_no_problems(definition: dict[str, Any]) -> None:
    assert validate_answers(definition, valid_answers(), PHOTOS) == {}


def test_optional_items_may_be_left_out(definition: dict[str, Any]) -> None:
    answers = [a for a in valid_answers() if not a["item"].startswith("notes.")]
    assert validate_answers(definition, answers, {"p1"}) == {}


def test_missing_required_answers_are_reported_under_answers(definition: dict[str, Any]) -> None:
    answers = valid_answers()[2:]
    assert validate_answers(definition, answers, PHOTOS) == {
        "answers": [
            "missing required answer for item 'greeting.acknowledged'",
            "missing required answer for item 'greeting.mood'",
        ]
    }


def test_na_satisfies_a_required_item_that_allows_it(definition: dict[str, Any]) -> None:
    answers = valid_answers()
    answers[0] = {"item": "greeting.acknowledged", "na": True, "comment": "Closed counter"}
    assert validate_answers(definition, answers, PHOTOS) == {}


def test_na_needs_no_required_photo() -> None:
    data = fixture_data()
    item_of(data, 0, 3)["allow_na"] = True
    answers = valid_answers()
    answers[3] = {"item": "greeting.wait", "na": True}
    assert validate_answers(parse_checklist(data), answers, PHOTOS) == {}


def test_blank_value_is_fine_for_an_optional_item(definition: dict[str, Any]) -> None:
    answers = valid_answers()
    answers[4] = {"item": "notes.queue", "value": None, "comment": "Could not see the queue"}
    answers[6] = {"item": "notes.photo", "photos": [], "comment": "Not allowed to photograph"}
    assert validate_answers(definition, answers, PHOTOS) == {}


@pytest.mark.parametrize(
    ("position", "answer", "path", "problem"),
    [pytest.param(position, a, path, problem, id=name) for name, position, a, path, problem in BAD],
)
def test_invalid_answer_is_reported_at_its_path(
    definition: dict[str, Any], position: int | None, answer: Any, path: str, problem: str
) -> None:
    answers: list[Any] = valid_answers()
    if position is None:
        answers.append(answer)
    else:
        answers[position] = answer
    problems = validate_answers(definition, answers, PHOTOS)
    assert path in problems, problems
    assert any(problem in p for p in problems[path]), problems
    assert set(problems) <= {path, "answers"}


def test_a_required_photo_item_needs_photos() -> None:
    data = fixture_data()
    item_of(data, 1, 2)["required"] = True
    answers = valid_answers()
    answers[6] = {"item": "notes.photo"}
    assert validate_answers(parse_checklist(data), answers, PHOTOS) == {
        "answers.6.photos": ["item 'notes.photo' requires at least one photo"]
    }


def test_all_problems_are_reported_at_once(definition: dict[str, Any]) -> None:
    answers = [
        {"item": "greeting.acknowledged", "value": "yes"},
        {"item": "greeting.nope", "value": 1},
        {"item": "greeting.wait", "value": -3},
    ]
    assert validate_answers(definition, answers, set()) == {
        "answers.0.value": ["must be true or false"],
        "answers.1.item": ["unknown item 'greeting.nope'"],
        "answers.2.value": ["must be 0 or more"],
        "answers.2.photos": ["item 'greeting.wait' requires at least one photo"],
        "answers": [
            "missing required answer for item 'greeting.mood'",
            "missing required answer for item 'greeting.welcome'",
        ],
    }


@pytest.mark.parametrize("answers", ["yes", {"item": "greeting.mood"}, None])
def test_answers_must_be_a_list(definition: dict[str, Any], answers: Any) -> None:
    assert validate_answers(definition, answers, PHOTOS) == {
        "answers": ["must be a list of answers"]
    }


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (None, "blank"),
        ({"item": "greeting.mood", "value": None}, "blank"),
        ({"item": "greeting.mood", "value": 2}, "answered"),
        ({"item": "greeting.mood", "na": True}, "na"),
        ({"item": "greeting.mood", "value": 2, "na": False}, "answered"),
    ],
)
def test_answer_state_classifies_answers(answer: dict[str, Any] | None, state: str) -> None:
    _, item = item_index(parse_checklist(minimal()))["greeting.mood"]
    assert answer_state(item, answer) == state


@pytest.mark.parametrize(("photos", "state"), [(None, "blank"), ([], "blank"), (["p"], "answered")])
def test_photo_item_is_answered_by_its_photos(photos: list[str] | None, state: str) -> None:
    _, item = item_index(parse_checklist(minimal()))["notes.photo"]
    answer: dict[str, Any] = {"item": "notes.photo"}
    if photos is not None:
        answer["photos"] = photos
    assert answer_state(item, answer) == state


def test_real_mystery_shop_accepts_a_complete_visit() -> None:
    definition = load_checklist_file(CHECKLISTS / "mystery-shop.toml")
    assert validate_answers(definition, full_mystery_shop_answers(), {"f3b2"}) == {}


def test_real_mystery_shop_requires_the_summary() -> None:
    definition = load_checklist_file(Path(CHECKLISTS / "mystery-shop.toml"))
    answers = [a for a in full_mystery_shop_answers() if a["item"] != "notes.summary"]
    assert validate_answers(definition, answers, {"f3b2"}) == {
        "answers": ["missing required answer for item 'notes.summary'"]
    }
