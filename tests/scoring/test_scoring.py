"""The scoring engine: explained item scores, section and visit scores, and their invariants."""

from __future__ import annotations

import json
import math
from copy import deepcopy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldobs.checklists.format import is_scored, item_index, load_checklist_file, parse_checklist
from fieldobs.scoring.answers import validate_answers
from fieldobs.scoring.engine import ItemScore, VisitScore, score_visit, threshold_fraction
from tests.checklists.test_checklist_format import CHECKLISTS, item_of, minimal

PROPERTY = settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PHOTO_POOL = ("p0", "p1", "p2")


def approx(value: float | None) -> Any:
    """Compare a score approximately, None exactly."""
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)


def item_score(visit: VisitScore, item_id: str) -> ItemScore:
    """Return one item's score from a visit score."""
    return next(score for score in visit.items if score.item == item_id)


# --- item types and reasons -----------------------------------------------------------------


def one_item_checklist(item: dict[str, Any]) -> dict[str, Any]:
    """Return a definition with a single section holding one item."""
    return parse_checklist(
        {
            "slug": "one",
            "title": "One",
            "kind": "mystery_shop",
            "sections": [
                {"id": "s", "title": "S", "items": [{"id": "s.i", "prompt": "P", **item}]}
            ],
        }
    )


CHOICE = {
    "type": "choice",
    "options": [
        {"id": "good", "label": "Good", "score": 1},
        {"id": "meh", "label": "Meh", "score": 0.4},
        {"id": "bad", "label": "Bad", "score": 0},
        {"id": "other", "label": "Other"},
    ],
}
DURATION = {"type": "duration", "target": 30, "limit": 120, "weight": 3}
LOWER = {"type": "number", "target": 2, "limit": 8, "unit": "people"}
HIGHER = {"type": "number", "target": 10, "limit": 0}
SCALE = {"type": "scale", "min": 1, "max": 5, "labels": {"5": "Superb"}}


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


# --- property tests -------------------------------------------------------------------------

WEIGHTS = st.one_of(st.integers(1, 5), st.floats(0.1, 10, allow_nan=False))


@st.composite
def raw_items(draw: st.DrawFn, item_id: str) -> dict[str, Any]:
    """Draw one raw (file-shaped) item of any type with valid type-specific keys."""
    kind = draw(
        st.sampled_from(["yes_no", "scale", "choice", "duration", "number", "text", "photo"])
    )
    item: dict[str, Any] = {"id": item_id, "prompt": "Prompt", "type": kind}
    item["weight"] = draw(WEIGHTS)
    item["allow_na"] = draw(st.booleans())
    if draw(st.booleans()):
        item["required"] = draw(st.booleans())
    if kind != "photo":
        item["photo"] = draw(st.sampled_from(["none", "optional", "required"]))
    if kind == "scale":
        item["min"] = draw(st.integers(-3, 3))
        item["max"] = item["min"] + draw(st.integers(1, 6))
    elif kind == "choice":
        scores = draw(
            st.lists(
                st.one_of(st.none(), st.sampled_from([0, 0.25, 0.5, 1]), st.floats(0, 1)),
                min_size=2,
                max_size=4,
            )
        )
        item["options"] = [
            {"id": f"o{n}", "label": f"Option {n}"} | ({} if s is None else {"score": s})
            for n, s in enumerate(scores)
        ]
    elif kind == "duration":
        item["target"] = draw(st.integers(0, 60))
        item["limit"] = item["target"] + draw(st.integers(1, 300))
    elif kind == "number" and draw(st.booleans()):
        item["target"], item["limit"] = draw(
            st.lists(st.integers(0, 20), min_size=2, max_size=2, unique=True)
        )
    if is_scored(item) and draw(st.booleans()):
        item["critical"] = True
        if kind == "choice" and not any(o.get("score") == 0 for o in item["options"]):
            item["options"].append({"id": "zero", "label": "Zero", "score": 0})
    return item


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a valid checklist definition, normalised by the real schema."""
    sections = []
    for s in range(draw(st.integers(1, 4))):
        count = draw(st.integers(1, 5))
        items = [draw(raw_items(f"s{s}.i{i}")) for i in range(count)]
        sections.append({"id": f"s{s}", "title": f"S{s}", "weight": draw(WEIGHTS), "items": items})
    zeroes = draw(st.sampled_from(["section", "visit"]))
    raw = {"slug": "gen", "title": "Generated", "kind": "walkthrough", "critical_zeroes": zeroes}
    return parse_checklist({**raw, "sections": sections})


def value_for(item: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Return a strategy of valid non-null values for an item."""
    kind = item["type"]
    if kind == "yes_no":
        return st.booleans()
    if kind == "scale":
        return st.integers(item["min"], item["max"])
    if kind == "choice":
        return st.sampled_from([o["id"] for o in item["options"]])
    if kind in ("duration", "number"):
        return st.one_of(st.integers(0, 400), st.floats(0, 400, allow_nan=False))
    return st.text(max_size=20)


@st.composite
def answer_for(draw: st.DrawFn, item: dict[str, Any]) -> dict[str, Any] | None:
    """Draw a valid answer for an item, or None to leave it out."""
    modes = ["value"]
    if item["allow_na"]:
        modes.append("na")
    if not item["required"]:
        modes += ["omit", "blank"]
    mode = draw(st.sampled_from(modes))
    if mode == "omit":
        return None
    answer: dict[str, Any] = {"item": item["id"]}
    if mode == "na":
        answer["na"] = True
    elif mode == "blank":
        answer["value"] = None
    elif item["type"] != "photo":
        answer["value"] = draw(value_for(item))
    least = 1 if item["photo"] == "required" and mode == "value" else 0
    if item["photo"] != "none":
        photos = draw(
            st.lists(st.sampled_from(PHOTO_POOL), min_size=least, max_size=2, unique=True)
        )
        if photos:
            answer["photos"] = photos
    return answer


@st.composite
def visits(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Draw a definition and a valid set of answers for it."""
    definition = draw(definitions())
    answers = []
    for _, item in item_index(definition).values():
        answer = draw(answer_for(item))
        if answer is not None:
            answers.append(answer)
    return definition, draw(st.permutations(answers))


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
