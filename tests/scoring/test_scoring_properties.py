"""The scoring engine's invariants, on generated checklists and valid answers for them."""

from __future__ import annotations

import json
import math
from copy import deepcopy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldobs.checklists.format import is_scored, item_index
from fieldobs.scoring.answers import validate_answers
from fieldobs.scoring.engine import VisitScore, score_visit
from tests.helpers.scoring_strategies import PHOTO_POOL, PROPERTY, visits


def approx(value: float | None) -> Any:
    """Compare a score approximately, None exactly."""
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)


def scores_of(visit: VisitScore) -> tuple[Any, list[Any]]:
    """Return a visit's scores in a form that compares approximately."""
    return approx(visit.score), [approx(s.score) for s in visit.sections]


@PROPERTY
@given(visits())
def test_generated_answers_are_valid(visit: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    definition, answers = visit
    assert validate_answers(definition, answers, set(PHOTO_POOL)) == {}


@PROPERTY
@given(visits())
def test_scores_are_between_0_and_100_or_none(
    visit: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    result = score_visit(*visit)
    for score in [result.score, *(s.score for s in result.sections)]:
        assert score is None or 0 <= score <= 100
    assert (result.score is None) == all(s.score is None for s in result.sections)
    for section in result.sections:
        items = [i for i in result.items if i.section == section.id]
        assert section.earned == pytest.approx(sum(i.earned for i in items))
        assert section.possible == pytest.approx(sum(i.possible for i in items))
    for item in result.items:
        assert 0 <= item.earned <= item.possible
        assert item.applicable or item.possible == 0
    json.dumps(result.to_dict())


def _mark_na(
    definition: dict[str, Any], answers: list[dict[str, Any]], chosen: list[bool]
) -> tuple[set[str], list[dict[str, Any]]]:
    """Answer N/A for a chosen subset of the items that allow it; return their ids too."""
    na_ids = {
        item_id
        for (item_id, (_, item)), pick in zip(item_index(definition).items(), chosen, strict=False)
        if pick and item["allow_na"]
    }
    kept = [a for a in answers if a["item"] not in na_ids]
    return na_ids, kept + [{"item": item_id, "na": True} for item_id in sorted(na_ids)]


@PROPERTY
@given(visits(), st.lists(st.booleans(), min_size=20, max_size=20))
def test_na_answer_scores_as_if_the_item_were_not_in_the_checklist(
    visit: tuple[dict[str, Any], list[dict[str, Any]]], chosen: list[bool]
) -> None:
    definition, answers = visit
    na_ids, with_na = _mark_na(definition, answers, chosen)
    without = deepcopy(definition)
    for section in without["sections"]:
        section["items"] = [i for i in section["items"] if i["id"] not in na_ids]
    remaining = [a for a in with_na if a["item"] not in na_ids]
    assert scores_of(score_visit(definition, with_na)) == scores_of(score_visit(without, remaining))


@PROPERTY
@given(visits(), st.lists(st.booleans(), min_size=20, max_size=20))
def test_na_answer_on_an_optional_item_scores_like_no_answer(
    visit: tuple[dict[str, Any], list[dict[str, Any]]], chosen: list[bool]
) -> None:
    definition, answers = visit
    optional = deepcopy(definition)
    for _, item in item_index(optional).values():
        item["required"] = False
    na_ids, with_na = _mark_na(optional, answers, chosen)
    unanswered = [a for a in with_na if a["item"] not in na_ids]
    assert validate_answers(optional, with_na, set(PHOTO_POOL)) == {}
    assert scores_of(score_visit(optional, with_na)) == scores_of(score_visit(optional, unanswered))


@PROPERTY
@given(visits(), st.lists(st.floats(0.01, 100), min_size=4, max_size=4))
def test_scaling_item_weights_within_each_section_changes_nothing(
    visit: tuple[dict[str, Any], list[dict[str, Any]]], factors: list[float]
) -> None:
    definition, answers = visit
    scaled = deepcopy(definition)
    for section, factor in zip(scaled["sections"], factors, strict=False):
        for item in section["items"]:
            item["weight"] *= factor
    assert scores_of(score_visit(scaled, answers)) == scores_of(score_visit(definition, answers))


@PROPERTY
@given(visits(), st.floats(0.01, 100))
def test_scaling_section_weights_changes_nothing(
    visit: tuple[dict[str, Any], list[dict[str, Any]]], factor: float
) -> None:
    definition, answers = visit
    scaled = deepcopy(definition)
    for section in scaled["sections"]:
        section["weight"] *= factor
    assert scores_of(score_visit(scaled, answers)) == scores_of(score_visit(definition, answers))


def failing_value(item: dict[str, Any]) -> Any:
    """Return a value that earns nothing for a scored item."""
    kind = item["type"]
    if kind == "yes_no":
        return False
    if kind == "scale":
        return item["min"]
    if kind == "choice":
        return next(o["id"] for o in item["options"] if o["score"] == 0)
    return item["limit"]  # duration and number: at the limit, in either direction


@PROPERTY
@given(visits(), st.data())
def test_failed_critical_item_zeroes_its_section_or_the_visit(
    visit: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject
) -> None:
    definition, answers = visit
    scored = [(s, i) for s, i in item_index(definition).values() if is_scored(i)]
    if not scored:
        return
    section, item = data.draw(st.sampled_from(scored))
    item["critical"] = True
    if item["type"] == "choice" and not any(o["score"] == 0 for o in item["options"]):
        item["options"].append({"id": "zero", "label": "Zero", "score": 0})
    failing = {"item": item["id"], "value": failing_value(item)}
    if item["photo"] == "required":
        failing["photos"] = ["p0"]
    answers = [a for a in answers if a["item"] != item["id"]] + [failing]
    assert validate_answers(definition, answers, set(PHOTO_POOL)) == {}

    result = score_visit(definition, answers)
    assert item["id"] in result.critical_failures
    by_id = {s.id: s for s in result.sections}
    assert by_id[section["id"]].score == 0
    assert by_id[section["id"]].critical_failed
    if definition["critical_zeroes"] == "visit":
        assert result.score == 0
        assert all(s.score in (0, None) for s in result.sections)
        assert all(i.earned == 0 for i in result.items)
    else:
        assert result.score is not None
        assert all(i.earned == 0 for i in result.items if i.section == section["id"])


@PROPERTY
@given(visits())
def test_score_does_not_depend_on_answer_order(
    visit: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    definition, answers = visit
    forward = score_visit(definition, answers)
    backward = score_visit(definition, list(reversed(answers)))
    assert forward == backward
    assert forward.score is None or math.isfinite(forward.score)
