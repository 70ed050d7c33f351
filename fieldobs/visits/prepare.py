"""Visit push, first half: load, fingerprint, validate and score, outside any lock."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from fieldobs.checklists.published import get_plan, get_version
from fieldobs.errors import FieldobsError, Invalid, NotFound, flatten_messages
from fieldobs.people.scope import Principal, Role
from fieldobs.scoring.answers import validate_answers
from fieldobs.scoring.engine import VisitScore, score_visit
from fieldobs.storage.connection import Database
from fieldobs.timeutil import parse_rfc3339, to_rfc3339
from fieldobs.visits.schema import (
    SURROGATE_ERROR,
    VisitSchema,
    load_plain_visit,
    lone_surrogate_paths,
)

VISIT_SCHEMA = VisitSchema()
LOG = logging.getLogger(__name__)


# Which checklist kinds each role may submit.
KINDS_BY_ROLE = {
    Role.SHOPPER: {"mystery_shop"},
    Role.MANAGER: {"walkthrough"},
    Role.AREA_LEAD: {"walkthrough"},
    Role.ADMIN: {"mystery_shop", "walkthrough"},
}


# Built once: json.dumps with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(data: Any) -> str:
    """Serialise with sorted keys and no whitespace: equal content, equal text."""
    return _CANONICAL.encode(data)


def load_visit(raw: Any) -> dict[str, Any]:
    """Validate a visit's shape; raise 422 naming each bad field."""
    plain = load_plain_visit(raw)
    if plain is not None:
        return plain
    try:
        data: dict[str, Any] = VISIT_SCHEMA.load(raw)
    except ValidationError as error:
        raise Invalid("The visit is invalid.", fields=flatten_messages(error.messages)) from error
    return data


@dataclass
class PreparedVisit:
    """A schema-valid visit with the work done that needs no write lock."""

    data: dict[str, Any]
    body: str
    fingerprint: str
    checklist: dict[str, Any] | None = None
    problems: dict[str, list[str]] = field(default_factory=dict)
    score: VisitScore | None = None
    section_scores_json: str = "[]"
    breakdown_json: str = "{}"
    device_times: tuple[datetime, datetime, str] | None = None  # started, finished, finished UTC


def prepare_visit(
    db: Database, principal: Principal, data: dict[str, Any], *, url_id: str | None = None
) -> PreparedVisit:
    """Fingerprint, validate against its checklist and score a visit, outside any transaction.

    Validation and scoring are pure CPU: done here, several workers do them in parallel
    and the write lock is held only for the short store that follows.
    """
    if url_id is not None and url_id.lower() != data["id"]:
        raise Invalid("The visit id differs from the URL.", fields={"id": ["must match the URL"]})
    [prepared] = _validate_unless_known(db, principal, [_fingerprinted(data)])
    if isinstance(prepared, FieldobsError):
        raise prepared
    return prepared


def unexpected(error: Exception, visit_id: Any = None) -> FieldobsError:
    """Log a surprise met while handling one visit of a batch, and make it that visit's result."""
    LOG.error("pushing visit %r failed unexpectedly", visit_id, exc_info=error)
    return FieldobsError("This visit could not be handled; the others were.")


def prepare_visits(
    db: Database, principal: Principal, raws: list[Any]
) -> list[PreparedVisit | FieldobsError]:
    """Load, fingerprint, validate and score a batch of pushed visits, outside any transaction.

    Whatever goes wrong with one visit, even an unexpected exception, is that visit's result.
    """
    loaded: list[PreparedVisit | FieldobsError] = []
    for raw in raws:
        try:
            loaded.append(_fingerprinted(load_visit(raw)))
        except FieldobsError as error:
            loaded.append(error)
        except Exception as error:  # one visit's surprise must not fail the batch
            loaded.append(unexpected(error, raw.get("id") if isinstance(raw, dict) else None))
    checked = iter(
        _validate_unless_known(db, principal, [p for p in loaded if isinstance(p, PreparedVisit)])
    )
    return [next(checked) if isinstance(p, PreparedVisit) else p for p in loaded]


def _validate_unless_known(
    db: Database, principal: Principal, batch: list[PreparedVisit]
) -> list[PreparedVisit | FieldobsError]:
    """Validate and score the visits whose revision is not stored with the same fingerprint."""
    ids = json.dumps([prepared.data["id"] for prepared in batch])
    known = {
        (visit_id, revision): fingerprint
        for visit_id, revision, fingerprint in db.execute(
            "SELECT id, revision, fingerprint FROM visits"
            " WHERE id IN (SELECT value FROM json_each(?))",
            [ids],
        )
    }
    live = live_locations(db, [prepared.data["location_id"] for prepared in batch])
    checked: list[PreparedVisit | FieldobsError] = []
    for prepared in batch:
        key = (prepared.data["id"], prepared.data["revision"])
        # A likely replay skips that work; commit_visit re-checks under the lock if needed.
        try:
            if known.get(key) != prepared.fingerprint:
                validate_and_score(db, principal, prepared, live)
        except FieldobsError as error:
            checked.append(error)
        except Exception as error:  # one visit's surprise must not fail the batch
            checked.append(unexpected(error, prepared.data["id"]))
        else:
            checked.append(prepared)
    return checked


def _fingerprinted(data: dict[str, Any]) -> PreparedVisit:
    body = canonical_json(data)
    try:
        encoded = body.encode()
    except UnicodeEncodeError as error:
        # Strings the schema did not look into (answers on the fast path) are checked here.
        paths = lone_surrogate_paths(data) or ["_schema"]
        raise Invalid(
            "The visit is invalid.", fields={path: [SURROGATE_ERROR] for path in paths}
        ) from error
    return PreparedVisit(data, body, hashlib.sha256(encoded).hexdigest())


def live_locations(db: Database, location_ids: list[int]) -> set[int]:
    """Return which of these location ids name a location that is not deleted."""
    return {
        row[0]
        for row in db.execute(
            "SELECT id FROM locations WHERE id IN (SELECT value FROM json_each(?))"
            " AND deleted_at IS NULL",
            [json.dumps(sorted(set(location_ids)))],
        )
    }


def validate_and_score(
    db: Database, principal: Principal, prepared: PreparedVisit, live_locations: set[int]
) -> None:
    data = prepared.data
    checklist, problems = _check_references(db, principal, data, live_locations)
    prepared.checklist, prepared.problems = checklist, problems
    if not checklist:
        return
    answers, photo_ids = data["answers"], {photo["id"] for photo in data["photos"]}
    plan = get_plan(db, checklist["slug"], checklist["version"])
    # The plan scores plainly valid answers in one pass; the general code judges the rest.
    score = None if problems else plan.score(answers, photo_ids)
    if score is None:
        problems.update(validate_answers(checklist, answers, photo_ids))
        if problems:
            return
        score = score_visit(checklist, answers, explain=False)
    prepared.score = score
    prepared.section_scores_json = plan.section_scores_json(score)
    prepared.breakdown_json = plan.breakdown_json(score)
    finished = parse_rfc3339(data["finished_at"])
    prepared.device_times = (parse_rfc3339(data["started_at"]), finished, to_rfc3339(finished))


def _check_references(
    db: Database, principal: Principal, data: dict[str, Any], live_locations: set[int]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check the visit's checklist and location; return the checklist ({} if none) and problems."""
    problems: dict[str, list[str]] = {}
    ref = data["checklist"]
    try:
        checklist = get_version(db, ref["slug"], ref["version"])
    except NotFound:
        return {}, {"checklist": [f"no published version {ref['version']} of {ref['slug']!r}"]}
    if checklist["kind"] not in KINDS_BY_ROLE[principal.role]:
        problems["checklist"] = [
            f"a {principal.role} does not submit {checklist['kind']} checklists"
        ]
    location_id = data["location_id"]
    if location_id not in live_locations or not principal.sees_location(location_id):
        problems["location_id"] = ["no such location in your scope"]
    return checklist, problems
