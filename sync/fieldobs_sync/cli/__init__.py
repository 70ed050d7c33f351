"""Run `fieldobs-sync` / `python -m fieldobs_sync`: queue visits offline, sync when online."""

# Exit status: 0 all clear; 1 something needs the user's attention (a refused visit or photo,
# a visit returned for correction); 2 an error (network, login, bad input) left work for later.

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from fieldobs_sync import config
from fieldobs_sync.cli import login, returned, visits
from fieldobs_sync.cli.context import ERROR, Command, Context
from fieldobs_sync.errors import AuthError, SyncError

PHOTO_HELP = "a photo file, as ID=PATH (or PATH for a new id); repeatable"


def _parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help=f"state directory (default $FIELDOBS_SYNC_HOME or {config.DEFAULT_HOME})",
    )
    parser = argparse.ArgumentParser(
        prog="fieldobs-sync", description="Offline sync of fieldobs visits.", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    login.add_parser(sub, common)

    p = sub.add_parser("queue", parents=[common], help="queue a visit and its photos")
    p.add_argument("visit", type=Path, help="the visit JSON (the PUT /api/v1/visits body)")
    p.add_argument("--photo", action="append", default=[], metavar="ID=PATH", help=PHOTO_HELP)

    p = sub.add_parser("sync", parents=[common], help="push visits and photos, pull changes")
    p.add_argument("--no-push", action="store_true", help="do not push visits")
    p.add_argument("--no-photos", action="store_true", help="do not upload photos")
    p.add_argument("--no-pull", action="store_true", help="do not pull changes")

    p = sub.add_parser("status", parents=[common], help="list entries by state")
    p.add_argument("--all", action="store_true", help="list done and replaced entries too")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser(
        "requeue", parents=[common], help="send a visit that needs attention (or was returned)"
    )
    p.add_argument("id", help="the visit id")
    p.add_argument("--file", type=Path, help="the corrected visit JSON (default: unchanged)")
    p.add_argument("--revision", type=int, help="force this revision")
    p.add_argument("--photo", action="append", default=[], metavar="ID=PATH", help=PHOTO_HELP)

    p = sub.add_parser("discard", parents=[common], help="give up on a visit, explicitly")
    p.add_argument("id", help="the visit id")

    p = sub.add_parser(
        "returned", parents=[common], help="list visits returned for correction, with notes"
    )
    p.add_argument("id", nargs="?", help="show only this visit")
    p.add_argument(
        "--body", action="store_true", help="print the visit as JSON, to edit into a correction"
    )
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("correct", parents=[common], help="queue the correction of a returned visit")
    p.add_argument("id", help="the visit id")
    p.add_argument("--file", type=Path, help="the corrected visit JSON (default: as stored)")
    p.add_argument("--photo", action="append", default=[], metavar="ID=PATH", help=PHOTO_HELP)

    p = sub.add_parser("reminders", parents=[common], help="list reminders from the server")
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser


_COMMANDS: dict[str, Command] = {
    "login": login.login,
    "queue": visits.queue,
    "sync": visits.sync,
    "status": visits.status,
    "requeue": visits.requeue,
    "discard": visits.discard,
    "returned": returned.show_returned,
    "correct": returned.correct,
    "reminders": returned.show_reminders,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] | None = None,
) -> int:
    """Run the CLI and return its exit status."""
    args = _parser().parse_args(argv)
    ctx = Context(
        home=config.home_dir(getattr(args, "home", None)),
        out=out or sys.stdout,
        stdin=stdin or sys.stdin,
        prompt=prompt or getpass.getpass,
    )
    try:
        return _COMMANDS[args.command](args, ctx)
    except AuthError as exc:
        print(f"error: the server refused the token ({exc.message}); run login again", file=ctx.out)
    except (SyncError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=ctx.out)
    return ERROR
