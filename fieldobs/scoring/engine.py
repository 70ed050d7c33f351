"""The scoring engine: pure functions from (checklist definition, answers) to explained scores.

Rules (documented with a worked example in `checklists/README.md`):
- An item's fraction is in 0..1; it earns fraction x weight out of weight points.
- N/A answers, blank answers and unscored items are not applicable: they add to neither the
  points earned nor the points possible.
- An applicable item has failed when its fraction is exactly 0. A failed critical item zeroes
  every item of its section, or of the whole visit when `critical_zeroes = "visit"`.
- Section score = 100 x earned / possible, None when nothing in it is applicable.
- Visit score = mean of the section scores weighted by section weight, skipping None sections;
  None when no section has a score. Scores are not rounded here.

Scoring a pushed visit needs the numbers only; the sentences that explain each item cost as much
again, so they are written only when asked for (`explain=True`, when a visit is read back). The
numbers are the same either way: checklist versions are immutable.

Written twice, for speed: `fieldobs/scoring/plan.py` scores plainly valid answers from tables
built once per checklist version, with exactly these numbers (tests/scoring/test_scoring_plan.py
holds the two equal). A change to a rule here is a change there too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from fieldobs.checklists.format import is_scored
from fieldobs.scoring.answers import answer_state


class ItemScore(NamedTuple):
    """How one item contributed to the score, and why ('' unless explained)."""

    # A tuple, not a dataclass: a visit makes dozens, and a tuple is built several times faster.
    item: str
    section: str
    applicable: bool
    earned: float
    possible: float
    failed: bool
    critical: bool
    reason: str


class SectionScore(NamedTuple):
    """One section's score; `critical_failed` when one of its critical items failed."""

    id: str
    score: float | None
    earned: float
    possible: float
    critical_failed: bool


@dataclass(frozen=True)
class VisitScore:
    """The visit's score with its sections, its items and its failed critical items."""

    score: float | None
    sections: list[SectionScore]
    items: list[ItemScore]
    critical_failures: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; items carry a `reason` only when explained."""
        # Built by hand: dataclasses.asdict deep-copies every value, 2 ms a visit.
        return {
            "score": self.score,
            "sections": [section_dict(section) for section in self.sections],
            "items": [item_dict(item) for item in self.items],
            "critical_failures": list(self.critical_failures),
        }


def section_dict(section: SectionScore) -> dict[str, Any]:
    """Return the JSON-ready dict of one section's score."""
    return {
        "id": section.id,
        "score": section.score,
        "earned": section.earned,
        "possible": section.possible,
        "critical_failed": section.critical_failed,
    }


def item_dict(item: ItemScore) -> dict[str, Any]:
    """Return the JSON-ready dict of one item's score; `reason` only when explained."""
    data = {
        "item": item.item,
        "section": item.section,
        "applicable": item.applicable,
        "earned": item.earned,
        "possible": item.possible,
        "failed": item.failed,
        "critical": item.critical,
    }
    if item.reason:
        data["reason"] = item.reason
    return data


# --- presentation helpers -------------------------------------------------------------------


def _num(value: float) -> str:
    """Format a number briefly: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _points(value: float) -> str:
    """Format a count of points with the right noun."""
    return f"{_num(value)} point{'' if value == 1 else 's'}"


# --- fractions per item type ----------------------------------------------------------------


def threshold_fraction(value: float, target: float, limit: float) -> float:
    """Return 1 at or beyond target, 0 at or beyond limit, linear between (either direction)."""
    if target < limit:  # lower is better
        if value <= target:
            return 1.0
        if value >= limit:
            return 0.0
        return (limit - value) / (limit - target)
    if value >= target:  # higher is better
        return 1.0
    if value <= limit:
        return 0.0
    return (value - limit) / (target - limit)


def _yes_no(_item: Mapping[str, Any], value: Any) -> float | None:
    """Score yes as full marks, no as nothing."""
    return 1.0 if value else 0.0


def _scale(item: Mapping[str, Any], value: Any) -> float | None:
    """Score a rating linearly from min (nothing) to max (full marks)."""
    low = item["min"]
    return float((value - low) / (item["max"] - low))


def _option(item: Mapping[str, Any], value: Any) -> Mapping[str, Any]:
    return next(option for option in item["options"] if option["id"] == value)


def _choice(item: Mapping[str, Any], value: Any) -> float | None:
    """Score a choice by its option's score; an option without a score is informational."""
    score = _option(item, value).get("score")
    return None if score is None else float(score)


def _duration(item: Mapping[str, Any], value: Any) -> float | None:
    """Score seconds against the target (full marks) and limit (nothing)."""
    return threshold_fraction(value, item["target"], item["limit"])


def _number(item: Mapping[str, Any], value: Any) -> float | None:
    """Score a number against its thresholds; without them it is informational."""
    target, limit = item.get("target"), item.get("limit")
    if target is None or limit is None:
        return None
    return threshold_fraction(value, target, limit)


def _unscored(_item: Mapping[str, Any], _value: Any) -> float | None:
    """Never score text or photo evidence."""
    return None


FRACTIONS = {
    "yes_no": _yes_no,
    "scale": _scale,
    "choice": _choice,
    "duration": _duration,
    "number": _number,
    "text": _unscored,
    "photo": _unscored,
}


# --- what the observer recorded, in words -----------------------------------------------------


def _describe_yes_no(_item: Mapping[str, Any], value: Any) -> str:
    return "answered yes" if value else "answered no"


def _describe_scale(item: Mapping[str, Any], value: Any) -> str:
    label = item.get("labels", {}).get(str(value))
    named = f" ('{label}')" if label else ""
    return f"rated {value}{named} on {item['min']}–{item['max']}"


def _describe_choice(item: Mapping[str, Any], value: Any) -> str:
    option = _option(item, value)
    if option.get("score") is None:
        return f"chose '{option['label']}' (informational)"
    return f"chose '{option['label']}' (worth {_num(option['score'])})"


def _describe_duration(item: Mapping[str, Any], value: Any) -> str:
    return f"took {_num(value)} s: {_num(item['target'])} s target, {_num(item['limit'])} s limit"


def _describe_number(item: Mapping[str, Any], value: Any) -> str:
    unit = f" {item['unit']}" if item.get("unit") else ""
    target, limit = item.get("target"), item.get("limit")
    if target is None or limit is None:
        return f"recorded {_num(value)}{unit}"
    return f"recorded {_num(value)}{unit}: target {_num(target)}, limit {_num(limit)}"


def _describe_text(_item: Mapping[str, Any], value: Any) -> str:
    return f"wrote {len(value)} characters"


def _describe_photo(_item: Mapping[str, Any], _value: Any) -> str:
    return "photo evidence"


DESCRIPTIONS = {
    "yes_no": _describe_yes_no,
    "scale": _describe_scale,
    "choice": _describe_choice,
    "duration": _describe_duration,
    "number": _describe_number,
    "text": _describe_text,
    "photo": _describe_photo,
}


# --- items, sections, visit -----------------------------------------------------------------


def _not_applicable(item: Mapping[str, Any], section_id: str, reason: str) -> ItemScore:
    """Build the score of an item that counts for nothing."""
    return ItemScore(item["id"], section_id, False, 0.0, 0.0, False, bool(item["critical"]), reason)


def score_item(
    item: Mapping[str, Any],
    section_id: str,
    answer: Mapping[str, Any] | None,
    *,
    explain: bool = True,
) -> ItemScore:
    """Score one item on its own answer (before any critical failure zeroes it)."""
    state = answer_state(item, answer)
    if state != "answered":
        if not explain:
            return _not_applicable(item, section_id, "")
        if state == "na":
            return _not_applicable(item, section_id, "not applicable")
        reason = "not answered" if item["required"] else "not answered (optional)"
        return _not_applicable(item, section_id, reason)
    assert answer is not None  # answer_state says "answered"
    kind, value = item["type"], answer.get("value")
    fraction = FRACTIONS[kind](item, value)
    if fraction is None or not is_scored(item):
        reason = f"{DESCRIPTIONS[kind](item, value)}, not scored" if explain else ""
        return _not_applicable(item, section_id, reason)
    fraction = min(1.0, max(0.0, fraction))
    weight = float(item["weight"])
    earned = fraction * weight
    reason = _earned_reason(DESCRIPTIONS[kind](item, value), fraction, weight) if explain else ""
    return ItemScore(
        item["id"], section_id, True, earned, weight, fraction == 0, bool(item["critical"]), reason
    )


def _earned_reason(described: str, fraction: float, weight: float) -> str:
    """Say what an applicable item earned and how."""
    share = f"{_num(fraction)} × {_num(weight)} = " if 0 < fraction < 1 else ""
    return f"{described} → {share}{_num(fraction * weight)} of {_points(weight)}"


def _zero(score: ItemScore, failures: list[str], scope: str, explain: bool) -> ItemScore:
    """Zero an applicable item because of critical failures, saying which and why."""
    if not score.applicable:
        return score
    if not explain:
        reason = ""
    elif score.item in failures:
        reason = f"{score.reason}; critical failure zeroes {scope}"
    else:
        names = ", ".join(f"'{failure}'" for failure in failures)
        reason = f"{score.reason}; zeroed: critical failure of {names} zeroes {scope}"
    return score._replace(earned=0.0, reason=reason)


def section_score(section_id: str, items: list[ItemScore], critical_failed: bool) -> SectionScore:
    """Sum a section's applicable items into its 0–100 score."""
    applicable = [score for score in items if score.applicable]
    earned = sum([score.earned for score in applicable], 0.0)
    possible = sum([score.possible for score in applicable], 0.0)
    # earned <= possible item by item, so earned / possible <= 1 even in floating point.
    score = 100.0 * (earned / possible) if possible > 0 else None
    return SectionScore(section_id, score, earned, possible, critical_failed)


def section_weights(definition: Mapping[str, Any]) -> dict[str, float]:
    """Map each section id to its weight."""
    return {section["id"]: float(section["weight"]) for section in definition["sections"]}


def visit_mean(weights: Mapping[str, float], sections: list[SectionScore]) -> float | None:
    """Average the scored sections, weighted by section weight."""
    scored = [(weights[s.id], s.score) for s in sections if s.score is not None]
    total = sum(weight for weight, _ in scored)
    if not scored or total <= 0:
        return None
    mean = sum(weight * score for weight, score in scored) / total
    # Rounding in the weighted sum can overshoot by an ulp; the contract promises 0–100.
    return min(100.0, max(0.0, mean))


def score_visit(
    definition: Mapping[str, Any],
    answers: Sequence[Mapping[str, Any]],
    *,
    explain: bool = True,
) -> VisitScore:
    """Score a visit's (already validated) answers; with `explain`, say why for each item."""
    by_item = {answer["item"]: answer for answer in answers}
    per_section: list[tuple[str, list[ItemScore]]] = [
        (
            section["id"],
            [
                score_item(item, section["id"], by_item.get(item["id"]), explain=explain)
                for item in section["items"]
            ],
        )
        for section in definition["sections"]
    ]
    return combine_item_scores(definition, per_section, explain=explain)


def combine_item_scores(
    definition: Mapping[str, Any],
    per_section: list[tuple[str, list[ItemScore]]],
    *,
    explain: bool = True,
) -> VisitScore:
    """Apply critical failures to item scores and sum them into section and visit scores."""
    failures = [s.item for _, items in per_section for s in items if s.critical and s.failed]
    whole_visit = definition.get("critical_zeroes", "section") == "visit"
    sections: list[SectionScore] = []
    all_items: list[ItemScore] = []
    for section_id, items in per_section:
        own = [s.item for s in items if s.critical and s.failed] if failures else []
        zeroing = failures if whole_visit else own
        if zeroing:
            scope = "the visit" if whole_visit else f"section '{section_id}'"
            items = [_zero(score, zeroing, scope, explain) for score in items]
        sections.append(section_score(section_id, items, bool(own)))
        all_items.extend(items)
    return VisitScore(
        visit_mean(section_weights(definition), sections), sections, all_items, failures
    )
