"""The scoring engine: explained item scores, section and visit scores, critical items."""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

import pytest

from fieldobs.checklists.format import load_checklist_file, parse_checklist
from fieldobs.scoring.engine import ItemScore, VisitScore, score_visit, threshold_fraction
from tests.helpers.checklist_files import CHECKLISTS, item_of, minimal
from tests.helpers.scoring_strategies import (
    CHOICE,
    DURATION,
    HIGHER,
    LOWER,
    SCALE,
    one_item_checklist,
)


def item_score(visit: VisitScore, item_id: str) -> ItemScore:
    """Return one item's score from a visit score."""
    return next(score for score in visit.items if score.item == item_id)


# --- item types and reasons -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "value", "earned", "possible", "reason"),
    [
        ({"type": "yes_no"}, True, 1, 1, "answered yes → 1 of 1 point"),
        ({"type": "yes_no", "weight": 2}, False, 0, 2, "answered no → 0 of 2 points"),
        (SCALE, 4, 0.75, 1, "rated 4 on 1–5 → 0.75 × 1 = 0.75 of 1 point"),
        (SCALE, 5, 1, 1, "rated 5 ('Superb') on 1–5 → 1 of 1 point"),
        (SCALE, 1, 0, 1, "rated 1 on 1–5 → 0 of 1 point"),
        (CHOICE, "meh", 0.4, 1, "chose 'Meh' (worth 0.4) → 0.4 × 1 = 0.4 of 1 point"),
        (CHOICE, "good", 1, 1, "chose 'Good' (worth 1) → 1 of 1 point"),
        (DURATION, 30, 3, 3, "took 30 s: 30 s target, 120 s limit → 3 of 3 points"),
        (
            DURATION,
            95,
            25 / 90 * 3,
            3,
            "took 95 s: 30 s target, 120 s limit → 0.28 × 3 = 0.83 of 3 points",
        ),
        (DURATION, 500, 0, 3, "took 500 s: 30 s target, 120 s limit → 0 of 3 points"),
        (LOWER, 5, 0.5, 1, "recorded 5 people: target 2, limit 8 → 0.5 × 1 = 0.5 of 1 point"),
        (HIGHER, 7.5, 0.75, 1, "recorded 7.5: target 10, limit 0 → 0.75 × 1 = 0.75 of 1 point"),
        (HIGHER, 12, 1, 1, "recorded 12: target 10, limit 0 → 1 of 1 point"),
    ],
)
def test_scored_item_earns_fraction_of_weight_with_reason(
    item: dict[str, Any], value: Any, earned: float, possible: float, reason: str
) -> None:
    visit = score_visit(one_item_checklist(item), [{"item": "s.i", "value": value}])
    score = item_score(visit, "s.i")
    assert score.applicable is True
    assert score.earned == pytest.approx(earned)
    assert score.possible == possible
    assert score.failed is (earned == 0)
    assert score.reason == reason
    assert visit.score == pytest.approx(100 * earned / possible)


@pytest.mark.parametrize(
    ("item", "answer", "reason"),
    [
        ({"type": "yes_no", "allow_na": True}, {"na": True}, "not applicable"),
        ({"type": "yes_no", "required": False}, None, "not answered (optional)"),
        ({"type": "yes_no", "required": False}, {"value": None}, "not answered (optional)"),
        (CHOICE, {"value": "other"}, "chose 'Other' (informational), not scored"),
        ({"type": "number"}, {"value": 4}, "recorded 4, not scored"),
        ({"type": "text"}, {"value": "Lovely"}, "wrote 6 characters, not scored"),
        ({"type": "photo"}, {"photos": ["p0"]}, "photo evidence, not scored"),
    ],
)
def test_inapplicable_item_counts_for_nothing(
    item: dict[str, Any], answer: dict[str, Any] | None, reason: str
) -> None:
    answers = [] if answer is None else [{"item": "s.i", **answer}]
    visit = score_visit(one_item_checklist(item), answers)
    score = item_score(visit, "s.i")
    assert (score.applicable, score.earned, score.possible, score.failed) == (False, 0, 0, False)
    assert score.reason == reason
    assert visit.score is None
    assert visit.sections[0].score is None


@pytest.mark.parametrize(
    ("value", "target", "limit", "fraction"),
    [
        (0, 30, 120, 1.0),
        (75, 30, 120, 0.5),
        (120, 30, 120, 0.0),
        (10, 10, 0, 1.0),
        (5, 10, 0, 0.5),
        (0, 10, 0, 0.0),
        (3, 10, 4, 0.0),
    ],
)
def test_threshold_fraction_is_linear_between_target_and_limit(
    value: float, target: float, limit: float, fraction: float
) -> None:
    assert threshold_fraction(value, target, limit) == pytest.approx(fraction)


# --- sections, visits and critical items ----------------------------------------------------


@pytest.fixture(scope="module")
def two_sections() -> dict[str, Any]:
    """Return the minimal checklist with a critical yes/no item in a second scored section."""
    data = minimal()
    data["sections"][1]["weight"] = 3
    data["sections"][1]["items"].append(
        {"id": "notes.safe", "prompt": "Safe", "type": "yes_no", "critical": True}
    )
    item_of(data, 0, 0)["critical"] = True
    return parse_checklist(data)


def test_failed_critical_item_zeroes_its_section_and_says_why(two_sections: dict[str, Any]) -> None:
    answers: list[dict[str, Any]] = [
        {"item": "greeting.acknowledged", "value": False},
        {"item": "greeting.mood", "value": 5},
        {"item": "greeting.welcome", "value": "warm"},
        {"item": "greeting.wait", "value": 10},
        {"item": "notes.safe", "value": True},
    ]
    visit = score_visit(two_sections, answers)
    greeting, notes = visit.sections
    assert (greeting.score, greeting.earned, greeting.possible) == (0.0, 0.0, 4.0)
    assert greeting.critical_failed is True
    assert (notes.score, notes.critical_failed) == (100.0, False)
    assert visit.score == pytest.approx((1 * 0 + 3 * 100) / 4)
    assert visit.critical_failures == ["greeting.acknowledged"]
    assert item_score(visit, "greeting.acknowledged").reason == (
        "answered no → 0 of 1 point; critical failure zeroes section 'greeting'"
    )
    assert item_score(visit, "greeting.mood").reason == (
        "rated 5 on 1–5 → 1 of 1 point; zeroed: critical failure of 'greeting.acknowledged'"
        " zeroes section 'greeting'"
    )
    assert item_score(visit, "greeting.mood").failed is False


def test_failed_critical_item_zeroes_the_visit_when_configured(
    two_sections: dict[str, Any],
) -> None:
    definition = {**two_sections, "critical_zeroes": "visit"}
    answers: list[dict[str, Any]] = [
        {"item": "greeting.acknowledged", "value": True},
        {"item": "greeting.mood", "value": 5},
        {"item": "greeting.welcome", "value": "warm"},
        {"item": "greeting.wait", "value": 10},
        {"item": "notes.safe", "value": False},
    ]
    visit = score_visit(definition, answers)
    assert visit.score == 0.0
    assert [s.score for s in visit.sections] == [0.0, 0.0]
    assert [s.critical_failed for s in visit.sections] == [False, True]
    assert item_score(visit, "greeting.welcome").reason.endswith(
        "zeroed: critical failure of 'notes.safe' zeroes the visit"
    )


def test_nothing_applicable_gives_none_scores(two_sections: dict[str, Any]) -> None:
    visit = score_visit(two_sections, [])
    assert visit.score is None
    assert [s.score for s in visit.sections] == [None, None]
    assert visit.critical_failures == []


def test_visit_score_skips_sections_without_a_score(two_sections: dict[str, Any]) -> None:
    visit = score_visit(two_sections, [{"item": "greeting.mood", "value": 3}])
    assert [s.score for s in visit.sections] == [50.0, None]
    assert visit.score == 50.0


def test_to_dict_is_json_ready(two_sections: dict[str, Any]) -> None:
    visit = score_visit(two_sections, [{"item": "greeting.mood", "value": 3}])
    body = json.loads(json.dumps(visit.to_dict()))
    assert body["score"] == 50.0
    assert body["sections"][0] == {
        "id": "greeting",
        "score": 50.0,
        "earned": 0.5,
        "possible": 1.0,
        "critical_failed": False,
    }
    assert body["items"][1]["item"] == "greeting.mood"
    assert set(body["items"][1]) == {
        "item",
        "section",
        "applicable",
        "earned",
        "possible",
        "failed",
        "critical",
        "reason",
    }
    assert body["critical_failures"] == []


# --- the worked example in checklists/README.md ---------------------------------------------

README_ANSWERS: list[dict[str, Any]] = [
    {"item": "greeting.acknowledged_in_time", "value": 75},
    {"item": "greeting.eye_contact_and_welcome", "value": "one"},
    {"item": "greeting.returning_customer_recognised", "na": True},
    {"item": "tone.courteous_under_pressure", "value": 4},
    {"item": "tone.no_reprimand_in_front_of_customers", "value": True},
    {"item": "tone.no_careless_assumptions", "value": False},
    {"item": "problem_resolution.resolved", "value": "fully"},
    {"item": "problem_resolution.first_contact", "value": True},
    {"item": "problem_resolution.would_return", "value": 5},
]


@pytest.mark.parametrize(
    ("reprimand", "zeroes", "sections", "visit"),
    [
        (True, "section", {"greeting": 50, "tone": 70, "problem_resolution": 100}, 270 / 3.5),
        (False, "section", {"greeting": 50, "tone": 0, "problem_resolution": 100}, 200 / 3.5),
        (False, "visit", {"greeting": 0, "tone": 0, "problem_resolution": 0}, 0),
    ],
)
def test_readme_worked_example(
    reprimand: bool, zeroes: str, sections: dict[str, float], visit: float
) -> None:
    definition = load_checklist_file(CHECKLISTS / "mystery-shop.toml")
    definition["critical_zeroes"] = zeroes
    answers = deepcopy(README_ANSWERS)
    answers[4]["value"] = reprimand
    result = score_visit(definition, answers)
    scored = {s.id: s.score for s in result.sections if s.score is not None}
    assert scored == {k: pytest.approx(v) for k, v in sections.items()}
    assert result.score == pytest.approx(visit)
