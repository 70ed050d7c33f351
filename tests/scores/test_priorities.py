"""What to fix first: the checklist items that cost the most score points."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldobs.checklists.format import load_checklist_file
from fieldobs.scores.contribution import item_shares, scheme_of
from fieldobs.scoring.engine import score_visit
from tests.helpers.app import REPO, Org
from tests.helpers.score_helpers import Visits, get, history_app
from tests.helpers.visit_factory import answers_for

MYSTERY = load_checklist_file(REPO / "checklists" / "mystery-shop.toml")
WALKTHROUGH = load_checklist_file(REPO / "checklists" / "back-to-the-floor.toml")


@pytest.fixture
def app(data_dir: Path) -> Iterator[Flask]:
    yield from history_app(data_dir)


@pytest.fixture
def visits(app: Flask, client: FlaskClient, org: Org) -> Visits:
    return Visits(app, client, org)


def varied_answers(definition: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """Answer every item at its own random quality (critical items fail now and then)."""
    rng = random.Random(seed)
    answers = []
    for section in definition["sections"]:
        for item in section["items"]:
            answers.extend(answers_for({"sections": [{"items": [item]}]}, rng.random()))
    return answers


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    definition=st.sampled_from([MYSTERY, WALKTHROUGH]),
    whole_visit=st.booleans(),
)
def test_item_costs_add_up_to_what_the_visit_lost(
    seed: int, definition: dict[str, Any], whole_visit: bool
) -> None:
    definition = copy.deepcopy(definition)
    definition["critical_zeroes"] = "visit" if whole_visit else "section"
    result = score_visit(definition, varied_answers(definition, seed)).to_dict()
    shares = item_shares(result, scheme_of(definition))
    if result["score"] is None:
        assert shares == []
        return
    assert sum(share[5] for share in shares) == pytest.approx(100 - result["score"], abs=1e-6)
    failed = set(result["critical_failures"])
    for item, _section, _earned, _points, short, cost in shares:
        assert cost >= -1e-9
        if item in failed:
            assert short == 1


def test_a_failed_critical_item_carries_its_whole_section() -> None:
    answers = answers_for(MYSTERY, 1.0)
    for answer in answers:
        if answer["item"] in ("ownership.took_ownership", "ownership.offered_next_step"):
            answer["value"] = False
    result = score_visit(MYSTERY, answers).to_dict()
    costs = {share[0]: share[5] for share in item_shares(result, scheme_of(MYSTERY))}
    weights = {s["id"]: s["weight"] for s in MYSTERY["sections"] if s["id"] != "notes"}
    section_share = 100 * weights["ownership"] / sum(weights.values())
    assert costs["ownership.took_ownership"] == pytest.approx(section_share)
    # Fixing this item alone would not have changed the zeroed section.
    assert costs["ownership.offered_next_step"] == 0
    assert costs["ownership.followed_through"] == 0


def priorities(client: FlaskClient, org: Org, path: str, user: str = "admin") -> dict[str, Any]:
    response = get(client, org, path, user)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_items_are_ordered_by_score_points_lost_with_prompt_and_section(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    scores = [
        visits.score(visits.shop("leeds", f"2026-0{month}-10T10:00:00Z", quality))
        for month, quality in [(4, 0.6), (5, 0.75), (6, 0.5), (6, 1.0)]
    ]
    path = (
        f"/api/v1/locations/{org.locations['leeds']}/priorities?from=2026-04&to=2026-06&limit=200"
    )
    body = priorities(client, org, path, "manager")
    assert (body["from"], body["to"], body["n"]) == ("2026-04", "2026-06", 4)
    impacts = [item["impact"] for item in body["items"]]
    assert impacts == sorted(impacts, reverse=True)
    assert sum(impacts) == pytest.approx(body["lost"], abs=0.2)
    assert body["lost"] == pytest.approx(100 - sum(scores) / 4, abs=0.05)
    first = body["items"][0]
    assert first["prompt"]
    assert first["section_title"]
    assert first["item"].startswith(first["section"] + ".")
    assert first["frequency"] == pytest.approx(first["times_short"] / first["n"], abs=1e-3)


def test_a_critical_failure_is_what_to_fix_first(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    answers = answers_for(visits.checklist("mystery-shop"), 1.0)
    for answer in answers:
        if answer["item"] == "tone.no_reprimand_in_front_of_customers":
            answer["value"] = False
    for day in (3, 12):
        visit = visits.push("york", f"2026-06-{day:02d}T10:00:00Z", answers=answers)
        visits.release(visit)
    visits.shop("york", "2026-06-20T10:00:00Z", 0.75)
    body = priorities(
        client, org, f"/api/v1/locations/{org.locations['york']}/priorities?from=2026-06&to=2026-06"
    )
    top = body["items"][0]
    assert top["item"] == "tone.no_reprimand_in_front_of_customers"
    assert top["critical"] is True
    assert (top["times_short"], top["n"]) == (2, 3)


def test_the_default_is_the_last_three_months_and_months_widens_it(
    client: FlaskClient, org: Org
) -> None:
    base = f"/api/v1/locations/{org.locations['leeds']}/priorities"
    default = priorities(client, org, base)
    wider = priorities(client, org, f"{base}?months=12")
    assert default["to"] == wider["to"]
    assert (int(default["to"][:4]) * 12 + int(default["to"][5:])) - (
        int(default["from"][:4]) * 12 + int(default["from"][5:])
    ) == 2
    assert wider["items"] == []
    assert wider["n"] == 0


def test_area_priorities_add_up_the_area_s_locations(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.shop("leeds", "2026-06-10T10:00:00Z", 0.6)
    visits.shop("york", "2026-06-11T10:00:00Z", 0.75)
    visits.shop("brighton", "2026-06-11T10:00:00Z", 0.5)  # another area
    body = priorities(
        client,
        org,
        f"/api/v1/areas/{org.areas['north']}/priorities?from=2026-06&to=2026-06",
        "lead",
    )
    leeds = priorities(
        client,
        org,
        f"/api/v1/locations/{org.locations['leeds']}/priorities?from=2026-06&to=2026-06",
    )
    york = priorities(
        client, org, f"/api/v1/locations/{org.locations['york']}/priorities?from=2026-06&to=2026-06"
    )
    assert body["n"] == 2
    assert body["lost"] == pytest.approx((leeds["lost"] + york["lost"]) / 2, abs=0.1)


def test_walkthrough_priorities_are_asked_for_separately(
    client: FlaskClient, org: Org, visits: Visits
) -> None:
    visits.walk("leeds", "2026-06-10T10:00:00Z", 0.6)
    base = f"/api/v1/locations/{org.locations['leeds']}/priorities?from=2026-06&to=2026-06"
    assert priorities(client, org, base)["n"] == 0
    walks = priorities(client, org, f"{base}&kind=walkthrough&limit=50", "manager")
    assert walks["n"] == 1
    assert any(item["section"] == "inside_view" for item in walks["items"])
