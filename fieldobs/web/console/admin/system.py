"""Admin pages: observer calibration, webhooks and the scheduled jobs."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from fieldobs.api.security import allow
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.operations.webhook_events import EVENTS
from fieldobs.operations.webhooks import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
)
from fieldobs.people.scope import Role
from fieldobs.scores import observer_calibration
from fieldobs.storage.connection import rows
from fieldobs.web.console.admin.forms import attempt, render
from fieldobs.web.console.auth import caller
from fieldobs.web.console.blueprint import bp


@bp.route("/admin/calibration", methods=["GET"])
@allow(Role.ADMIN)
def calibration() -> ResponseReturnValue:
    """Show how far each observer scores from the others at the same store and month."""
    kind = request.args.get("kind") or "mystery_shop"
    found = observer_calibration(
        get_db(),
        kind=kind if kind in ("mystery_shop", "walkthrough") else "mystery_shop",
        first=request.args.get("from") or None,
        last=request.args.get("to") or None,
    )
    return render("console/admin/calibration.html", calibration=found)


@bp.route("/admin/webhooks", methods=["GET"])
@allow(Role.ADMIN)
def webhooks(**context: Any) -> ResponseReturnValue:
    """List webhooks with a form to add one."""
    return render(
        "console/admin/webhooks.html", hooks=list_webhooks(get_db()), events=EVENTS, **context
    )


@bp.route("/admin/webhooks", methods=["POST"])
@allow(Role.ADMIN)
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

    return attempt(act, "console.webhooks", webhooks)


@bp.route("/admin/webhooks/<int:webhook_id>/delete", methods=["POST"])
@allow(Role.ADMIN)
def webhook_delete(webhook_id: int) -> ResponseReturnValue:
    """Remove a webhook."""

    def act() -> str:
        delete_webhook(get_db(), webhook_id)
        return f"Webhook {webhook_id} removed."

    return attempt(act, "console.webhooks", webhooks)


@bp.route("/admin/webhooks/<int:webhook_id>", methods=["GET"])
@allow(Role.ADMIN)
def webhook(webhook_id: int) -> ResponseReturnValue:
    """Show a webhook's deliveries, newest first."""
    db = get_db()
    hook = get_webhook(db, webhook_id)
    deliveries = list_deliveries(db, webhook_id, cursor=request.args.get("cursor") or None)
    return render("console/admin/webhook.html", hook=hook, deliveries=deliveries)


@bp.route("/admin/jobs", methods=["GET"])
@allow(Role.ADMIN)
def jobs() -> ResponseReturnValue:
    """Show each scheduled job's latest runs."""
    found = rows(
        get_db().execute(
            "SELECT job, started_at, finished_at, outcome, result, error FROM ("
            " SELECT *, row_number() OVER (PARTITION BY job ORDER BY started_at DESC) AS k"
            " FROM job_runs) WHERE k <= 5 ORDER BY job, started_at DESC"
        )
    )
    return render("console/admin/jobs.html", runs=found)
