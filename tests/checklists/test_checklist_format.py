"""The checklist file format: the shipped checklists, defaults and normalisation, hashing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fieldobs.checklists.format import (
    content_hash,
    is_scored,
    item_index,
    load_checklist_dir,
    load_checklist_file,
    parse_checklist,
)
from tests.helpers.checklist_files import CHECKLISTS, item_of, minimal, to_toml, write_checklist

# --- the real checklists --------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> dict[str, dict[str, Any]]:
    """Load the checklists shipped in checklists/."""
    return {d["slug"]: d for d in load_checklist_dir(CHECKLISTS)}


def test_real_checklists_load_sorted_by_slug() -> None:
    definitions = load_checklist_dir(CHECKLISTS)
    assert [d["slug"] for d in definitions] == ["back-to-the-floor", "mystery-shop"]
    assert [d["kind"] for d in definitions] == ["walkthrough", "mystery_shop"]


@pytest.mark.parametrize("slug", ["mystery-shop", "back-to-the-floor"])
def test_real_checklist_items_all_have_guidance(real: dict[str, dict[str, Any]], slug: str) -> None:
    for _, item in item_index(real[slug]).values():
        assert len(item["guidance"]) > 40, item["id"]


@pytest.mark.parametrize(
    "section", ["greeting", "ownership", "tone", "policy_friction", "problem_resolution"]
)
def test_real_mystery_shop_has_contract_sections(
    real: dict[str, dict[str, Any]], section: str
) -> None:
    ids = [s["id"] for s in real["mystery-shop"]["sections"]]
    assert section in ids


def test_real_mystery_shop_has_critical_reprimand_item(real: dict[str, dict[str, Any]]) -> None:
    _, item = item_index(real["mystery-shop"])["tone.no_reprimand_in_front_of_customers"]
    assert item["critical"] is True
    assert item["type"] == "yes_no"


def test_real_mystery_shop_uses_many_item_types(real: dict[str, dict[str, Any]]) -> None:
    types = {item["type"] for _, item in item_index(real["mystery-shop"]).values()}
    assert types == {"yes_no", "scale", "choice", "duration", "number", "text", "photo"}


# Everything that decides a score; prompts and guidance may be reworded per kind.
SCORING_KEYS = (
    "type",
    "weight",
    "critical",
    "allow_na",
    "required",
    "photo",
    "options",
    "min",
    "max",
    "target",
    "limit",
)


def test_walkthrough_shares_every_mystery_shop_item_with_the_same_scoring(
    real: dict[str, dict[str, Any]],
) -> None:
    shop = item_index(real["mystery-shop"])
    walk = item_index(real["back-to-the-floor"])
    assert set(shop) <= set(walk)
    for item_id, (shop_section, shop_item) in shop.items():
        walk_section, walk_item = walk[item_id]
        assert walk_section["id"] == shop_section["id"]
        assert walk_section["weight"] == shop_section["weight"], item_id
        for key in SCORING_KEYS:
            assert walk_item.get(key) == shop_item.get(key), f"{item_id}.{key}"


def test_walkthrough_adds_inside_view(real: dict[str, dict[str, Any]]) -> None:
    shop = item_index(real["mystery-shop"])
    extra = {i for i in item_index(real["back-to-the-floor"]) if i not in shop}
    assert extra
    assert all(item_id.startswith("inside_view.") for item_id in extra)
    types = {item_index(real["back-to-the-floor"])[i][1]["type"] for i in extra}
    assert "text" in types


# --- defaults and normalisation -------------------------------------------------------------


def test_load_fills_defaults(tmp_path: Path) -> None:
    definition = load_checklist_file(write_checklist(tmp_path, minimal()))
    assert definition["description"] == ""
    assert definition["critical_zeroes"] == "section"
    section = definition["sections"][0]
    assert section["weight"] == 1.0
    assert section["description"] == ""
    item = section["items"][0]
    assert {k: item[k] for k in ("weight", "critical", "allow_na", "photo", "guidance")} == {
        "weight": 1.0,
        "critical": False,
        "allow_na": False,
        "photo": "none",
        "guidance": "",
    }
    assert "version" not in definition


@pytest.mark.parametrize(
    ("item_id", "required"),
    [
        ("greeting.acknowledged", True),
        ("greeting.mood", True),
        ("greeting.welcome", True),
        ("greeting.wait", True),
        ("notes.queue", False),
        ("notes.summary", False),
        ("notes.photo", False),
    ],
)
def test_required_defaults_to_whether_the_item_is_scored(item_id: str, required: bool) -> None:
    _, item = item_index(parse_checklist(minimal()))[item_id]
    assert item["required"] is required
    assert is_scored(item) is required


def test_required_can_be_set_explicitly() -> None:
    data = minimal()
    item_of(data, 1, 1)["required"] = True
    item_of(data, 0, 0)["required"] = False
    index = item_index(parse_checklist(data))
    assert index["notes.summary"][1]["required"] is True
    assert index["greeting.acknowledged"][1]["required"] is False


@pytest.mark.parametrize(
    ("item_id", "extra"),
    [
        ("greeting.mood", {"labels": {}}),
        ("notes.queue", {"target": None, "limit": None, "unit": ""}),
        ("notes.summary", {"max_length": 10_000}),
        ("notes.photo", {"photo": "required"}),
    ],
)
def test_type_specific_defaults_are_filled(item_id: str, extra: dict[str, Any]) -> None:
    _, item = item_index(parse_checklist(minimal()))[item_id]
    assert {k: item[k] for k in extra} == extra


def test_choice_option_without_score_is_informational() -> None:
    data = minimal()
    item_of(data, 0, 2)["options"].append({"id": "other", "label": "Other"})
    _, item = item_index(parse_checklist(data))["greeting.welcome"]
    assert item["options"][-1] == {"id": "other", "label": "Other", "score": None}


def test_scale_labels_are_keyed_by_canonical_points(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    # Written by hand: TOML bare keys like 01 are text, so "01" must come out as "1".
    text = to_toml(minimal()).replace("max = 5", 'max = 5\nlabels = { 5 = "Great", 01 = "Poor" }')
    path.write_text(text, encoding="utf-8")
    _, item = item_index(load_checklist_file(path))["greeting.mood"]
    assert item["labels"] == {"1": "Poor", "5": "Great"}


def test_multiline_strings_are_trimmed(tmp_path: Path) -> None:
    text = to_toml(minimal()).replace(
        'title = "Demo"', 'title = "Demo"\ndescription = """\nFirst line \\\nsecond line.\n"""'
    )
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    assert load_checklist_file(path)["description"] == "First line second line."


def test_definition_is_json_serialisable_and_its_hash_survives_a_round_trip() -> None:
    definition = parse_checklist(minimal())
    round_tripped = json.loads(json.dumps(definition))
    assert round_tripped == definition
    assert content_hash(round_tripped) == content_hash(definition)


def test_content_hash_is_sha256_of_canonical_json() -> None:
    definition = parse_checklist(minimal())
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(definition) == hashlib.sha256(canonical.encode()).hexdigest()


def test_content_hash_treats_int_and_float_weights_alike() -> None:
    as_int, as_float = minimal(), minimal()
    item_of(as_int, 0, 0)["weight"] = 2
    item_of(as_float, 0, 0)["weight"] = 2.0
    assert content_hash(parse_checklist(as_int)) == content_hash(parse_checklist(as_float))


def test_content_hash_changes_with_content() -> None:
    changed = minimal()
    item_of(changed, 0, 0)["prompt"] = "Acknowledged promptly"
    assert content_hash(parse_checklist(changed)) != content_hash(parse_checklist(minimal()))


def test_item_index_maps_ids_to_section_and_item() -> None:
    definition = parse_checklist(minimal())
    section, item = item_index(definition)["notes.summary"]
    assert section["id"] == "notes"
    assert item["type"] == "text"
    assert len(item_index(definition)) == 7
