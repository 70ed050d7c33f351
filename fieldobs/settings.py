"""Default settings; the factory layers the instance file and FIELDOBS_* env vars on top."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    "PAGE_SIZE_DEFAULT": 50,
    "PAGE_SIZE_MAX": 200,
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
