"""Checklist files: TOML in `checklists/`, validated and normalised by a marshmallow schema.

A checklist file is reviewed in pull requests like code, so every mistake is reported with the
file and the path of the offending key (`sections.1.items.0.weight`), and unknown keys are
rejected rather than silently ignored (a typo like `alow_na` must not pass review unnoticed).
The format itself is documented in `checklists/README.md`.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from fieldobs.checklists.format.rules import is_scored
from fieldobs.checklists.format.sections import ChecklistSchema
from fieldobs.errors import Invalid, flatten_messages

__all__ = [
    "ChecklistFileError",
    "canonical_json",
    "content_hash",
    "is_scored",
    "item_index",
    "load_checklist_dir",
    "load_checklist_file",
    "parse_checklist",
]


class ChecklistFileError(Invalid):
    """A checklist file (or a directory of them) is unreadable or invalid."""

    code = "invalid_checklist"
    default_message = "A checklist file is invalid."


# --- public API -------------------------------------------------------------------------------


def _error(
    problems: dict[str, list[str]], hints: Mapping[str, str] | None = None
) -> ChecklistFileError:
    """Build an error from `<file>:<path>` keyed problems, the first one in the message."""
    first_key, first_problems = next(iter(problems.items()))
    hint = (hints or {}).get(first_key, "")
    message = f"{first_key}{hint}: {first_problems[0]}"
    extra = sum(len(p) for p in problems.values()) - 1
    if extra:
        message += f" (and {extra} more problem{'s' if extra > 1 else ''})"
    return ChecklistFileError(message, fields=problems)


def _owner_hint(data: Any, path: str) -> str:
    """Name the innermost section or item along a path, to make the message easy to act on."""
    owner = ""
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            break
        if isinstance(node, Mapping) and isinstance(node.get("id"), str):
            owner = node["id"]
    return f" (in '{owner}')" if owner else ""


def _file_error(
    source: str, problems: dict[str, list[str]], data: Any = None
) -> ChecklistFileError:
    """Build an error whose message and fields name the file and each bad path."""
    keyed = {f"{source}:{path}": list(messages) for path, messages in problems.items()}
    hints = {f"{source}:{path}": _owner_hint(data, path) for path in problems}
    return _error(keyed, hints)


def parse_checklist(data: Mapping[str, Any], source: str = "<checklist>") -> dict[str, Any]:
    """Validate parsed checklist data and return the normalised definition."""
    try:
        definition: dict[str, Any] = ChecklistSchema().load(data)
    except ValidationError as error:
        raise _file_error(source, flatten_messages(error.messages), data) from error
    return definition


def load_checklist_file(path: Path) -> dict[str, Any]:
    """Read, validate and normalise one checklist TOML file."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise _file_error(
            source, {"_file": [f"Cannot read the file: {error.strerror}."]}
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise _file_error(source, {"_file": [f"Not valid TOML: {error}."]}) from error
    return parse_checklist(data, source)


def load_checklist_dir(directory: Path) -> list[dict[str, Any]]:
    """Load every `*.toml` in a directory, sorted by slug; report all bad files at once."""
    if not directory.is_dir():
        raise _file_error(str(directory), {"_file": ["Not a directory."]})
    problems: dict[str, list[str]] = {}
    by_slug: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            definition = load_checklist_file(path)
        except ChecklistFileError as error:
            problems.update(error.fields or {})
            continue
        slug = definition["slug"]
        if slug in by_slug:
            problems[f"{path}:slug"] = [f"Slug '{slug}' is already used by {by_slug[slug][0]}."]
            continue
        by_slug[slug] = (path, definition)
    if problems:
        raise _error(problems)
    return [by_slug[slug][1] for slug in sorted(by_slug)]


def canonical_json(definition: Mapping[str, Any]) -> str:
    """Serialise a definition canonically: sorted keys, compact separators, UTF-8 text."""
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(definition: Mapping[str, Any]) -> str:
    """Return the sha256 hex digest of the definition's canonical JSON."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


def item_index(definition: Mapping[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Map each item id to its (section, item) pair."""
    return {
        item["id"]: (section, item)
        for section in definition["sections"]
        for item in section["items"]
    }
