"""Checklist errors that name file and field, and loading a folder of checklist files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fieldobs.checklists.format import (
    ChecklistFileError,
    load_checklist_dir,
    load_checklist_file,
    parse_checklist,
)
from fieldobs.errors import Invalid
from tests.helpers.checklist_files import item_of, minimal, write_checklist

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
