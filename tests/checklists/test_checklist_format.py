"""The checklist file format: loading, defaults, errors that name file and field, hashing."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from fieldobs.checklists.format import (
    ChecklistFileError,
    content_hash,
    is_scored,
    item_index,
    load_checklist_dir,
    load_checklist_file,
    parse_checklist,
)
from fieldobs.errors import Invalid

CHECKLISTS = Path(__file__).resolve().parents[2] / "checklists"

# --- helpers (also used by the answer and scoring tests) -------------------------------------

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    """Return a TOML key, quoted when it is not bare."""
    return key if BARE_KEY.match(key) else json.dumps(key)


def toml_value(value: Any) -> str:
    """Return a TOML inline value (JSON strings are valid TOML basic strings here)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """Write a checklist dict as TOML, sections and items as arrays of tables."""
    # Empty arrays of tables have no [[...]] syntax, so they are written inline.
    lines = [
        f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items() if k != "sections" or not v
    ]
    for section in data.get("sections") or []:
        lines += ["", "[[sections]]"]
        lines += [
            f"{toml_key(k)} = {toml_value(v)}" for k, v in section.items() if k != "items" or not v
        ]
        for item in section.get("items") or []:
            lines += ["", "[[sections.items]]"]
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


MINIMAL: dict[str, Any] = {
    "slug": "demo",
    "title": "Demo",
    "kind": "mystery_shop",
    "sections": [
        {
            "id": "greeting",
            "title": "Greeting",
            "items": [
                {"id": "greeting.acknowledged", "prompt": "Acknowledged", "type": "yes_no"},
                {"id": "greeting.mood", "prompt": "Mood", "type": "scale", "min": 1, "max": 5},
                {
                    "id": "greeting.welcome",
                    "prompt": "Welcome",
                    "type": "choice",
                    "options": [
                        {"id": "warm", "label": "Warm", "score": 1},
                        {"id": "none", "label": "None", "score": 0},
                    ],
                },
                {
                    "id": "greeting.wait",
                    "prompt": "Wait",
                    "type": "duration",
                    "target": 30,
                    "limit": 120,
                },
            ],
        },
        {
            "id": "notes",
            "title": "Notes",
            "items": [
                {"id": "notes.queue", "prompt": "Queue", "type": "number"},
                {"id": "notes.summary", "prompt": "Summary", "type": "text"},
                {"id": "notes.photo", "prompt": "Photo", "type": "photo"},
            ],
        },
    ],
}


def minimal() -> dict[str, Any]:
    """Return a fresh copy of a small valid checklist using every item type."""
    return deepcopy(MINIMAL)


def write_checklist(directory: Path, data: dict[str, Any], name: str = "demo.toml") -> Path:
    """Write a checklist dict as a TOML file and return its path."""
    path = directory / name
    path.write_text(to_toml(data), encoding="utf-8")
    return path


def item_of(data: dict[str, Any], section: int, item: int) -> dict[str, Any]:
    """Return one raw item of a checklist dict."""
    result: dict[str, Any] = data["sections"][section]["items"][item]
    return result


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


# --- broken files ---------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    """Return a mutation setting one key, deep in the dict."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _drop(path: tuple[Any, ...]) -> Mutation:
    """Return a mutation deleting one key, deep in the dict."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _duplicate_section_id(data: dict[str, Any]) -> None:
    """Give the second section the id of the first (items renamed to match)."""
    data["sections"][1]["id"] = "greeting"
    for item in data["sections"][1]["items"]:
        item["id"] = item["id"].replace("notes.", "greeting.")


def _critical_choice_without_zero(data: dict[str, Any]) -> None:
    """Make the choice item critical while no option scores 0."""
    item_of(data, 0, 2)["critical"] = True
    item_of(data, 0, 2)["options"][1]["score"] = 0.5


def _duplicate_option(data: dict[str, Any]) -> None:
    """Repeat an option id."""
    item_of(data, 0, 2)["options"][1]["id"] = "warm"


I = ("sections", 0, "items")  # noqa: E741 (a short prefix keeps the table readable)
BROKEN: list[tuple[str, Mutation, str, str]] = [
    ("missing slug", _drop(("slug",)), "slug", "Missing data"),
    ("bad slug", _set(("slug",), "Mystery Shop"), "slug", "mystery-shop"),
    ("bad kind", _set(("kind",), "audit"), "kind", "Must be one of"),
    ("bad critical_zeroes", _set(("critical_zeroes",), "area"), "critical_zeroes", "one of"),
    ("version in file", _set(("version",), 2), "version", "publishing assigns it"),
    ("unknown top key", _set(("colour",), "red"), "colour", "Unknown field"),
    ("no sections", _set(("sections",), []), "sections", "at least one section"),
    ("empty section", _set(("sections", 1, "items"), []), "sections.1.items", "at least one"),
    ("section weight 0", _set(("sections", 0, "weight"), 0), "sections.0.weight", "than 0"),
    ("bad section id", _set(("sections", 0, "id"), "Greeting"), "sections.0.id", "lowercase"),
    ("duplicate section id", _duplicate_section_id, "sections.1.id", "Duplicate section id"),
    ("item weight 0", _set((*I, 0, "weight"), 0), "sections.0.items.0.weight", "than 0"),
    ("weight as text", _set((*I, 0, "weight"), "2"), "sections.0.items.0.weight", "Not a number"),
    ("na as int", _set((*I, 0, "allow_na"), 1), "sections.0.items.0.allow_na", "Not a boolean"),
    ("unknown item key", _set((*I, 0, "alow_na"), True), "sections.0.items.0.alow_na", "Unknown"),
    ("bad type", _set((*I, 0, "type"), "stars"), "sections.0.items.0.type", "Must be one of"),
    ("no type", _drop((*I, 0, "type")), "sections.0.items.0.type", "Missing data"),
    ("blank prompt", _set((*I, 0, "prompt"), "  "), "sections.0.items.0.prompt", "blank"),
    ("id prefix", _set((*I, 0, "id"), "tone.ok"), "sections.0.items.0.id", "'greeting.'"),
    ("id style", _set((*I, 0, "id"), "greeting"), "sections.0.items.0.id", "lowercase"),
    ("bad photo", _set((*I, 0, "photo"), "maybe"), "sections.0.items.0.photo", "one of"),
    ("scale key on yes_no", _set((*I, 0, "min"), 1), "sections.0.items.0.min", "Unknown"),
    ("scale min = max", _set((*I, 1, "max"), 1), "sections.0.items.1.max", "greater than min"),
    ("scale float", _set((*I, 1, "max"), 5.0), "sections.0.items.1.max", "Not an integer"),
    ("scale no min", _drop((*I, 1, "min")), "sections.0.items.1.min", "Missing"),
    ("label off scale", _set((*I, 1, "labels"), {"7": "x"}), "sections.0.items.1.labels", "'7'"),
    ("duplicate option", _duplicate_option, "sections.0.items.2.options.1.id", "Duplicate"),
    ("option score > 1", _set((*I, 2, "options", 0, "score"), 1.5), "options.0.score", "0 and 1"),
    ("one option", _set((*I, 2, "options"), [{"id": "a", "label": "A"}]), "items.2.options", "2"),
    ("option key", _set((*I, 2, "options", 0, "points"), 1), "options.0.points", "Unknown"),
    ("critical choice no zero", _critical_choice_without_zero, "items.2.options", "score 0"),
    ("duration target = limit", _set((*I, 3, "limit"), 30), "items.3.limit", "than target"),
    ("duration no limit", _drop((*I, 3, "limit")), "sections.0.items.3.limit", "Missing"),
    ("negative target", _set((*I, 3, "target"), -1), "sections.0.items.3.target", "0 or more"),
    ("number half", _set(("sections", 1, "items", 0, "target"), 2), "1.items.0.limit", "both"),
    (
        "critical text",
        _set(("sections", 1, "items", 1, "critical"), True),
        "1.items.1.critical",
        "unscored",
    ),
    (
        "optional photo item",
        _set(("sections", 1, "items", 2, "photo"), "optional"),
        "sections.1.items.2.photo",
        "always requires",
    ),
    ("text max_length 0", _set(("sections", 1, "items", 1, "max_length"), 0), "max_length", "0"),
    (
        "text max_length beyond what a visit may carry",
        _set(("sections", 1, "items", 1, "max_length"), 20_001),
        "max_length",
        "20000",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path_suffix", "fragment"),
    [pytest.param(m, p, f, id=name) for name, m, p, f in BROKEN],
)
def test_broken_file_error_names_file_and_field(
    tmp_path: Path, mutate: Mutation, path_suffix: str, fragment: str
) -> None:
    data = minimal()
    mutate(data)
    path = write_checklist(tmp_path, data)
    with pytest.raises(ChecklistFileError) as caught:
        load_checklist_file(path)
    error = caught.value
    assert isinstance(error, Invalid)
    assert error.status == 422
    assert error.fields
    matching = [
        (key, problems)
        for key, problems in error.fields.items()
        if key.startswith(f"{path}:") and key.endswith(path_suffix)
    ]
    assert matching, error.fields
    assert any(fragment in problem for _, problems in matching for problem in problems)
    assert str(path) in error.message
    assert path_suffix in error.message or len(error.fields) > 1


def test_duplicate_item_ids_across_sections_are_rejected() -> None:
    data = minimal()
    item_of(data, 0, 1)["id"] = "greeting.acknowledged"
    with pytest.raises(ChecklistFileError) as caught:
        parse_checklist(data, "x.toml")
    assert caught.value.fields == {
        "x.toml:sections.0.items.1.id": [
            "Duplicate item id 'greeting.acknowledged' (first at sections.0.items.0)."
        ]
    }


def test_error_message_names_the_item_at_fault(tmp_path: Path) -> None:
    data = minimal()
    item_of(data, 0, 3)["weight"] = -1
    path = write_checklist(tmp_path, data)
    with pytest.raises(ChecklistFileError) as caught:
        load_checklist_file(path)
    assert caught.value.message == (
        f"{path}:sections.0.items.3.weight (in 'greeting.wait'): Must be greater than 0."
    )


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('slug = "demo"\ntitle = \n', encoding="utf-8")
    with pytest.raises(ChecklistFileError) as caught:
        load_checklist_file(path)
    assert str(path) in caught.value.message
    assert "line 2" in caught.value.message
    assert list(caught.value.fields or {}) == [f"{path}:_file"]


def test_missing_file_is_a_checklist_error(tmp_path: Path) -> None:
    with pytest.raises(ChecklistFileError, match="Cannot read"):
        load_checklist_file(tmp_path / "absent.toml")


def test_error_body_follows_the_contract(tmp_path: Path) -> None:
    data = minimal()
    data["kind"] = "audit"
    path = write_checklist(tmp_path, data)
    with pytest.raises(ChecklistFileError) as caught:
        load_checklist_file(path)
    body = caught.value.to_dict()["error"]
    assert body["code"] == "invalid_checklist"
    assert list(body["fields"]) == [f"{path}:kind"]


# --- directories ----------------------------------------------------------------------------


def test_load_dir_sorts_by_slug_and_ignores_other_files(tmp_path: Path) -> None:
    for slug in ("zeta", "alpha"):
        data = minimal()
        data["slug"] = slug
        write_checklist(tmp_path, data, f"{slug}.toml")
    (tmp_path / "README.md").write_text("# not a checklist\n", encoding="utf-8")
    assert [d["slug"] for d in load_checklist_dir(tmp_path)] == ["alpha", "zeta"]


def test_load_dir_rejects_duplicate_slugs(tmp_path: Path) -> None:
    first = write_checklist(tmp_path, minimal(), "a.toml")
    second = write_checklist(tmp_path, minimal(), "b.toml")
    with pytest.raises(ChecklistFileError) as caught:
        load_checklist_dir(tmp_path)
    assert caught.value.fields == {f"{second}:slug": [f"Slug 'demo' is already used by {first}."]}


def test_load_dir_reports_every_broken_file(tmp_path: Path) -> None:
    for name in ("one", "two"):
        data = minimal()
        data["slug"] = name
        data["kind"] = "audit"
        write_checklist(tmp_path, data, f"{name}.toml")
    with pytest.raises(ChecklistFileError) as caught:
        load_checklist_dir(tmp_path)
    assert set(caught.value.fields or {}) == {
        f"{tmp_path / 'one.toml'}:kind",
        f"{tmp_path / 'two.toml'}:kind",
    }
    assert "1 more problem" in caught.value.message


def test_load_dir_of_nothing_is_empty(tmp_path: Path) -> None:
    assert load_checklist_dir(tmp_path) == []


def test_load_missing_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ChecklistFileError, match="Not a directory"):
        load_checklist_dir(tmp_path / "absent")
