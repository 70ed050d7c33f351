"""Scoring inputs for tests: one-item checklists, sample items, strategies for valid visits."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fieldobs.checklists.format import is_scored, item_index, parse_checklist

PROPERTY = settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PHOTO_POOL = ("p0", "p1", "p2")


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
