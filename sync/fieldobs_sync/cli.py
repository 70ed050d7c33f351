"""Run `fieldobs-sync` / `python -m fieldobs_sync`: queue visits offline, sync when online."""

# Exit status: 0 all clear; 1 something needs the user's attention; 2 an error (network,
# login, bad input) left work for later.

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from fieldobs_sync import config
from fieldobs_sync.client import ApiClient
from fieldobs_sync.engine import Syncer, SyncReport
from fieldobs_sync.errors import AuthError, OutboxError, SyncError
from fieldobs_sync.outbox import NEEDS_ATTENTION, Entry, Outbox
from fieldobs_sync.photos import PhotoFile, attach_photos, describe_photo
from fieldobs_sync.pull import Replica

OK, ATTENTION, ERROR = 0, 1, 2


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

    p = sub.add_parser("login", parents=[common], help="get a token and remember the server")
    p.add_argument("url", help="server base URL, e.g. http://127.0.0.1:5000")
    p.add_argument("user")
    p.add_argument("password")

    photo_help = "a photo file, as ID=PATH (or PATH for a new id); repeatable"
    p = sub.add_parser("queue", parents=[common], help="queue a visit and its photos")
    p.add_argument("visit", type=Path, help="the visit JSON (the PUT /api/v1/visits body)")
    p.add_argument("--photo", action="append", default=[], metavar="ID=PATH", help=photo_help)

    p = sub.add_parser("sync", parents=[common], help="push visits and photos, pull changes")
    p.add_argument("--no-push", action="store_true", help="do not push visits")
    p.add_argument("--no-photos", action="store_true", help="do not upload photos")
    p.add_argument("--no-pull", action="store_true", help="do not pull changes")

    p = sub.add_parser("status", parents=[common], help="list entries by state")
    p.add_argument("--all", action="store_true", help="list done and replaced entries too")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("requeue", parents=[common], help="send a visit that needs attention again")
    p.add_argument("id", help="the visit id")
    p.add_argument("--file", type=Path, help="the corrected visit JSON (default: unchanged)")
    p.add_argument("--revision", type=int, help="force this revision")
    p.add_argument("--photo", action="append", default=[], metavar="ID=PATH", help=photo_help)

    p = sub.add_parser("discard", parents=[common], help="give up on a visit, explicitly")
    p.add_argument("id", help="the visit id")
    return parser


def _photo_arg(spec: str) -> PhotoFile:
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


def _read_visit(path: Path) -> dict[str, Any]:
    """Read a visit JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a visit must be a JSON object")
    return data


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the CLI and return its exit status."""
    args = _parser().parse_args(argv)
    stdout = out or sys.stdout
    home = config.home_dir(getattr(args, "home", None))
    try:
        return _COMMANDS[args.command](args, home, stdout)
    except AuthError as exc:
        print(f"error: the server refused the token ({exc.message}); run login again", file=stdout)
    except (SyncError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=stdout)
    return ERROR


def _login(args: argparse.Namespace, home: Path, out: TextIO) -> int:
    """Log in and save the token."""
    client = ApiClient(args.url)
    token = client.login(args.user, args.password)
    config.save(home, config.Config(client.base_url, args.user, token, client.role))
    print(
        f"logged in to {client.base_url} as {args.user} ({client.role or 'role unknown'})", file=out
    )
    return OK


def _queue(args: argparse.Namespace, home: Path, out: TextIO) -> int:
    """Queue a visit file with its photos."""
    visit = _read_visit(args.visit)
    # Ids are made on the phone: a visit written by hand may leave them to us.
    visit.setdefault("id", str(uuid.uuid4()))
    visit.setdefault("revision", 1)
    photos = [_photo_arg(spec) for spec in args.photo]
    body = attach_photos(visit, photos)
    with Outbox(config.db_path(home)) as outbox:
        entry = outbox.queue(body, photos)
    print(
        f"queued visit {entry.visit_id} revision {entry.revision} (#{entry.seq}) with "
        f"{len(entry.photo_ids)} photo(s)",
        file=out,
    )
    return OK


def _sync(args: argparse.Namespace, home: Path, out: TextIO) -> int:
    """Run one sync."""
    cfg = config.load(home)
    if cfg is None:
        print("error: not logged in; run login URL USER PASSWORD first", file=out)
        return ERROR
    client = ApiClient(cfg.base_url, cfg.token)
    path = config.db_path(home)
    with Outbox(path) as outbox, Replica(path) as replica:
        report = Syncer(client, outbox, replica).run(
            push=not args.no_push, photos=not args.no_photos, pull=not args.no_pull
        )
    _print_report(report, out)
    if report.errors:
        return ERROR
    return ATTENTION if report.remaining.get(NEEDS_ATTENTION) else OK


def _print_report(report: SyncReport, out: TextIO) -> None:
    """Print a sync summary."""
    print(
        f"pushed {len(report.acknowledged)} visit(s) ({len(report.replayed)} already on the "
        f"server), {len(report.needs_attention)} need attention",
        file=out,
    )
    print(
        f"uploaded {len(report.photos_uploaded)} photo(s), {len(report.photos_refused)} refused",
        file=out,
    )
    if report.pull is not None:
        p = report.pull
        deleted = p.deleted_locations + p.deleted_assignments
        print(
            f"pulled {p.pages} page(s): {p.checklists} checklist(s), {p.locations} "
            f"location(s), {p.assignments} assignment(s), {deleted} deletion(s)"
            + (" after starting over" if p.restarted else ""),
            file=out,
        )
    left = report.remaining
    print(
        f"outbox: {left.get('pending', 0)} pending, {left.get('sent', 0)} waiting for photos, "
        f"{left.get('needs_attention', 0)} need attention, {left.get('done', 0)} done",
        file=out,
    )
    for error in report.errors:
        print(f"error: {error}", file=out)


def _describe_error(entry: Entry) -> str:
    """Return a one-line account of why an entry needs attention."""
    err = entry.error or {}
    if "photo_id" in err:
        inner = err.get("error") or {}
        return f"photo {err['photo_id']} refused: {inner.get('code')}: {inner.get('message')}"
    text = f"HTTP {entry.http_status} {err.get('code')}: {err.get('message')}"
    for name, problems in (err.get("fields") or {}).items():
        text += f"\n      {name}: {'; '.join(map(str, problems))}"
    server = err.get("server")
    if server:
        text += f"\n      server holds revision {server.get('revision')} ({server.get('status')})"
    return text


def _status(args: argparse.Namespace, home: Path, out: TextIO) -> int:
    """List outbox entries by state."""
    with Outbox(config.db_path(home)) as outbox:
        entries = outbox.entries()
        photos = {p.photo_id: p for p in outbox.photos()}
    if args.json:
        rows = [
            {
                "seq": e.seq,
                "visit_id": e.visit_id,
                "revision": e.revision,
                "state": e.state,
                "http_status": e.http_status,
                "error": e.error,
                "last_error": e.last_error,
                "attempts": e.attempts,
                "photos": {pid: photos[pid].state for pid in e.photo_ids if pid in photos},
            }
            for e in entries
        ]
        print(json.dumps(rows, indent=2), file=out)
        return OK
    shown: tuple[str, ...] = ("needs_attention", "pending", "sent")
    if args.all:
        shown += ("done", "superseded", "discarded")
    for state in shown:
        group = [e for e in entries if e.state == state]
        if not group:
            continue
        print(f"{state} ({len(group)})", file=out)
        for e in group:
            mine = [photos[p] for p in e.photo_ids if p in photos]
            waiting = sum(1 for p in mine if p.state == "pending")
            refused = sum(1 for p in mine if p.state == "needs_attention")
            line = f"  #{e.seq} {e.visit_id} rev {e.revision}"
            if waiting:
                line += f", {waiting} photo(s) to upload"
            if refused:
                line += f", {refused} photo(s) refused"
            print(line, file=out)
            if state == "needs_attention":
                print(f"    {_describe_error(e)}", file=out)
            elif e.last_error:
                print(f"    last try ({e.attempts} so far): {e.last_error}", file=out)
    hidden = sum(1 for e in entries if e.state not in shown)
    if hidden:
        print(
            f"({hidden} finished entr{'y' if hidden == 1 else 'ies'} hidden; --all shows them)",
            file=out,
        )
    if not entries:
        print("outbox is empty", file=out)
    return OK


def _requeue(args: argparse.Namespace, home: Path, out: TextIO) -> int:
    """Requeue a visit that needs attention."""
    photos = [_photo_arg(spec) for spec in args.photo]
    body = None
    if args.file is not None:
        body = attach_photos(_read_visit(args.file), photos)
    with Outbox(config.db_path(home)) as outbox:
        try:
            entry = outbox.requeue(args.id, body, revision=args.revision, photos=photos)
        except OutboxError as exc:
            print(f"error: {exc}", file=out)
            return ERROR
    if entry.state == "sent":
        print(f"visit {entry.visit_id}: refused photos will be uploaded again", file=out)
    else:
        print(
            f"requeued visit {entry.visit_id} as revision {entry.revision} (#{entry.seq})", file=out
        )
    return OK


def _discard(args: argparse.Namespace, home: Path, out: TextIO) -> int:
    """Discard a visit's open entries."""
    with Outbox(config.db_path(home)) as outbox:
        gone = outbox.discard(args.id)
    print(
        f"discarded {len(gone)} entr{'y' if len(gone) == 1 else 'ies'} of visit {args.id}", file=out
    )
    return OK


_COMMANDS = {
    "login": _login,
    "queue": _queue,
    "sync": _sync,
    "status": _status,
    "requeue": _requeue,
    "discard": _discard,
}
