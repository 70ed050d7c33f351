"""The `fieldobs` command: Flask's commands (run, routes, shell) plus the project's own."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from fieldobs.cli.scores import scores_group
from fieldobs.db import get_db
from fieldobs.errors import FieldobsError
from fieldobs.extensions import current_settings
from fieldobs.lifecycle import initialise, startup_work
from fieldobs.people.accounts import create_user
from fieldobs.people.orgs import import_locations_csv
from fieldobs.people.scope import Role


def _fail(error: FieldobsError) -> None:
    click.echo(f"error: {error.message}", err=True)
    for field, problems in (error.fields or {}).items():
        for problem in problems:
            click.echo(f"  {field}: {problem}", err=True)
    sys.exit(1)


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Apply migrations and publish the checklists."""
    try:
        outcomes = initialise(current_app, strict=True)
    except FieldobsError as error:
        _fail(error)
    work = startup_work(current_app)
    if work.migrations:
        click.echo(f"database created or upgraded at {current_settings().data_dir}")
        click.echo(f"applied migrations: {', '.join(work.migrations)}")
    else:
        click.echo(f"database at {current_settings().data_dir} is up to date")
    _report_checklists(outcomes)


def _report_checklists(outcomes: list[dict[str, object]]) -> None:
    for outcome in outcomes:
        state = "published now" if outcome["published"] else "already published, unchanged"
        click.echo(f"checklist {outcome['slug']} v{outcome['version']}: {state}")


@click.group("checklists")
def checklists_group() -> None:
    """Manage checklists."""


@checklists_group.command("publish")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def publish_command(directory: Path | None) -> None:
    """Publish a new immutable version of each checklist file that changed."""
    from fieldobs.checklists.published import publish_directory

    try:
        outcomes = publish_directory(get_db(), directory or current_settings().checklists_dir)
    except FieldobsError as error:
        _fail(error)
    # The app's start-up may have published the same files an instant before this command.
    published = startup_work(current_app).published
    for outcome in outcomes:
        key = (str(outcome["slug"]), int(str(outcome["version"])))
        outcome["published"] = bool(outcome["published"]) or key in published
    _report_checklists(outcomes)


@click.group("users")
def users_group() -> None:
    """Manage users."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option("--location", "locations", type=int, multiple=True, help="Location id (managers).")
@click.option("--area", "areas", type=int, multiple=True, help="Area id (area leads).")
@click.option("--display-name")
@with_appcontext
def create_user_command(
    name: str,
    role: str,
    password: str,
    locations: tuple[int, ...],
    areas: tuple[int, ...],
    display_name: str | None,
) -> None:
    """Create a user NAME with a role and scope."""
    try:
        user = create_user(
            get_db(),
            username=name,
            password=password,
            role=role,
            display_name=display_name,
            location_ids=locations,
            area_ids=areas,
        )
    except FieldobsError as error:
        _fail(error)
    click.echo(f"created user {user['username']} (id {user['id']}, {user['role']})")


@click.group("locations")
def locations_group() -> None:
    """Manage locations."""


@locations_group.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_locations_command(csv_file: TextIO) -> None:
    """Import locations from CSV with columns name, area, timezone[, address, external_ref]."""
    try:
        counts = import_locations_csv(get_db(), csv_file.read())
    except FieldobsError as error:
        _fail(error)
    click.echo(
        f"imported: {counts['created']} created, {counts['updated']} updated,"
        f" {counts['areas_created']} areas created"
    )


@click.group("assignments")
def assignments_group() -> None:
    """Manage assignments."""


@assignments_group.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@with_appcontext
def import_assignments_command(csv_file: TextIO) -> None:
    """Create assignments from CSV: shopper, location_id (or location_ref), checklist,
    window_start, window_end. All rows or none; problems are reported by line."""
    from fieldobs.operations.assignment_import import import_assignments_csv
    from fieldobs.timeutil import utcnow

    policy = current_settings().assignments
    try:
        created = import_assignments_csv(
            get_db(), csv_file.read(), created_by=None, policy=policy, now=utcnow()
        )
    except FieldobsError as error:
        _fail(error)
    click.echo(f"imported: {len(created)} assignments created")


@click.group("jobs")
def jobs_group() -> None:
    """Run scheduled jobs by hand."""


@jobs_group.command("list")
@with_appcontext
def list_jobs_command() -> None:
    """List the scheduled jobs, their intervals and their last runs."""

    db = get_db()
    for name, seconds in current_settings().job_intervals.items():
        last = db.execute(
            "SELECT started_at, outcome FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT 1",
            [name],
        ).fetchone()
        every = f"every {seconds:g}s" if seconds > 0 else "off"
        ran = f"last run {last[0]} ({last[1] or 'running'})" if last else "never run"
        click.echo(f"{name:20} {every:14} {ran}")


@jobs_group.command("run")
@click.argument("name")
@with_appcontext
def run_job_command(name: str) -> None:
    """Run one job now (it waits for nobody: if it is running elsewhere, nothing happens)."""
    from fieldobs.operations.jobs import JOBS, run_job

    if name not in JOBS:
        click.echo(f"error: no job {name!r}; choose from {', '.join(JOBS)}", err=True)
        sys.exit(2)
    run = run_job(get_db(), name, current_settings())
    if not run.ran:
        click.echo(f"{name}: not run, {run.reason}", err=True)
        sys.exit(1)
    if run.error:
        click.echo(f"{name}: failed: {run.error}", err=True)
        sys.exit(1)
    click.echo(f"{name}: {json.dumps(run.result, default=str)}")


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduled jobs in the foreground until interrupted (a dedicated process)."""
    from fieldobs.operations.scheduler import start_scheduler

    # The scheduler's threads outlive this context: they need the app, not the proxy, which
    # Flask types as the app itself (so the proxy's own method is unknown to mypy).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = start_scheduler(app)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"scheduler running: {', '.join(j.id for j in scheduler.get_jobs())}")
    while not stop.wait(1):  # short waits: signal handlers run between them
        pass
    scheduler.shutdown(wait=True)


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Only seed when there are no users yet.")
@with_appcontext
def demo_command(if_empty: bool) -> None:
    """Seed a demo organisation and print how to sign in."""
    from fieldobs.demo import already_seeded, seed_demo

    db = get_db()
    if if_empty and db.execute("SELECT 1 FROM users LIMIT 1").fetchone():
        click.echo(already_seeded(db))
        return
    click.echo(seed_demo(db))


def init_app(app: Flask) -> None:
    """Register the project's commands on the app."""
    for command in (
        init_db_command,
        checklists_group,
        users_group,
        locations_group,
        demo_command,
        scores_group,
        assignments_group,
        jobs_group,
        scheduler_command,
    ):
        app.cli.add_command(command)


def _create_app() -> Flask:
    from fieldobs import create_app

    context = click.get_current_context(silent=True)
    if context is not None and context.info_name != "run":
        # One-off commands never start the scheduler: a job cut short when the command exits
        # would hold its lease until it lapses. `fieldobs scheduler` starts it explicitly.
        return create_app({"SCHEDULER_ENABLED": False})
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def cli() -> None:
    """Manage and run the fieldobs service."""


def main() -> None:
    """Run the `fieldobs` command."""
    cli()
