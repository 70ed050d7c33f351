"""Checklist files for tests: the shipped folder, a small valid checklist, a TOML writer."""

from __future__ import annotations

import json
import re
from copy import deepcopy
from pathlib import Path
from typing import Any

CHECKLISTS = Path(__file__).resolve().parents[2] / "checklists"

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
