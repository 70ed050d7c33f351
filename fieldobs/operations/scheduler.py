"""The scheduler: APScheduler fires each job's ticks in this process (Flask glue).

Every process may run the scheduler (started by `init_app` when SCHEDULER_ENABLED): a job's
ticks are aligned to the epoch (every `interval` seconds of wall-clock time), and `run_job`'s
lease makes each tick run once, whichever process fires it first. One-off CLI commands never
start the scheduler (fieldobs/cli/commands.py).
"""

from __future__ import annotations

import atexit
import os
from datetime import UTC, datetime

import click
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from flask.helpers import get_debug_flag

from fieldobs.db import storage_for
from fieldobs.extensions import settings_of
from fieldobs.operations.jobs import JOBS, run_job
from fieldobs.timeutil import utcnow

# Fire times are multiples of the interval since this instant, the same in every process.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

# The scheduler ---------------------------------------------------------------------------

SCHEDULER_KEY = "fieldobs.scheduler"


def _scheduled(app: Flask, name: str, interval: float) -> None:
    now = utcnow()
    # Fire times are multiples of the interval since EPOCH in every process: the same tick.
    tick = int((now - EPOCH).total_seconds() // interval)
    with app.app_context():
        db = storage_for(app).connection()
        run = run_job(db, name, settings_of(app), now, tick=tick)
    if run.ran:
        app.logger.info("job %s tick %s: %s", name, tick, run.error or run.result)


def start_scheduler(app: Flask) -> BackgroundScheduler:
    """Start this process's scheduler for the app (once); jobs with interval 0 are off."""
    existing: BackgroundScheduler | None = app.extensions.get(SCHEDULER_KEY)
    if existing is not None:
        return existing
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(len(JOBS))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    for name, seconds in settings_of(app).job_intervals.items():
        if seconds <= 0:
            continue
        scheduler.add_job(
            _scheduled,
            IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC),
            args=[app, name, seconds],
            id=name,
            name=name,
        )
    scheduler.start()
    app.extensions[SCHEDULER_KEY] = scheduler
    atexit.register(_shutdown, scheduler)
    return scheduler


def _shutdown(scheduler: BackgroundScheduler) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=False)


def init_app(app: Flask) -> None:
    """Start the scheduler in this process when SCHEDULER_ENABLED (not in a reloader's parent)."""
    if settings_of(app).scheduler_enabled and not _watches_for_the_reloader():
        start_scheduler(app)


def _watches_for_the_reloader() -> bool:
    """Tell whether this process is `fieldobs run --reload`'s parent, which never serves.

    Flask loads the app in the watching parent too; its child (WERKZEUG_RUN_MAIN=true) serves
    and, restarted on every change, runs the jobs.
    """
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return False
    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run":
        return False
    reload = context.params.get("reload")
    return bool(get_debug_flag() if reload is None else reload)
