"""`fieldobs scores ...`: recompute the score rollups from the visits."""

from __future__ import annotations

import os
import time

import click
from flask.cli import with_appcontext

from fieldobs.db import get_db
from fieldobs.scores.rebuild import rebuild
from fieldobs.storage.connection import transaction


@click.group("scores")
def scores_group() -> None:
    """Manage score rollups."""


@scores_group.command("rebuild")
@click.option(
    "--location", "locations", type=int, multiple=True, help="Only this location (repeatable)."
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=min(4, os.cpu_count() or 1),
    show_default=True,
    help="Worker processes that read and score the visits.",
)
@with_appcontext
def rebuild_command(locations: tuple[int, ...], processes: int) -> None:
    """Recompute the score rollups from the visits (e.g. after a location's time zone changed)."""
    db = get_db()
    started = time.perf_counter()
    with transaction(db):
        counted = rebuild(db, locations or None, processes=processes)
    elapsed = time.perf_counter() - started
    click.echo(f"scores rebuilt from {counted} counted visits in {elapsed:.1f} s")
