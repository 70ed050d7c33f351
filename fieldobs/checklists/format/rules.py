"""The checklist format's vocabulary: kinds, item types, id patterns and what scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KINDS = ("mystery_shop", "walkthrough")
CRITICAL_ZEROES = ("section", "visit")
PHOTO_SETTINGS = ("none", "optional", "required")
ITEM_TYPES = ("yes_no", "scale", "choice", "duration", "number", "text", "photo")

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SECTION_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
ITEM_ID_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
OPTION_ID_PATTERN = r"^[a-z0-9][a-z0-9_]*$"

DEFAULT_TEXT_MAX_LENGTH = 10_000
# A text answer is at most this long, whatever a file says: a visit's size stays bounded.
MAX_TEXT_MAX_LENGTH = 20_000


def is_scored(item: Mapping[str, Any]) -> bool:
    """Tell whether an item can contribute points to a score."""
    kind = item["type"]
    if kind in ("yes_no", "scale", "duration"):
        return True
    if kind == "choice":
        return any(option.get("score") is not None for option in item["options"])
    if kind == "number":
        return item.get("target") is not None and item.get("limit") is not None
    return False  # text and photo are evidence, never points
