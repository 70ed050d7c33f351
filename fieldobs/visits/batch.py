"""Batch push: many prepared visits in one transaction; one bad visit never fails the others."""

from __future__ import annotations

import json
import logging
from typing import Any

from fieldobs.errors import FieldobsError
from fieldobs.people.scope import Principal
from fieldobs.storage.connection import Database, rows, transaction
from fieldobs.timeutil import to_rfc3339, utcnow
from fieldobs.visits.prepare import PreparedVisit, prepare_visits, unexpected
from fieldobs.visits.push import (
    PushPolicy,
    PushResult,
    announce,
    commit_visit,
    insert_children,
    new_row,
)

LOG = logging.getLogger(__name__)


def push_batch(
    db: Database, principal: Principal, raws: list[Any], *, policy: PushPolicy
) -> list[dict[str, Any]]:
    """Validate and score many pushed visits, store them in one transaction; one result each.

    Whatever goes wrong with one visit (a bad field, a conflict, an unexpected exception) is
    that visit's result; the others are stored.
    """
    results: list[dict[str, Any]] = [{} for _ in raws]
    prepared: list[tuple[int, PreparedVisit]] = []
    for index, (raw, visit) in enumerate(
        zip(raws, prepare_visits(db, principal, raws), strict=True)
    ):
        if isinstance(visit, PreparedVisit):
            prepared.append((index, visit))
        else:
            results[index] = _failure(raw, visit)
    stored = commit_visits(db, principal, [visit for _, visit in prepared], policy=policy)
    for (index, visit), result in zip(prepared, stored, strict=True):
        if result.error is not None:
            results[index] = _failure(visit.data, result.error)
        else:
            results[index] = {
                "id": result.id,
                "status": result.status,
                "revision": result.visit["revision"],
                "visit_status": result.visit["status"],
                "score": result.visit["score"],
            }
    return results


def _failure(raw: Any, error: FieldobsError) -> dict[str, Any]:
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    return {"id": raw_id, "status": error.status, "error": error.to_dict()["error"]}


def commit_visits(
    db: Database, principal: Principal, batch: list[PreparedVisit], *, policy: PushPolicy
) -> list[PushResult]:
    """Store a batch of prepared visits in one write transaction (a savepoint inside one)."""
    if not batch:
        return []  # every visit was refused before the store: no write lock to take
    with transaction(db):
        return _commit_all(db, principal, batch, policy)


def _commit_all(
    db: Database, principal: Principal, batch: list[PreparedVisit], policy: PushPolicy
) -> list[PushResult]:
    # New visits go in with one statement per table. Replays, corrections, conflicts and visits
    # naming an assignment (whose flags depend on the visits before them) go one by one, each in
    # a savepoint, so one bad visit never fails the others.
    ids = json.dumps([prepared.data["id"] for prepared in batch])
    stored = {
        row["id"]
        for row in rows(
            db.execute("SELECT id FROM visits WHERE id IN (SELECT value FROM json_each(?))", [ids])
        )
    }
    results: list[PushResult | None] = [None] * len(batch)
    fresh: list[tuple[int, PreparedVisit]] = []
    for index, prepared in enumerate(batch):
        data = prepared.data
        if (
            data["id"] not in stored
            and data["revision"] == 1
            and prepared.score is not None
            and data.get("assignment_id") is None
        ):
            fresh.append((index, prepared))
        # A later copy of an id in the batch is answered after the first, as if sent after it.
        stored.add(data["id"])
    try:
        with db.atomic():
            inserted = _insert_fresh(db, principal, fresh, policy)
    except Exception as error:  # one visit's surprise must not fail the batch
        # Rolled back to the savepoint: the same visits go one by one below, each on its own.
        LOG.warning("batch insert failed; storing its visits one by one", exc_info=error)
        inserted = []
    for index, result in inserted:
        results[index] = result
    for index, prepared in enumerate(batch):
        if results[index] is None:
            results[index] = _commit_one(db, principal, prepared, policy)
    return [result for result in results if result is not None]


def _insert_fresh(
    db: Database,
    principal: Principal,
    fresh: list[tuple[int, PreparedVisit]],
    policy: PushPolicy,
) -> list[tuple[int, PushResult]]:
    """Insert new valid visits with one statement per table; return their results."""
    if not fresh:
        return []
    # Nothing here can be refused: prepare_visit validated and scored them, and under the write
    # lock no other request can have stored these ids since the SELECT in commit_visits.
    received = utcnow()
    now = (received, to_rfc3339(received))
    built = [(p, new_row(db, principal, p, None, policy, now)) for _, p in fresh]
    columns = list(built[0][1])
    db.conn.executemany(
        f"INSERT INTO visits ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [list(row.values()) for _, row in built],
    )
    insert_children(db, built)
    return [
        (index, PushResult(prepared.data["id"], 201, announce(db, row, None, prepared)))
        for (index, _), (prepared, row) in zip(fresh, built, strict=True)
    ]


def _commit_one(
    db: Database, principal: Principal, prepared: PreparedVisit, policy: PushPolicy
) -> PushResult:
    """Store one visit in its own savepoint; a failure becomes its result, leaving no trace."""
    try:
        with db.atomic():
            return commit_visit(db, principal, prepared, policy=policy)
    except FieldobsError as error:
        return PushResult(prepared.data.get("id"), error.status, error=error)
    except Exception as error:  # one visit's surprise must not fail the batch
        failure = unexpected(error, prepared.data.get("id"))
        return PushResult(prepared.data.get("id"), failure.status, error=failure)
