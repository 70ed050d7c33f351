"""Settings: defaults, layered with the instance file and FIELDOBS_* env vars, typed once."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from fieldobs.operations.assignments import AssignmentPolicy
from fieldobs.operations.webhooks import DeliverySettings
from fieldobs.photos.service import PhotoSettings
from fieldobs.storage.connection import SYNCHRONOUS_LEVELS
from fieldobs.visits.push import PushPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    # Where the SQLite database and the photos live.
    "DATA_DIR": "./var",
    # Signs sync cursors and keys shopper pseudonyms: set a long random value in production.
    "SECRET_KEY": "dev-only-secret-change-me",
    "CHECKLISTS_DIR": str(PROJECT_ROOT / "checklists"),
    # Migrate and publish checklists when the app starts (off in tests that do it themselves).
    "AUTO_INIT": True,
    "TOKEN_TTL_HOURS": 24 * 30,
    # FULL: an acknowledged visit survives power loss, not only a crash.
    "SQLITE_SYNCHRONOUS": "FULL",
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "SYNC_BATCH_MAX": 100,
    # A device clock this far ahead of (or behind) the server's is flagged and not trusted.
    "CLOCK_FUTURE_TOLERANCE_MINUTES": 10,
    "CLOCK_PAST_TOLERANCE_DAYS": 60,
    "MAX_PHOTO_BYTES": 40 * 1024 * 1024,
    "MAX_PHOTO_PIXELS": 50_000_000,
    "ONE_SHOT_PHOTO_MAX_BYTES": 8 * 1024 * 1024,
    "UPLOAD_EXPIRY_HOURS": 72,
    # Served photos are scaled to this long side; 0 keeps them at full size.
    "PHOTO_MAX_SIDE": 0,
    # How long a browser may reuse a photo it fetched (its bytes never change).
    "PHOTO_CACHE_SECONDS": 86_400,
    # A photo whose visit never arrived is deleted this long after it was received.
    "UNCLAIMED_PHOTO_DAYS": 30,
    # An expired upload answers 410 (not 404) for this long, then its record is deleted.
    "UPLOAD_TOMBSTONE_DAYS": 30,
    # Run the scheduled jobs (fieldobs/jobs.py) in this process; safe in every worker.
    "SCHEDULER_ENABLED": False,
    # Seconds between runs of each scheduled job; 0 turns a job off. Missing names keep these.
    "JOB_INTERVALS": {
        "expire_assignments": 60,
        "remind_assignments": 300,
        "deliver_webhooks": 10,
        "purge_uploads": 3600,
        "backup": 86_400,
    },
    # A running job renews its lease every third of this; after a crash, another process
    # may take the job over once the lease lapses.
    "JOB_LEASE_SECONDS": 120,
    "JOB_RUN_KEEP_DAYS": 14,
    "BACKUP_KEEP": 7,
    "REASSIGN_COOLDOWN_DAYS": 90,
    # Shoppers are reminded (in their pull feed) this long before an open window closes.
    "ASSIGNMENT_REMIND_HOURS": 24,
    "WEBHOOK_TIMEOUT_SECONDS": 5,
    # Retries wait BACKOFF * 2^(attempt-1) seconds, at most BACKOFF_MAX; then the delivery fails.
    "WEBHOOK_MAX_ATTEMPTS": 10,
    "WEBHOOK_BACKOFF_SECONDS": 30,
    "WEBHOOK_BACKOFF_MAX_SECONDS": 6 * 3600,
    "WEBHOOK_BATCH": 100,
    "JSON_SORT_KEYS": False,
    # flask-smorest / OpenAPI
    "API_TITLE": "fieldobs",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
}


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


T = TypeVar("T")


def _read(config: Mapping[str, Any], key: str, convert: Callable[[Any], T], rule: str) -> T:
    try:
        return convert(config[key])
    except (TypeError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise SettingsError(f"FIELDOBS_{key} must be {rule} (got {config.get(key)!r})") from error


def _non_negative(kind: Callable[[Any], T]) -> Callable[[Any], T]:
    def convert(value: Any) -> T:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        number = kind(value)
        if number < 0:  # type: ignore[operator]
            raise ValueError("negative")
        return number

    return convert


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("empty")
    return value


def _synchronous(value: Any) -> str:
    level = str(value).upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ValueError(level)
    return level


def _intervals(value: Any) -> dict[str, float]:
    given = json.loads(value) if isinstance(value, str) else dict(value or {})
    merged = {**DEFAULTS["JOB_INTERVALS"], **given}
    unknown = set(merged) - set(DEFAULTS["JOB_INTERVALS"])
    if unknown:
        raise ValueError(f"unknown jobs {sorted(unknown)}")
    return {name: _non_negative(float)(seconds) for name, seconds in merged.items()}


INT = _non_negative(int)
NUMBER = _non_negative(float)


@dataclass(frozen=True)
class Settings:
    """Every setting the service reads, typed and checked once when the app is made."""

    data_dir: Path
    database: Path
    secret_key: str
    checklists_dir: Path
    auto_init: bool
    token_ttl_hours: float
    sqlite_synchronous: str
    sqlite_busy_timeout_ms: int
    sync_batch_max: int
    photo_cache_seconds: int
    unclaimed_photo_days: float
    upload_tombstone_days: float
    scheduler_enabled: bool
    job_intervals: dict[str, float]
    job_lease_seconds: float
    job_run_keep_days: float
    backup_keep: int
    assignment_remind_hours: float
    push: PushPolicy
    photos: PhotoSettings
    webhooks: DeliverySettings
    assignments: AssignmentPolicy

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Type and check the merged config; a bad value raises SettingsError naming it."""
        # Resolved once: a relative folder must not mean something else per working directory.
        data_dir = Path(_read(config, "DATA_DIR", _text, "a folder")).expanduser().resolve()
        database = config.get("DATABASE")
        secret_key = _read(config, "SECRET_KEY", _text, "a non-empty string")
        return cls(
            data_dir=data_dir,
            database=Path(database).expanduser().resolve()
            if database
            else data_dir / "fieldobs.db",
            secret_key=secret_key,
            checklists_dir=Path(_read(config, "CHECKLISTS_DIR", _text, "a folder"))
            .expanduser()
            .resolve(),
            auto_init=_read(config, "AUTO_INIT", _flag, "true or false"),
            token_ttl_hours=_read(config, "TOKEN_TTL_HOURS", NUMBER, "a number of hours"),
            sqlite_synchronous=_read(
                config,
                "SQLITE_SYNCHRONOUS",
                _synchronous,
                f"one of {', '.join(SYNCHRONOUS_LEVELS)}",
            ),
            sqlite_busy_timeout_ms=_read(config, "SQLITE_BUSY_TIMEOUT_MS", INT, "a whole number"),
            sync_batch_max=_read(config, "SYNC_BATCH_MAX", INT, "a whole number"),
            photo_cache_seconds=_read(config, "PHOTO_CACHE_SECONDS", INT, "a whole number"),
            unclaimed_photo_days=_read(config, "UNCLAIMED_PHOTO_DAYS", NUMBER, "a number of days"),
            upload_tombstone_days=_read(config, "UPLOAD_TOMBSTONE_DAYS", NUMBER, "a number"),
            scheduler_enabled=_read(config, "SCHEDULER_ENABLED", _flag, "true or false"),
            job_intervals=_read(
                config, "JOB_INTERVALS", _intervals, "a JSON object of job name to seconds"
            ),
            job_lease_seconds=_read(config, "JOB_LEASE_SECONDS", NUMBER, "a number of seconds"),
            job_run_keep_days=_read(config, "JOB_RUN_KEEP_DAYS", NUMBER, "a number of days"),
            backup_keep=_read(config, "BACKUP_KEEP", INT, "a whole number"),
            assignment_remind_hours=_read(config, "ASSIGNMENT_REMIND_HOURS", NUMBER, "a number"),
            push=PushPolicy(
                future_tolerance=timedelta(
                    minutes=_read(config, "CLOCK_FUTURE_TOLERANCE_MINUTES", NUMBER, "a number")
                ),
                past_tolerance=timedelta(
                    days=_read(config, "CLOCK_PAST_TOLERANCE_DAYS", NUMBER, "a number")
                ),
            ),
            photos=PhotoSettings(
                max_bytes=_read(config, "MAX_PHOTO_BYTES", INT, "a number of bytes"),
                one_shot_max_bytes=_read(config, "ONE_SHOT_PHOTO_MAX_BYTES", INT, "bytes"),
                max_pixels=_read(config, "MAX_PHOTO_PIXELS", INT, "a whole number"),
                max_side=_read(config, "PHOTO_MAX_SIDE", INT, "a whole number") or None,
                upload_expiry=timedelta(
                    hours=_read(config, "UPLOAD_EXPIRY_HOURS", NUMBER, "a number of hours")
                ),
            ),
            webhooks=DeliverySettings(
                secret_key=secret_key,
                timeout=_read(config, "WEBHOOK_TIMEOUT_SECONDS", NUMBER, "a number"),
                max_attempts=_read(config, "WEBHOOK_MAX_ATTEMPTS", INT, "a whole number"),
                backoff=_read(config, "WEBHOOK_BACKOFF_SECONDS", NUMBER, "a number"),
                backoff_max=_read(config, "WEBHOOK_BACKOFF_MAX_SECONDS", NUMBER, "a number"),
                batch=_read(config, "WEBHOOK_BATCH", INT, "a whole number"),
            ),
            assignments=AssignmentPolicy(
                cooldown_days=_read(config, "REASSIGN_COOLDOWN_DAYS", NUMBER, "a number of days")
            ),
        )
