"""A checklist version compiled once: plainly valid answers are checked and scored in one pass.

Pushing a visit validates its answers (`fieldobs.scoring.answers`) and scores them
(`fieldobs.scoring.engine`), both by walking the definition through general code, and then
writes the score breakdown as JSON.
For the visits phones send day after day that is most of a push's CPU. A plan does the same work
from tables built once per checklist version (versions are immutable):

- each item's possible outcomes are scored once, by `score_item` itself, so a yes/no, scale or
  choice answer is scored by a dictionary lookup (durations and numbers are kept once scored:
  they are mostly whole seconds or counts, and repeat);
- an answer is checked against its item in the same pass, and at the first doubt the plan gives
  up (returns None): the general code then finds and words every problem, so errors are the same;
- without a critical failure the sections are plain sums, with no zeroing to apply;
- the JSON of each item's and section's score is kept once written, since visits repeat them.

Whatever a plan accepts, `validate_answers` accepts, and the plan's scores and JSON are exactly
those of `score_visit(explain=False)` (held to that by property tests in
tests/scoring/test_scoring_plan.py). The general code is `fieldobs/scoring/answers.py` and
`fieldobs/scoring/engine.py`; both read the limits in answers.py (ANSWER_KEYS, MAX_*).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from fieldobs.scoring.answers import ANSWER_KEYS, MAX_ANSWER_PHOTOS, MAX_COMMENT_LENGTH
from fieldobs.scoring.engine import (
    ItemScore,
    SectionScore,
    VisitScore,
    combine_item_scores,
    item_dict,
    score_item,
    section_dict,
    section_score,
    section_weights,
    visit_mean,
)

# Bounds the JSON kept per plan: a checklist's items have few outcomes, durations excepted.
MAX_KEPT_FRAGMENTS = 4096
# Bounds the outcomes of measured values (durations, numbers) kept per item.
MAX_KEPT_OUTCOMES = 256
# Larger numbers (a 400-digit integer is valid JSON) are left to the general code.
MAX_PLAIN_NUMBER = 1e15
# Values whose outcome may be looked up (and kept) by (type, value): hashable, and True != 1.
LOOKED_UP = frozenset({bool, int, float, str})


class ItemPlan:
    """One item as the plan checks and scores it."""

    __slots__ = (
        "allow_na",
        "definition",
        "max_length",
        "not_applicable",
        "outcomes",
        "photo",
        "position",
        "required",
        "section_id",
        "type",
    )

    def __init__(self, item: Mapping[str, Any], section_id: str, position: int) -> None:
        self.definition = item
        self.section_id = section_id
        self.position = position
        self.type: str = item["type"]
        self.required = bool(item["required"])
        self.allow_na = bool(item["allow_na"])
        self.photo: str = item["photo"]
        self.max_length: int = item["max_length"] if self.type == "text" else 0
        # N/A, blank and unscored answers all count for nothing, in the same way.
        self.not_applicable = score_item(item, section_id, None, explain=False)
        # Keyed by (type, value): True == 1, but a rating of True is no rating.
        self.outcomes: dict[tuple[type, Any], ItemScore] = {
            (type(value), value): score_item(item, section_id, {"value": value}, explain=False)
            for value in _discrete_values(item)
        }

    def score_value(self, value: Any) -> ItemScore | None:
        """Return the score of a non-null value, or None when the value is not plainly valid."""
        kind = type(value)
        if kind in LOOKED_UP:
            known = self.outcomes.get((kind, value))
            if known is not None:
                return known
        if self.type in ("duration", "number"):
            # The range check also refuses NaN and infinities.
            if kind not in (int, float) or not 0 <= value <= MAX_PLAIN_NUMBER:
                return None
            score = score_item(self.definition, self.section_id, {"value": value}, explain=False)
            if len(self.outcomes) < MAX_KEPT_OUTCOMES:
                self.outcomes[(kind, value)] = score  # measured in whole seconds, they repeat
            return score
        if self.type == "text":
            if type(value) is not str or len(value) > self.max_length:
                return None
            return self.not_applicable
        return None  # a photo item takes no value


def _discrete_values(item: Mapping[str, Any]) -> list[Any]:
    """Return every value an item of a finite type can take."""
    kind = item["type"]
    if kind == "yes_no":
        return [True, False]
    if kind == "scale":
        return list(range(item["min"], item["max"] + 1))
    if kind == "choice":
        return [option["id"] for option in item["options"]]
    return []


class ChecklistPlan:
    """A checklist version compiled for checking and scoring plainly valid answers."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.definition = definition
        self.items: dict[str, ItemPlan] = {}
        self.sections: list[tuple[str, int, int]] = []  # id, first and end position
        for section in definition["sections"]:
            first = len(self.items)
            for item in section["items"]:
                self.items[item["id"]] = ItemPlan(item, section["id"], len(self.items))
            self.sections.append((section["id"], first, len(self.items)))
        self.required = frozenset(i for i, plan in self.items.items() if plan.required)
        self.critical = [
            plan.position for plan in self.items.values() if plan.definition["critical"]
        ]
        self.weights = section_weights(definition)
        self.unanswered = [plan.not_applicable for plan in self.items.values()]
        self._fragments: dict[tuple[Any, ...], str] = {}
        self._section_scores: dict[tuple[str, float | None], str] = {}

    def score(self, answers: Any, photo_ids: AbstractSet[str]) -> VisitScore | None:
        """Score answers that are plainly valid; None at the first doubt."""
        if type(answers) is not list:
            return None
        scores = list(self.unanswered)
        seen: set[str] = set()
        for answer in answers:
            item_score = self._score_answer(answer, seen, photo_ids)
            if item_score is None:
                return None
            scores[item_score[1]] = item_score[0]
        if not self.required <= seen:
            return None
        if any(scores[position].failed for position in self.critical):
            per_section = [(sid, scores[first:end]) for sid, first, end in self.sections]
            return combine_item_scores(self.definition, per_section, explain=False)
        # No critical failure zeroes anything: the sections are plain sums.
        sections = [
            section_score(sid, scores[first:end], False) for sid, first, end in self.sections
        ]
        return VisitScore(visit_mean(self.weights, sections), sections, scores, [])

    def _score_answer(
        self, answer: Any, seen: set[str], photo_ids: AbstractSet[str]
    ) -> tuple[ItemScore, int] | None:
        """Check and score one answer; None when it is not plainly valid."""
        if type(answer) is not dict or not ANSWER_KEYS.issuperset(answer):
            return None
        item_id = answer.get("item")
        if type(item_id) is not str or item_id in seen:
            return None
        item = self.items.get(item_id)
        if item is None:
            return None
        seen.add(item_id)
        comment = answer.get("comment")
        if comment is not None and (type(comment) is not str or len(comment) > MAX_COMMENT_LENGTH):
            return None
        value, na, photos = answer.get("value"), answer.get("na"), answer.get("photos")
        score: ItemScore | None
        if na is True:
            if not item.allow_na or value is not None:
                return None
            score, owes_photo = item.not_applicable, False
        elif na is not None and na is not False:
            return None
        elif item.type == "photo":
            # A photo item's answer is its photos; a required one owes at least one.
            if value is not None:
                return None
            score, owes_photo = item.not_applicable, item.required
        elif value is None:
            if item.required:
                return None
            score, owes_photo = item.not_applicable, False  # blank: nothing observed
        else:
            score, owes_photo = item.score_value(value), item.photo == "required"
            if score is None:
                return None
        if photos is None and not owes_photo:
            return score, item.position  # the common case
        if not _photos_plainly_valid(item, photos, owes_photo, photo_ids):
            return None
        return score, item.position

    def breakdown_json(self, score: VisitScore) -> str:
        """Return `json.dumps(score.to_dict())` for an unexplained score of this checklist."""
        sections = ", ".join(self._fragment(section) for section in score.sections)
        items = ", ".join(self._fragment(item) for item in score.items)
        return (
            f'{{"score": {json.dumps(score.score)}, "sections": [{sections}],'
            f' "items": [{items}], "critical_failures": {json.dumps(score.critical_failures)}}}'
        )

    def section_scores_json(self, score: VisitScore) -> str:
        """Return the JSON list of section ids and scores stored beside a visit's score."""
        parts = []
        for section in score.sections:
            key = (section.id, section.score)
            text = self._section_scores.get(key)
            if text is None:
                text = json.dumps({"id": section.id, "score": section.score})
                if len(self._section_scores) < MAX_KEPT_FRAGMENTS:
                    self._section_scores[key] = text
            parts.append(text)
        return f"[{', '.join(parts)}]"

    def _fragment(self, part: ItemScore | SectionScore) -> str:
        """Return the JSON of one item or section score, kept once written."""
        text = self._fragments.get(part)
        if text is None:
            text = json.dumps(
                section_dict(part) if isinstance(part, SectionScore) else item_dict(part)
            )
            if len(self._fragments) < MAX_KEPT_FRAGMENTS:
                self._fragments[part] = text
        return text


def _photos_plainly_valid(
    item: ItemPlan, photos: Any, owes_photo: bool, photo_ids: AbstractSet[str]
) -> bool:
    """Tell whether an answer's photos are plainly right for its item and the visit's manifest."""
    if type(photos) is not list:
        return photos is None and not owes_photo
    if not photos:
        return not owes_photo
    if item.photo == "none" or len(photos) > MAX_ANSWER_PHOTOS:
        return False
    listed = set(photos) if all(type(p) is str for p in photos) else set()
    return len(listed) == len(photos) and listed <= photo_ids
