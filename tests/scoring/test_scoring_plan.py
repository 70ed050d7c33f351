"""The compiled checklist plan: same verdicts and scores as the general code, or no verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldobs.checklists.format import load_checklist_file, parse_checklist
from fieldobs.scoring import plan as scoring_plan
from fieldobs.scoring.answers import validate_answers
from fieldobs.scoring.engine import VisitScore, score_visit
from fieldobs.scoring.plan import ChecklistPlan
from tests.helpers.checklist_answers import (
    BAD,
    PHOTOS,
    fixture_data,
    full_mystery_shop_answers,
    valid_answers,
)
from tests.helpers.checklist_files import CHECKLISTS
from tests.helpers.scoring_strategies import (
    DURATION,
    PHOTO_POOL,
    PROPERTY,
    one_item_checklist,
    visits,
)

Visit = tuple[dict[str, Any], list[dict[str, Any]]]


def assert_same_as_general_code(plan: ChecklistPlan, score: VisitScore, answers: Any) -> None:
    """Check a plan's score, and its JSON, against the general validation and scoring."""
    definition = plan.definition
    assert validate_answers(definition, answers, set(PHOTO_POOL)) == {}
    expected = score_visit(definition, answers, explain=False)
    assert score == expected
    assert plan.breakdown_json(score) == json.dumps(expected.to_dict())
    sections = [{"id": s.id, "score": s.score} for s in expected.sections]
    assert plan.section_scores_json(score) == json.dumps(sections)


@PROPERTY
@given(visits())
def test_plan_scores_every_valid_visit_as_the_general_code(visit: Visit) -> None:
    definition, answers = visit
    plan = ChecklistPlan(definition)
    score = plan.score(answers, set(PHOTO_POOL))
    assert score is not None
    assert_same_as_general_code(plan, score, answers)


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 500),
    st.integers(10**300, 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.sampled_from(["o0", "o1", "zero", "p0", "p9"]),
    st.lists(st.sampled_from(["p0", "p1", "p9", 3]), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
KEYS = st.sampled_from(["item", "value", "na", "comment", "photos", "score"])


@st.composite
def spoiled(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any]]:
    """Draw a valid visit and spoil some of its answers (or not) in any way JSON allows."""
    definition, answers = draw(visits())
    spoilt: list[Any] = [dict(answer) for answer in answers]
    for _ in range(draw(st.integers(0, 3))):
        action = draw(
            st.sampled_from(["set", "na", "blank", "drop_key", "drop_answer", "repeat", "replace"])
        )
        if not spoilt:
            break
        index = draw(st.integers(0, len(spoilt) - 1))
        answer = spoilt[index]
        if action == "set" and isinstance(answer, dict):
            answer[draw(KEYS)] = draw(JUNK)
        elif action in ("na", "blank") and isinstance(answer, dict):
            # The likeliest slips: N/A where it is not allowed, a required item left blank.
            answer["value"] = None
            answer["na"] = action == "na"
        elif action == "drop_key" and isinstance(answer, dict) and answer:
            answer.pop(draw(st.sampled_from(sorted(answer))))
        elif action == "drop_answer":
            spoilt.pop(index)
        elif action == "repeat":
            spoilt.append(answer)
        else:
            spoilt[index] = draw(JUNK)
    return definition, spoilt


@settings(PROPERTY, max_examples=150)
@given(spoiled())
def test_whatever_the_plan_accepts_the_general_code_accepts_and_scores_alike(
    visit: tuple[dict[str, Any], list[Any]],
) -> None:
    definition, answers = visit
    plan = ChecklistPlan(definition)
    score = plan.score(answers, set(PHOTO_POOL))
    if score is None:
        return  # the general code judges: its own tests cover what it says
    assert_same_as_general_code(plan, score, answers)


@pytest.mark.parametrize(
    ("position", "answer"),
    [pytest.param(position, answer, id=name) for name, position, answer, _, _ in BAD],
)
def test_plan_leaves_every_invalid_answer_to_the_general_code(
    position: int | None, answer: Any
) -> None:
    plan = ChecklistPlan(parse_checklist(fixture_data()))
    answers: list[Any] = valid_answers()
    assert plan.score(answers, PHOTOS) is not None
    if position is None:
        answers.append(answer)
    else:
        answers[position] = answer
    assert plan.score(answers, PHOTOS) is None


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"item": "greeting.acknowledged", "value": True}, id="not a list"),
        pytest.param(valid_answers()[1:], id="required item missing"),
    ],
)
def test_plan_leaves_malformed_answer_lists_to_the_general_code(answers: Any) -> None:
    plan = ChecklistPlan(parse_checklist(fixture_data()))
    assert plan.score(answers, PHOTOS) is None


def test_kept_json_is_bounded_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring_plan, "MAX_KEPT_FRAGMENTS", 5)
    definition = one_item_checklist(DURATION)
    plan = ChecklistPlan(definition)
    for seconds in range(30, 130):
        answers = [{"item": "s.i", "value": seconds}]
        score = plan.score(answers, set())
        assert score is not None
        expected = score_visit(definition, answers, explain=False)
        assert plan.breakdown_json(score) == json.dumps(expected.to_dict())
    assert len(plan._fragments) <= 5


@pytest.mark.parametrize(
    ("item", "value"),
    [
        pytest.param(None, None, id="as answered"),
        pytest.param("ownership.took_ownership", False, id="critical failure"),
        pytest.param("tone.no_reprimand_in_front_of_customers", False, id="other critical"),
        pytest.param("policy_friction.system_wait", 65.5, id="measured, fractional"),
        pytest.param("policy_friction.system_wait", 10_000, id="measured, past the limit"),
    ],
)
def test_plan_scores_the_real_mystery_shop_as_the_general_code(
    item: str | None, value: Any
) -> None:
    definition = load_checklist_file(CHECKLISTS / "mystery-shop.toml")
    answers = full_mystery_shop_answers()
    for answer in answers:
        if answer["item"] == item:
            answer["value"] = value
    plan = ChecklistPlan(definition)
    for _ in range(2):  # the second time from the outcomes and JSON kept the first time
        score = plan.score(answers, {"f3b2"})
        assert score is not None
        assert score == score_visit(definition, answers, explain=False)
        assert plan.breakdown_json(score) == json.dumps(score.to_dict())
        assert (score.critical_failures == [item]) == (value is False)
