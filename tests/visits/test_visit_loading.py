"""The plain-visit fast path loads exactly what VisitSchema loads, or leaves the visit to it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from fieldobs.visits.schema import VisitSchema, load_plain_visit

SCHEMA = VisitSchema()
SHA = "ab" * 32


def visit(**changes: Any) -> dict[str, Any]:
    """Return a valid visit body with some fields changed (None-valued `drop` keys removed)."""
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "revision": 1,
        "checklist": {"slug": "mystery-shop", "version": 1},
        "location_id": 3,
        "started_at": "2026-11-23T09:00:00Z",
        "finished_at": "2026-11-23T10:20:00+01:00",
        "answers": [{"item": "greeting.smile", "value": True}],
    }
    body.update(changes)
    return body


def schema_load(raw: Any) -> dict[str, Any] | None:
    """Return what the schema loads, or None when it refuses the visit."""
    try:
        loaded: dict[str, Any] = SCHEMA.load(copy.deepcopy(raw))
    except ValidationError:
        return None
    return loaded


PHOTO = {"id": str(uuid.uuid4()), "sha256": SHA, "size": 10, "content_type": "image/jpeg"}


@pytest.mark.parametrize(
    "raw",
    [
        visit(),
        visit(id=str(uuid.uuid4()).upper()),
        visit(assignment_id=7),
        visit(assignment_id=None),
        visit(notes="Queue of six; one till open."),
        visit(notes=None),
        visit(photos=[]),
        visit(photos=[PHOTO, {**PHOTO, "id": str(uuid.uuid4()), "item": "queue.photo"}]),
        visit(photos=[{**PHOTO, "item": None}]),
        visit(revision=3, answers=[]),
    ],
)
def test_plain_visits_take_the_fast_path_and_load_as_the_schema_does(raw: dict[str, Any]) -> None:
    fast = load_plain_visit(copy.deepcopy(raw))
    assert fast is not None
    assert fast == schema_load(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "not an object",
        [visit()],
        visit(extra=1),
        visit(id=str(uuid.uuid1())),
        visit(id="not-a-uuid"),
        visit(id=5),
        visit(revision=0),
        visit(revision=True),
        visit(revision=1.0),
        visit(checklist={"slug": "mystery-shop"}),
        visit(checklist={"slug": "", "version": 1}),
        visit(checklist={"slug": "x", "version": 1, "more": 1}),
        visit(checklist="mystery-shop"),
        visit(location_id="3"),
        visit(location_id=False),
        visit(assignment_id="7"),
        visit(started_at="yesterday"),
        visit(finished_at="2026-11-23T09:20:00"),
        visit(finished_at="2026-11-23T08:00:00Z"),
        visit(answers={"greeting.smile": True}),
        visit(notes=5),
        visit(notes="x" * 20_001),
        visit(notes="Great \ud83d"),
        visit(id="01890a5d-ac96-7000-8000-000000000000"),
        visit(started_at="2026-W48-1T07:00:00Z"),
        visit(started_at="0001-01-01T00:00:00+01:00"),
        visit(answers=[{}] * 1001),
        visit(photos=[{**PHOTO, "item": "x" * 201}]),
        visit(photos=[{**PHOTO, "item": "Great \ud83d"}]),
        visit(checklist={"slug": "Great \ud83d", "version": 1}),
        visit(photos=None),
        visit(photos=[PHOTO, PHOTO]),
        visit(photos=[{**PHOTO, "sha256": SHA.upper()}]),
        visit(photos=[{**PHOTO, "size": 0}]),
        visit(photos=[{**PHOTO, "content_type": "image/gif"}]),
        visit(photos=[{**PHOTO, "content_type": ["image/jpeg"]}]),
        visit(photos=[{**PHOTO, "exif": {}}]),
        visit(photos=[{k: v for k, v in PHOTO.items() if k != "size"}]),
    ],
)
def test_anything_doubtful_is_left_to_the_schema(raw: Any) -> None:
    assert load_plain_visit(copy.deepcopy(raw)) is None


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(
        [
            "",
            "x",
            SHA,
            "image/png",
            "2026-11-23T10:00:00Z",
            "2026-W48-1T07:00:00Z",
            "0001-01-01T00:00:00+01:00",
            str(uuid.uuid4()),
            "01890a5d-ac96-7000-8000-000000000000",
            "Great \ud83d",
            "x" * 20_001,
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["slug", "version", "id", "size"]), children, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [*SCHEMA.fields, "unknown"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=4),
    st.lists(st.sampled_from(FIELDS), max_size=2),
)
def test_whatever_the_fast_path_accepts_the_schema_loads_the_same(
    changes: dict[str, Any], dropped: list[str]
) -> None:
    raw = visit(**changes)
    for name in dropped:
        raw.pop(name, None)
    fast = load_plain_visit(copy.deepcopy(raw))
    if fast is not None:
        assert fast == schema_load(raw)
