"""What photo handling is configured with, and how a finished upload was answered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fieldobs.errors import FieldobsError
from fieldobs.storage.connection import Database


@dataclass(frozen=True)
class PhotoSettings:
    """How photos are checked and stored (from the app config)."""

    max_bytes: int
    one_shot_max_bytes: int
    max_pixels: int
    max_side: int | None
    upload_expiry: timedelta
    # Pixels decoded at once: JPEGs are decoded DCT-scaled to fit, other formats refused above.
    max_decode_pixels: int
    # Photos decoded at the same time in one process; more wait their turn (memory, not CPU).
    decodes_per_process: int


@dataclass(frozen=True)
class PhotoOutcome:
    """How a completed upload was answered: 201 kept, 200 replay, else the refusal."""

    status: int
    photo: dict[str, Any] | None
    error: FieldobsError | None = None


Recorder = Callable[[Database, PhotoOutcome], None]
