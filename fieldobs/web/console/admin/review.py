"""Admin pages: the review queue, and releasing or returning a visit."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from fieldobs.api.security import allow
from fieldobs.dashboards.report import queue_photos, visit_report
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.people.scope import Role
from fieldobs.timeutil import utcnow
from fieldobs.visits.review import review_queue, review_visit
from fieldobs.web.console.admin.forms import attempt, render
from fieldobs.web.console.auth import caller
from fieldobs.web.console.blueprint import bp


@bp.route("/admin/review", methods=["GET"])
@allow(Role.ADMIN)
def review_list(**context: Any) -> ResponseReturnValue:
    """List mystery shops awaiting review, longest waiting first, with their photos."""
    db = get_db()
    queue = review_queue(db, cursor=request.args.get("cursor") or None, limit=50)
    photos = queue_photos(db, [v["id"] for v in queue["visits"]])
    now = utcnow()
    return render("console/admin/review.html", queue=queue, photos=photos, now=now, **context)


@bp.route("/admin/review/<visit_id>", methods=["GET"])
@allow(Role.ADMIN)
def review_visit_page(visit_id: str, **context: Any) -> ResponseReturnValue:
    """Show a visit with the release / return form and per-item comment boxes."""
    report = visit_report(get_db(), caller(), visit_id, current_settings().secret_key)
    return render("console/admin/review_visit.html", report=report, **context)


@bp.route("/admin/review/<visit_id>", methods=["POST"])
@allow(Role.ADMIN)
def review_act(visit_id: str) -> ResponseReturnValue:
    """Release or return a visit, with a note and per-item comments."""
    comments = {
        key.removeprefix("comment:"): value.strip()
        for key, value in request.form.items()
        if key.startswith("comment:") and value.strip()
    }

    def act() -> str:
        revision = request.form.get("revision")
        action = request.form.get("action", "")
        review_visit(
            get_db(),
            caller(),
            visit_id,
            action=action,
            note=request.form.get("note") or None,
            item_comments=comments,
            revision=int(revision) if revision and revision.isdigit() else None,
        )
        return "Released." if action == "release" else "Returned to the shopper."

    def page(**context: Any) -> ResponseReturnValue:
        return review_visit_page(visit_id, **context)

    return attempt(act, "console.review_list", page)
