"""The outbox commands: queue, sync, status, requeue, discard."""

from __future__ import annotations

import argparse
import json

from fieldobs_sync import config
from fieldobs_sync.cli.context import ATTENTION, ERROR, OK, Context, photo_arg, read_json_object
from fieldobs_sync.cli.returned import print_pending_returns, print_reminders, requeue_returned
from fieldobs_sync.client import ApiClient
from fieldobs_sync.engine import Syncer, SyncReport
from fieldobs_sync.errors import OutboxError
from fieldobs_sync.outbox import NEEDS_ATTENTION, Entry, Outbox
from fieldobs_sync.photos import attach_photos
from fieldobs_sync.pull import Replica
from fieldobs_sync.records import new_id


def queue(args: argparse.Namespace, ctx: Context) -> int:
    """Queue a visit file with its photos."""
    visit = read_json_object(args.visit)
    # Ids are made on the phone: a visit written by hand may leave them to us.
    visit.setdefault("id", new_id())
    visit.setdefault("revision", 1)
    photos = [photo_arg(spec) for spec in args.photo]
    body = attach_photos(visit, photos)
    with Outbox(ctx.db) as outbox:
        entry = outbox.queue(body, photos)
    print(
        f"queued visit {entry.visit_id} revision {entry.revision} (#{entry.seq}) with "
        f"{len(entry.photo_ids)} photo(s)",
        file=ctx.out,
    )
    return OK


def sync(args: argparse.Namespace, ctx: Context) -> int:
    """Run one sync."""
    cfg = config.load(ctx.home)
    if cfg is None:
        print("error: not logged in; run login URL USER first", file=ctx.out)
        return ERROR
    client = ApiClient(cfg.base_url, cfg.token)
    with Outbox(ctx.db) as outbox, Replica(ctx.db) as replica:
        report = Syncer(client, outbox, replica).run(
            push=not args.no_push, photos=not args.no_photos, pull=not args.no_pull
        )
        _print_report(report, ctx)
        awaiting = print_pending_returns(outbox, replica, ctx)
    if report.errors:
        return ERROR
    return ATTENTION if report.remaining.get(NEEDS_ATTENTION) or awaiting else OK


def _print_report(report: SyncReport, ctx: Context) -> None:
    """Print a sync summary."""
    print(
        f"pushed {len(report.acknowledged)} visit(s) ({len(report.replayed)} already on the "
        f"server, {len(report.corrected)} correction(s) accepted), "
        f"{len(report.needs_attention)} need attention",
        file=ctx.out,
    )
    print(
        f"uploaded {len(report.photos_uploaded)} photo(s), {len(report.photos_refused)} refused",
        file=ctx.out,
    )
    if report.pull is not None:
        p = report.pull
        deleted = (
            p.deleted_locations
            + p.deleted_assignments
            + p.deleted_returned_visits
            + p.deleted_notifications
        )
        print(
            f"pulled {p.pages} page(s): {p.checklists} checklist(s), {p.locations} "
            f"location(s), {p.assignments} assignment(s), {p.returned_visits} returned "
            f"visit(s), {p.notifications} reminder(s), {deleted} deletion(s)"
            + (" after starting over" if p.restarted else ""),
            file=ctx.out,
        )
        print_reminders(p.reminders, ctx)
    left = report.remaining
    print(
        f"outbox: {left.get('pending', 0)} pending, {left.get('sent', 0)} waiting for photos, "
        f"{left.get('needs_attention', 0)} need attention, {left.get('done', 0)} done",
        file=ctx.out,
    )
    for error in report.errors:
        print(f"error: {error}", file=ctx.out)


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


def status(args: argparse.Namespace, ctx: Context) -> int:
    """List outbox entries by state."""
    with Outbox(ctx.db) as outbox:
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
        print(json.dumps(rows, indent=2), file=ctx.out)
        return OK
    shown: tuple[str, ...] = ("needs_attention", "pending", "sent")
    if args.all:
        shown += ("done", "superseded", "discarded")
    for state in shown:
        group = [e for e in entries if e.state == state]
        if not group:
            continue
        print(f"{state} ({len(group)})", file=ctx.out)
        for e in group:
            mine = [photos[p] for p in e.photo_ids if p in photos]
            waiting = sum(1 for p in mine if p.state == "pending")
            refused = sum(1 for p in mine if p.state == "needs_attention")
            line = f"  #{e.seq} {e.visit_id} rev {e.revision}"
            if waiting:
                line += f", {waiting} photo(s) to upload"
            if refused:
                line += f", {refused} photo(s) refused"
            print(line, file=ctx.out)
            if state == "needs_attention":
                print(f"    {_describe_error(e)}", file=ctx.out)
            elif e.last_error:
                print(f"    last try ({e.attempts} so far): {e.last_error}", file=ctx.out)
    hidden = sum(1 for e in entries if e.state not in shown)
    if hidden:
        print(
            f"({hidden} finished entr{'y' if hidden == 1 else 'ies'} hidden; --all shows them)",
            file=ctx.out,
        )
    if not entries:
        print("outbox is empty", file=ctx.out)
    return OK


def requeue(args: argparse.Namespace, ctx: Context) -> int:
    """Requeue a visit that needs attention, or correct one a reviewer returned."""
    photos = [photo_arg(spec) for spec in args.photo]
    edited = read_json_object(args.file) if args.file is not None else None
    with Outbox(ctx.db) as outbox, Replica(ctx.db) as replica:
        # A returned visit is corrected, unless its correction itself needs attention.
        waiting = outbox.entries([NEEDS_ATTENTION], visit_id=args.id)
        corrections = [e for e in waiting if e.correction]
        if not corrections and replica.returned_visit(args.id) is not None:
            return requeue_returned(outbox, replica, args.id, edited, photos, ctx)
        body = attach_photos(edited, photos) if edited is not None else None
        try:
            entry = outbox.requeue(args.id, body, revision=args.revision, photos=photos)
        except OutboxError as exc:
            print(f"error: {exc}", file=ctx.out)
            return ERROR
    if entry.state == "sent":
        print(f"visit {entry.visit_id}: refused photos will be uploaded again", file=ctx.out)
    else:
        print(
            f"requeued visit {entry.visit_id} as revision {entry.revision} (#{entry.seq})",
            file=ctx.out,
        )
    return OK


def discard(args: argparse.Namespace, ctx: Context) -> int:
    """Discard a visit's open entries."""
    with Outbox(ctx.db) as outbox:
        gone = outbox.discard(args.id)
    print(
        f"discarded {len(gone)} entr{'y' if len(gone) == 1 else 'ies'} of visit {args.id}",
        file=ctx.out,
    )
    return OK
