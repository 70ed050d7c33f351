"""The shopper's side of review: returned visits, their corrections, and reminders."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import Any

from fieldobs_sync.cli.context import OK, Context, photo_arg, read_json_object
from fieldobs_sync.corrections import ReturnedVisit, correction_body, queue_correction
from fieldobs_sync.corrections import queued_correction as find_correction
from fieldobs_sync.outbox import Outbox
from fieldobs_sync.photos import PhotoFile
from fieldobs_sync.pull import Replica


def _returned(replica: Replica, visit_id: str | None = None) -> list[ReturnedVisit]:
    """Return the returned visits held (one, when an id is given)."""
    if visit_id is None:
        return [ReturnedVisit.from_feed(item) for item in replica.returned_visits()]
    item = replica.returned_visit(visit_id)
    if item is None:
        raise ValueError(
            f"visit {visit_id} is not awaiting correction here; run sync to fetch returned visits"
        )
    return [ReturnedVisit.from_feed(item)]


def _prompts(replica: Replica, checklist: Mapping[str, Any]) -> dict[str, str]:
    """Return item prompts by id for a checklist version, when the replica holds it."""
    version = checklist.get("version")
    found = replica.checklist(
        str(checklist.get("slug")), version if isinstance(version, int) else None
    )
    if found is None or found.get("version") != version:
        return {}
    return {
        str(item.get("id")): str(item.get("prompt") or "")
        for section in found.get("sections") or []
        for item in section.get("items") or []
    }


def _local_state(outbox: Outbox, returned: ReturnedVisit) -> dict[str, Any] | None:
    """Describe the correction queued on this device, if any."""
    entry = find_correction(outbox, returned)
    if entry is None:
        return None
    return {"seq": entry.seq, "revision": entry.revision, "state": entry.state}


def show_returned(args: argparse.Namespace, ctx: Context) -> int:
    """List returned visits with the reviewer's notes, or print one's body to correct."""
    with Outbox(ctx.db) as outbox, Replica(ctx.db) as replica:
        found = _returned(replica, args.id)
        if args.body:
            if args.id is None:
                raise ValueError("--body needs a visit id")
            body = correction_body(found[0])
            print(json.dumps(body, indent=2, ensure_ascii=False), file=ctx.out)
            return OK
        if args.json:
            rows = [
                {
                    "id": r.id,
                    "revision": r.revision,
                    "next_revision": r.next_revision,
                    "checklist": r.checklist,
                    "location_id": r.location_id,
                    "returned_at": r.returned_at,
                    "note": r.note,
                    "item_comments": r.item_comments,
                    "correction": _local_state(outbox, r),
                }
                for r in found
            ]
            print(json.dumps(rows, indent=2, ensure_ascii=False), file=ctx.out)
            return OK
        if not found:
            print("no visit is awaiting correction", file=ctx.out)
        for r in found:
            _print_returned(r, _prompts(replica, r.checklist), _local_state(outbox, r), ctx)
    return OK


def _print_returned(
    r: ReturnedVisit, prompts: Mapping[str, str], local: Mapping[str, Any] | None, ctx: Context
) -> None:
    """Print one returned visit: what the reviewer asked, and how to answer."""
    print(
        f"visit {r.id} (revision {r.revision}, {r.checklist.get('slug')} "
        f"v{r.checklist.get('version')}, location {r.location_id}) returned {r.returned_at}",
        file=ctx.out,
    )
    print(f"  note: {r.note or '(none)'}", file=ctx.out)
    for item, comment in r.item_comments.items():
        prompt = prompts.get(item)
        label = f"{item} ({prompt})" if prompt else item
        print(f"  {label}: {comment}", file=ctx.out)
    if local is not None:
        print(
            f"  correction queued as revision {local['revision']} (#{local['seq']},"
            f" {local['state']})",
            file=ctx.out,
        )
    else:
        print(
            f"  to correct: fieldobs-sync returned {r.id} --body > visit.json, edit it, then"
            f" fieldobs-sync correct {r.id} --file visit.json",
            file=ctx.out,
        )


def correct(args: argparse.Namespace, ctx: Context) -> int:
    """Queue the correction of a returned visit as its next revision."""
    photos = [photo_arg(spec) for spec in args.photo]
    edited = read_json_object(args.file) if args.file is not None else None
    with Outbox(ctx.db) as outbox, Replica(ctx.db) as replica:
        return requeue_returned(outbox, replica, args.id, edited, photos, ctx)


def requeue_returned(
    outbox: Outbox,
    replica: Replica,
    visit_id: str,
    edited: Mapping[str, Any] | None,
    photos: Sequence[PhotoFile],
    ctx: Context,
) -> int:
    """Queue a returned visit's correction and say so."""
    [returned] = _returned(replica, visit_id)
    entry = queue_correction(outbox, returned, edited, photos)
    print(
        f"queued the correction of visit {entry.visit_id} as revision {entry.revision}"
        f" (#{entry.seq}); run sync to send it",
        file=ctx.out,
    )
    return OK


def print_pending_returns(outbox: Outbox, replica: Replica, ctx: Context) -> int:
    """Say how many returned visits still wait for a correction; return that number."""
    waiting = [r for r in _returned(replica) if find_correction(outbox, r) is None]
    if waiting:
        print(
            f"{len(waiting)} visit(s) returned for correction: `fieldobs-sync returned` shows"
            " what to fix",
            file=ctx.out,
        )
    return len(waiting)


def print_reminders(reminders: Sequence[Mapping[str, Any]], ctx: Context) -> None:
    """Print reminders, one a line."""
    for note in reminders:
        print(f"reminder: {note.get('message')}", file=ctx.out)


def show_reminders(args: argparse.Namespace, ctx: Context) -> int:
    """List the reminders the server sent (moot ones are withdrawn by the server)."""
    with Replica(ctx.db) as replica:
        found = replica.notifications()
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False), file=ctx.out)
        return OK
    if not found:
        print("no reminders", file=ctx.out)
    for note in found:
        where = f" (assignment {note['assignment_id']})" if note.get("assignment_id") else ""
        print(f"{note.get('created_at')}  {note.get('message')}{where}", file=ctx.out)
    return OK
