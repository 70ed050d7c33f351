"""Admin pages: assignments (create, import from CSV, cancel, reassign)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from fieldobs.api.security import allow
from fieldobs.dashboards.common import checklists
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.operations.assignment_import import import_assignments_csv
from fieldobs.operations.assignment_rules import AssignmentPolicy
from fieldobs.operations.assignments import STATUSES as ASSIGNMENT_STATUSES
from fieldobs.operations.assignments import (
    cancel_assignment,
    create_assignment,
    list_assignments,
    reassign_assignment,
)
from fieldobs.people.accounts import list_users
from fieldobs.people.orgs import list_locations
from fieldobs.people.scope import Role
from fieldobs.timeutil import utcnow
from fieldobs.web.console.admin.forms import attempt, render, uploaded_text
from fieldobs.web.console.auth import caller
from fieldobs.web.console.blueprint import bp


def _policy() -> AssignmentPolicy:
    return current_settings().assignments


@bp.route("/admin/assignments", methods=["GET"])
@allow(Role.ADMIN)
def assignments(**context: Any) -> ResponseReturnValue:
    """List assignments (filtered), with forms to create, import, cancel and reassign."""
    db = get_db()
    args = request.args
    query: dict[str, Any] = {"limit": 50}
    if args.get("status") in ASSIGNMENT_STATUSES:
        query["status"] = args["status"]
    if args.get("location_id", "").isdigit():
        query["location_id"] = int(args["location_id"])
    if args.get("shopper"):
        query["shopper"] = args["shopper"]
    if args.get("cursor"):
        query["cursor"] = args["cursor"]
    page = list_assignments(db, caller(), **query)
    shoppers = [u for u in list_users(db) if u["role"] == "shopper" and not u["disabled_at"]]
    return render(
        "console/admin/assignments.html",
        page=page,
        statuses=ASSIGNMENT_STATUSES,
        stores=list_locations(db, caller(), None),
        shoppers=shoppers,
        checklists=[c for c in checklists(db) if c["kind"] == "mystery_shop"],
        **context,
    )


@bp.route("/admin/assignments", methods=["POST"])
@allow(Role.ADMIN)
def assignment_create() -> ResponseReturnValue:
    """Create one assignment."""

    def act() -> str:
        form = request.form
        location = form.get("location_id", "")
        created = create_assignment(
            get_db(),
            {
                "shopper": form.get("shopper", ""),
                "location_id": int(location) if location.isdigit() else None,
                "checklist": form.get("checklist", ""),
                "window_start": form.get("window_start", ""),
                "window_end": form.get("window_end", ""),
                **(
                    {"scenario": form["scenario"].strip()}
                    if form.get("scenario", "").strip()
                    else {}
                ),
            },
            created_by=caller().user_id,
            policy=_policy(),
            now=utcnow(),
        )
        return f"Assignment {created['id']} created."

    return attempt(act, "console.assignments", assignments)


@bp.route("/admin/assignments/import", methods=["POST"])
@allow(Role.ADMIN)
def assignment_import() -> ResponseReturnValue:
    """Create assignments from a CSV file: all rows or none, errors by line."""

    def act() -> str:
        created = import_assignments_csv(
            get_db(),
            uploaded_text("csv"),
            created_by=caller().user_id,
            policy=_policy(),
            now=utcnow(),
        )
        return f"{len(created)} assignments imported."

    return attempt(act, "console.assignments", assignments)


@bp.route("/admin/assignments/<int:assignment_id>/cancel", methods=["POST"])
@allow(Role.ADMIN)
def assignment_cancel(assignment_id: int) -> ResponseReturnValue:
    """Cancel an open assignment."""

    def act() -> str:
        cancel_assignment(get_db(), assignment_id, utcnow())
        return f"Assignment {assignment_id} cancelled."

    return attempt(act, "console.assignments", assignments)


@bp.route("/admin/assignments/<int:assignment_id>/reassign", methods=["POST"])
@allow(Role.ADMIN)
def assignment_reassign(assignment_id: int) -> ResponseReturnValue:
    """Give an open assignment to another shopper."""

    def act() -> str:
        new = reassign_assignment(
            get_db(),
            assignment_id,
            request.form.get("shopper", ""),
            created_by=caller().user_id,
            policy=_policy(),
            now=utcnow(),
        )
        return f"Assignment {assignment_id} reassigned as {new['id']}."

    return attempt(act, "console.assignments", assignments)
