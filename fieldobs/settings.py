"""Settings: defaults, layered with the instance file and FIELDOBS_* env vars, typed once."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from fieldobs.operations.assignment_rules import AssignmentPolicy
from fieldobs.operations.delivery import DeliverySettings
from fieldobs.operations.webhook_targets import TargetPolicy, system_resolver
from fieldobs.people.throttle import LoginPolicy
from fieldobs.photos.policy import PhotoSettings
from fieldobs.storage.connection import SYNCHRONOUS_LEVELS
from fieldobs.visits.push import PushPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_checklists_dir() -> Path:
    """Return checklists/ of a source checkout, else the copy installed with the package."""
    source = PROJECT_ROOT / "checklists"
    if source.is_dir():
        return source
    # A wheel ships checklists/ as this package (see setup.py); it has no __init__.py.
    spec = importlib.util.find_spec("fieldobs.bundled_checklists")
    if spec is None or not spec.submodule_search_locations:
        raise SettingsError("FIELDOBS_CHECKLISTS_DIR must be set: no checklists came installed")
    return Path(next(iter(spec.submodule_search_locations)))


DEFAULTS: dict[str, Any] = {
    # Where the SQLite database and the photos live.
    "DATA_DIR": "./var",
    # Signs sync cursors and keys shopper pseudonyms: set a long random value in production.
    "SECRET_KEY": "dev-only-secret-change-me",
    # The checklist files published at start; empty: those that came with the service.
    "CHECKLISTS_DIR": "",
    # Migrate and publish checklists when the app starts (off in tests that do it themselves).
    "AUTO_INIT": True,
    "TOKEN_TTL_HOURS": 24 * 30,
    # FULL: an acknowledged visit survives power loss, not only a crash.
    "SQLITE_SYNCHRONOUS": "FULL",
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    "SYNC_BATCH_MAX": 100,
    # A location with fewer mystery shops than this in the month is listed unranked.
    "RANKING_MIN_VISITS": 3,
    # A device clock this far ahead of (or behind) the server's is flagged and not trusted.
    "CLOCK_FUTURE_TOLERANCE_MINUTES": 10,
    "CLOCK_PAST_TOLERANCE_DAYS": 60,
    "MAX_PHOTO_BYTES": 40 * 1024 * 1024,
    "MAX_PHOTO_PIXELS": 50_000_000,
    # Pixels one photo may decode at once (memory ~4-8 bytes each): a JPEG above it is decoded
    # DCT-scaled (its copy served smaller); PNG, WebP, HEIC and AVIF above it are refused (422).
    "MAX_DECODE_PIXELS": 25_000_000,
    # Photos decoded at the same time in one process (gthread workers); more wait their turn.
    "PHOTO_DECODES_PER_PROCESS": 1,
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
    # Run the scheduled jobs (fieldobs/operations/scheduler.py) here; safe in every worker.
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
    # An endpoint failing this long without a success is paused: its deliveries are kept and
    # one is tried every WEBHOOK_PROBE_SECONDS; a success or an admin's resume restarts it.
    "WEBHOOK_PAUSE_AFTER_SECONDS": 3600,
    "WEBHOOK_PROBE_SECONDS": 900,
    # Allow webhook URLs on loopback and private addresses (an on-premises receiver);
    # link-local (cloud metadata) and unspecified addresses stay refused.
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": False,
    # Python config only: a function (host, port) -> [address] resolving webhook hosts; tests
    # give one so that no DNS query leaves them. None: the system's resolver.
    "WEBHOOK_RESOLVER": None,
    "JSON_SORT_KEYS": False,
    # Request bodies (fieldobs/api/limits.py): larger ones are refused with 413 before reading.
    "MAX_JSON_BODY_BYTES": 64 * 1024,  # every JSON endpoint not listed below
    "MAX_VISIT_BODY_BYTES": 1024 * 1024,  # PUT /visits/<id>
    "MAX_BATCH_BODY_BYTES": 8 * 1024 * 1024,  # POST /sync/visits (up to SYNC_BATCH_MAX visits)
    "MAX_IMPORT_BODY_BYTES": 4 * 1024 * 1024,  # CSV imports
    # Failed sign-ins (fieldobs/people/throttle.py): this many are free, then each one doubles
    # the wait (from BASE to MAX seconds); counts are forgotten after MEMORY quiet seconds.
    "LOGIN_FREE_FAILURES_PER_USER": 5,
    "LOGIN_FREE_FAILURES_PER_ADDRESS": 20,
    "LOGIN_DELAY_BASE_SECONDS": 1,
    "LOGIN_DELAY_MAX_SECONDS": 900,
    "LOGIN_FAILURE_MEMORY_SECONDS": 86_400,
    # Password checks (scrypt) at once per process; others wait, so requests keep their threads.
    "LOGIN_HASH_CONCURRENCY": 1,
    # Proxies in front that append to X-Forwarded-For; 0: the client is the socket's peer.
    "TRUSTED_PROXIES": 0,
    # How long a console sign-in lasts.
    "CONSOLE_SESSION_HOURS": 12,
    # A visit scoring at least this (in %) counts as a pass in the console's key figures.
    "CONSOLE_PASS_MARK": 80,
    # Any new value pushes the field app's shell to phones again with no file changed.
    "FIELD_APP_BUILD": "",
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


Number = TypeVar("Number", int, float)


def _non_negative(kind: Callable[[Any], Number]) -> Callable[[Any], Number]:
    def convert(value: Any) -> Number:
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        number = kind(value)
        if number < 0:
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


def _positive(value: Any) -> int:
    number = INT(value)
    if number < 1:
        raise ValueError("zero")
    return number


NUMBER = _non_negative(float)


def _percentage(value: Any) -> float:
    number = NUMBER(value)
    if number > 100:
        raise ValueError("over 100")
    return number


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
    ranking_min_visits: int
    photo_cache_seconds: int
    unclaimed_photo_days: float
    upload_tombstone_days: float
    scheduler_enabled: bool
    job_intervals: dict[str, float]
    job_lease_seconds: float
    job_run_keep_days: float
    backup_keep: int
    assignment_remind_hours: float
    max_json_body_bytes: int
    max_visit_body_bytes: int
    max_batch_body_bytes: int
    max_import_body_bytes: int
    trusted_proxies: int
    console_session_hours: float
    console_pass_mark: float
    field_app_build: str
    login: LoginPolicy
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
            checklists_dir=Path(config.get("CHECKLISTS_DIR") or default_checklists_dir())
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
            ranking_min_visits=_read(config, "RANKING_MIN_VISITS", INT, "a whole number"),
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
            max_json_body_bytes=_read(config, "MAX_JSON_BODY_BYTES", INT, "a number of bytes"),
            max_visit_body_bytes=_read(config, "MAX_VISIT_BODY_BYTES", INT, "bytes"),
            max_batch_body_bytes=_read(config, "MAX_BATCH_BODY_BYTES", INT, "bytes"),
            max_import_body_bytes=_read(config, "MAX_IMPORT_BODY_BYTES", INT, "bytes"),
            trusted_proxies=_read(config, "TRUSTED_PROXIES", INT, "a whole number"),
            console_session_hours=_read(config, "CONSOLE_SESSION_HOURS", NUMBER, "hours"),
            console_pass_mark=_read(config, "CONSOLE_PASS_MARK", _percentage, "0 to 100"),
            field_app_build=str(config.get("FIELD_APP_BUILD") or ""),
            login=LoginPolicy(
                free_failures_per_user=_read(
                    config, "LOGIN_FREE_FAILURES_PER_USER", INT, "a whole number"
                ),
                free_failures_per_address=_read(
                    config, "LOGIN_FREE_FAILURES_PER_ADDRESS", INT, "a whole number"
                ),
                base_delay=_read(config, "LOGIN_DELAY_BASE_SECONDS", NUMBER, "seconds"),
                max_delay=_read(config, "LOGIN_DELAY_MAX_SECONDS", NUMBER, "seconds"),
                memory=_read(config, "LOGIN_FAILURE_MEMORY_SECONDS", NUMBER, "seconds"),
                hash_concurrency=max(
                    1, _read(config, "LOGIN_HASH_CONCURRENCY", INT, "a whole number")
                ),
            ),
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
                max_decode_pixels=_read(config, "MAX_DECODE_PIXELS", INT, "a whole number"),
                decodes_per_process=_read(config, "PHOTO_DECODES_PER_PROCESS", _positive, "≥ 1"),
            ),
            webhooks=DeliverySettings(
                secret_key=secret_key,
                timeout=_read(config, "WEBHOOK_TIMEOUT_SECONDS", NUMBER, "a number"),
                max_attempts=_read(config, "WEBHOOK_MAX_ATTEMPTS", INT, "a whole number"),
                backoff=_read(config, "WEBHOOK_BACKOFF_SECONDS", NUMBER, "a number"),
                backoff_max=_read(config, "WEBHOOK_BACKOFF_MAX_SECONDS", NUMBER, "a number"),
                batch=_read(config, "WEBHOOK_BATCH", INT, "a whole number"),
                pause_after=_read(config, "WEBHOOK_PAUSE_AFTER_SECONDS", NUMBER, "a number"),
                probe_every=_read(config, "WEBHOOK_PROBE_SECONDS", NUMBER, "a number"),
                targets=TargetPolicy(
                    allow_private=_read(
                        config, "WEBHOOK_ALLOW_PRIVATE_TARGETS", _flag, "true or false"
                    ),
                    resolver=config.get("WEBHOOK_RESOLVER") or system_resolver,
                ),
            ),
            assignments=AssignmentPolicy(
                cooldown_days=_read(config, "REASSIGN_COOLDOWN_DAYS", NUMBER, "a number of days")
            ),
        )
