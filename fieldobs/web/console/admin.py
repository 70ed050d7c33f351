"""Admin pages: review queue, assignments, stores, people, calibration, webhooks, jobs.

Each form posts to its own small view, which calls the same domain function as the API and
redirects back (303) with a notice, or re-renders the page with the errors (422).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, flash, get_flashed_messages, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.utils import redirect

from fieldobs.dashboards.common import checklists
from fieldobs.dashboards.report import queue_photos, visit_report
from fieldobs.db import get_db
from fieldobs.errors import FieldobsError, Invalid
from fieldobs.extensions import current_settings
from fieldobs.operations.assignment_import import import_assignments_csv
from fieldobs.operations.assignment_rules import AssignmentPolicy
from fieldobs.operations.assignments import (
    STATUSES as ASSIGNMENT_STATUSES,
)
from fieldobs.operations.assignments import (
    cancel_assignment,
    create_assignment,
    list_assignments,
    reassign_assignment,
)
from fieldobs.operations.webhook_events import EVENTS
from fieldobs.operations.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
)
from fieldobs.people.accounts import create_user, enable_user, list_users
from fieldobs.people.grants import set_scope
from fieldobs.people.orgs import (
    create_location,
    get_location,
    import_locations_csv,
    list_areas,
    list_locations,
    update_location,
)
from fieldobs.people.scope import Role
from fieldobs.people.sessions import disable_user_everywhere, reset_password
from fieldobs.scores import observer_calibration
from fieldobs.storage.connection import rows
from fieldobs.timeutil import utcnow
from fieldobs.visits.review import review_queue, review_visit
from fieldobs.web.console.auth import caller, roles
from fieldobs.web.console.blueprint import bp

CSV_MAX_BYTES = 5 * 1024 * 1024


def _done(message: str, endpoint: str, **values: Any) -> ResponseReturnValue:
    flash(message)
    return redirect(url_for(endpoint, **values), 303)


def _attempt(
    action: Callable[[], str],
    endpoint: str,
    page: Callable[..., ResponseReturnValue],
    **values: Any,
) -> ResponseReturnValue:
    """Run a form's action; on success go back with a notice, else show the page with errors."""
    try:
        message = action()
    except FieldobsError as error:
        fields = error.fields or {"_form": [error.message]}
        response = page(errors=fields, message=error.message, form=request.form)
        body = response[0] if isinstance(response, tuple) else response
        return body, error.status  # type: ignore[return-value]
    return _done(message, endpoint, **values)


def _policy() -> AssignmentPolicy:
    return current_settings().assignments


def _uploaded_text(field: str) -> str:
    upload = request.files.get(field)
    text = request.form.get(f"{field}_text", "")
    if upload is not None and upload.filename:
        data = upload.read(CSV_MAX_BYTES + 1)
        if len(data) > CSV_MAX_BYTES:
            raise Invalid("The file is too large.", fields={field: ["at most 5 MB"]})
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise Invalid("Save the file as UTF-8 CSV.", fields={field: ["not UTF-8"]}) from error
    if not text.strip():
        raise Invalid("Choose a CSV file.", fields={field: ["choose a file or paste CSV"]})
    return text


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    context.setdefault("errors", {})
    context.setdefault("form", {})
    context.setdefault("notices", get_flashed_messages())
    return render_template(template, **context), status


# --- review ------------------------------------------------------------------------------


@bp.route("/admin/review", methods=["GET"])
@roles(Role.ADMIN)
def review_list(**context: Any) -> ResponseReturnValue:
    """List mystery shops awaiting review, longest waiting first, with their photos."""
    db = get_db()
    queue = review_queue(db, cursor=request.args.get("cursor") or None, limit=50)
    photos = queue_photos(db, [v["id"] for v in queue["visits"]])
    now = utcnow()
    return _render("console/admin/review.html", queue=queue, photos=photos, now=now, **context)


@bp.route("/admin/review/<visit_id>", methods=["GET"])
@roles(Role.ADMIN)
def review_visit_page(visit_id: str, **context: Any) -> ResponseReturnValue:
    """Show a visit with the release / return form and per-item comment boxes."""
    report = visit_report(get_db(), caller(), visit_id, str(current_app.config["SECRET_KEY"]))
    return _render("console/admin/review_visit.html", report=report, **context)


@bp.route("/admin/review/<visit_id>", methods=["POST"])
@roles(Role.ADMIN)
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

    return _attempt(act, "console.review_list", page)


# --- assignments ----------------------------------------------------------------------------


@bp.route("/admin/assignments", methods=["GET"])
@roles(Role.ADMIN)
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
    return _render(
        "console/admin/assignments.html",
        page=page,
        statuses=ASSIGNMENT_STATUSES,
        stores=list_locations(db, caller(), None),
        shoppers=shoppers,
        checklists=[c for c in checklists(db) if c["kind"] == "mystery_shop"],
        **context,
    )


@bp.route("/admin/assignments", methods=["POST"])
@roles(Role.ADMIN)
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

    return _attempt(act, "console.assignments", assignments)


@bp.route("/admin/assignments/import", methods=["POST"])
@roles(Role.ADMIN)
def assignment_import() -> ResponseReturnValue:
    """Create assignments from a CSV file: all rows or none, errors by line."""

    def act() -> str:
        created = import_assignments_csv(
            get_db(),
            _uploaded_text("csv"),
            created_by=caller().user_id,
            policy=_policy(),
            now=utcnow(),
        )
        return f"{len(created)} assignments imported."

    return _attempt(act, "console.assignments", assignments)


@bp.route("/admin/assignments/<int:assignment_id>/cancel", methods=["POST"])
@roles(Role.ADMIN)
def assignment_cancel(assignment_id: int) -> ResponseReturnValue:
    """Cancel an open assignment."""

    def act() -> str:
        cancel_assignment(get_db(), assignment_id, utcnow())
        return f"Assignment {assignment_id} cancelled."

    return _attempt(act, "console.assignments", assignments)


@bp.route("/admin/assignments/<int:assignment_id>/reassign", methods=["POST"])
@roles(Role.ADMIN)
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

    return _attempt(act, "console.assignments", assignments)


# --- stores -------------------------------------------------------------------------------


@bp.route("/admin/stores", methods=["GET"])
@roles(Role.ADMIN)
def admin_stores(**context: Any) -> ResponseReturnValue:
    """List stores with forms to create, edit and import them."""
    db = get_db()
    areas = list_areas(db, caller())
    return _render(
        "console/admin/stores.html",
        stores=list_locations(db, caller(), None),
        areas=areas,
        area_names={a["id"]: a["name"] for a in areas},
        **context,
    )


def _store_data(form: Any) -> dict[str, Any]:
    area = form.get("area_id", "")
    return {
        "name": form.get("name", "").strip(),
        "area_id": int(area) if area.isdigit() else None,
        "timezone": form.get("timezone", "").strip(),
        "address": form.get("address", "").strip() or None,
    }


@bp.route("/admin/stores", methods=["POST"])
@roles(Role.ADMIN)
def store_create() -> ResponseReturnValue:
    """Create a store."""

    def act() -> str:
        data = _store_data(request.form)
        if request.form.get("external_ref", "").strip():
            data["external_ref"] = request.form["external_ref"].strip()
        created = create_location(get_db(), data)
        return f"Store {created['name']} created."

    return _attempt(act, "console.admin_stores", admin_stores)


@bp.route("/admin/stores/<int:location_id>", methods=["GET"])
@roles(Role.ADMIN)
def store_edit(location_id: int, **context: Any) -> ResponseReturnValue:
    """Show a store's edit form."""
    db = get_db()
    return _render(
        "console/admin/store_edit.html",
        store=get_location(db, location_id, caller()),
        areas=list_areas(db, caller()),
        **context,
    )


@bp.route("/admin/stores/<int:location_id>", methods=["POST"])
@roles(Role.ADMIN)
def store_update(location_id: int) -> ResponseReturnValue:
    """Change a store's name, area, time zone or address."""

    def act() -> str:
        data = {k: v for k, v in _store_data(request.form).items() if v is not None}
        data["address"] = request.form.get("address", "").strip() or None
        update_location(get_db(), location_id, data)
        return "Store saved."

    def page(**context: Any) -> ResponseReturnValue:
        return store_edit(location_id, **context)

    return _attempt(act, "console.admin_stores", page)


@bp.route("/admin/stores/import", methods=["POST"])
@roles(Role.ADMIN)
def store_import() -> ResponseReturnValue:
    """Import stores from CSV (name, area, timezone[, address, external_ref])."""

    def act() -> str:
        counts = import_locations_csv(get_db(), _uploaded_text("csv"))
        return f"{counts['created']} stores created, {counts['updated']} updated."

    return _attempt(act, "console.admin_stores", admin_stores)


# --- people -------------------------------------------------------------------------------


@bp.route("/admin/people", methods=["GET"])
@roles(Role.ADMIN)
def people(**context: Any) -> ResponseReturnValue:
    """List people with forms to create, disable, re-enable and reset passwords."""
    db = get_db()
    areas = list_areas(db, caller())
    stores = list_locations(db, caller(), None)
    return _render(
        "console/admin/people.html",
        users=list_users(db),
        areas=areas,
        stores=stores,
        area_names={a["id"]: a["name"] for a in areas},
        store_names={s["id"]: s["name"] for s in stores},
        roles=[r.value for r in Role],
        **context,
    )


@bp.route("/admin/people", methods=["POST"])
@roles(Role.ADMIN)
def person_create() -> ResponseReturnValue:
    """Create a person with a role and scope."""

    def act() -> str:
        form = request.form
        user = create_user(
            get_db(),
            username=form.get("username", "").strip(),
            password=form.get("password", ""),
            role=form.get("role", ""),
            display_name=form.get("display_name", "").strip() or None,
            location_ids=[int(v) for v in form.getlist("location_ids") if v.isdigit()],
            area_ids=[int(v) for v in form.getlist("area_ids") if v.isdigit()],
        )
        return f"{user['username']} created."

    return _attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/disable", methods=["POST"])
@roles(Role.ADMIN)
def person_disable(user_id: int) -> ResponseReturnValue:
    """Disable a person: their sessions and tokens end at once."""

    def act() -> str:
        if user_id == caller().user_id:
            raise Invalid("You cannot disable yourself.")
        user = disable_user_everywhere(get_db(), user_id)
        return f"{user['username']} disabled; their sessions and tokens ended."

    return _attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/enable", methods=["POST"])
@roles(Role.ADMIN)
def person_enable(user_id: int) -> ResponseReturnValue:
    """Re-enable a disabled person."""

    def act() -> str:
        user = enable_user(get_db(), user_id)
        return f"{user['username']} re-enabled."

    return _attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/password", methods=["POST"])
@roles(Role.ADMIN)
def person_reset(user_id: int) -> ResponseReturnValue:
    """Set a new password for a person: their sessions and tokens end."""

    def act() -> str:
        user = reset_password(get_db(), user_id, request.form.get("new_password", ""))
        return f"Password of {user['username']} reset; their sessions and tokens ended."

    return _attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/scope", methods=["POST"])
@roles(Role.ADMIN)
def person_scope(user_id: int) -> ResponseReturnValue:
    """Replace the stores or areas a person may see (takes effect on their next request)."""

    def act() -> str:
        form = request.form
        user = set_scope(
            get_db(),
            user_id,
            location_ids=[int(v) for v in form.getlist("location_ids") if v.isdigit()],
            area_ids=[int(v) for v in form.getlist("area_ids") if v.isdigit()],
        )
        return f"Scope of {user['username']} saved."

    return _attempt(act, "console.people", people)


# --- calibration, webhooks, jobs ------------------------------------------------------------


@bp.route("/admin/calibration", methods=["GET"])
@roles(Role.ADMIN)
def calibration() -> ResponseReturnValue:
    """Show how far each observer scores from the others at the same store and month."""
    kind = request.args.get("kind") or "mystery_shop"
    found = observer_calibration(
        get_db(),
        kind=kind if kind in ("mystery_shop", "walkthrough") else "mystery_shop",
        first=request.args.get("from") or None,
        last=request.args.get("to") or None,
    )
    return _render("console/admin/calibration.html", calibration=found)


@bp.route("/admin/webhooks", methods=["GET"])
@roles(Role.ADMIN)
def webhooks(**context: Any) -> ResponseReturnValue:
    """List webhooks with a form to add one."""
    return _render(
        "console/admin/webhooks.html", hooks=list_webhooks(get_db()), events=EVENTS, **context
    )


@bp.route("/admin/webhooks", methods=["POST"])
@roles(Role.ADMIN)
def webhook_create() -> ResponseReturnValue:
    """Subscribe a URL to events; its secret is shown once."""

    def act() -> str:
        hook = create_webhook(
            get_db(),
            {
                "url": request.form.get("url", "").strip(),
                "events": request.form.getlist("events"),
                "description": request.form.get("description") or None,
            },
            policy=current_settings().webhooks.targets,
            created_by=caller().user_id,
        )
        return f"Webhook {hook['id']} added. Its signing secret (shown once): {hook['secret']}"

    return _attempt(act, "console.webhooks", webhooks)


@bp.route("/admin/webhooks/<int:webhook_id>/delete", methods=["POST"])
@roles(Role.ADMIN)
def webhook_delete(webhook_id: int) -> ResponseReturnValue:
    """Remove a webhook."""

    def act() -> str:
        delete_webhook(get_db(), webhook_id)
        return f"Webhook {webhook_id} removed."

    return _attempt(act, "console.webhooks", webhooks)


@bp.route("/admin/webhooks/<int:webhook_id>", methods=["GET"])
@roles(Role.ADMIN)
def webhook(webhook_id: int) -> ResponseReturnValue:
    """Show a webhook's deliveries, newest first."""
    db = get_db()
    hook = get_webhook(db, webhook_id)
    deliveries = list_deliveries(db, webhook_id, cursor=request.args.get("cursor") or None)
    return _render("console/admin/webhook.html", hook=hook, deliveries=deliveries)


@bp.route("/admin/jobs", methods=["GET"])
@roles(Role.ADMIN)
def jobs() -> ResponseReturnValue:
    """Show each scheduled job's latest runs."""
    found = rows(
        get_db().execute(
            "SELECT job, started_at, finished_at, outcome, result, error FROM ("
            " SELECT *, row_number() OVER (PARTITION BY job ORDER BY started_at DESC) AS k"
            " FROM job_runs) WHERE k <= 5 ORDER BY job, started_at DESC"
        )
    )
    return _render("console/admin/jobs.html", runs=found)
