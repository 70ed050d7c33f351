"""What every command gets: its home directory and its terminal (injectable for tests)."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from fieldobs_sync import config
from fieldobs_sync.photos import PhotoFile, describe_photo

OK, ATTENTION, ERROR = 0, 1, 2


@dataclass(frozen=True)
class Context:
    """A command's state directory, output, input and password prompt."""

    home: Path
    out: TextIO
    stdin: TextIO
    prompt: Callable[[str], str]

    @property
    def db(self) -> Path:
        """Return the SQLite file of the outbox and replica (creating the home)."""
        return config.db_path(self.home)


Command = Callable[[argparse.Namespace, Context], int]


def photo_arg(spec: str) -> PhotoFile:
    """Turn `ID=PATH` (or a bare PATH) into a described photo file."""
    head, sep, tail = spec.partition("=")
    if sep:
        try:
            uuid.UUID(head)
        except ValueError:
            pass
        else:
            return describe_photo(tail, head)
    return describe_photo(spec)


def read_json_object(path: Path) -> dict[str, Any]:
    """Read a visit JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a visit must be a JSON object")
    return data
