"""Admin pages: people (create, disable, enable, reset a password, set a scope)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from fieldobs.api.security import allow
from fieldobs.db import get_db
from fieldobs.errors import Invalid
from fieldobs.people.accounts import create_user, enable_user, list_users
from fieldobs.people.grants import set_scope
from fieldobs.people.orgs import (
    list_areas,
    list_locations,
)
from fieldobs.people.scope import Role
from fieldobs.people.sessions import disable_user_everywhere, reset_password
from fieldobs.web.console.admin.forms import attempt, render
from fieldobs.web.console.auth import caller
from fieldobs.web.console.blueprint import bp


@bp.route("/admin/people", methods=["GET"])
@allow(Role.ADMIN)
def people(**context: Any) -> ResponseReturnValue:
    """List people with forms to create, disable, re-enable and reset passwords."""
    db = get_db()
    areas = list_areas(db, caller())
    stores = list_locations(db, caller(), None)
    return render(
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
@allow(Role.ADMIN)
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

    return attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/disable", methods=["POST"])
@allow(Role.ADMIN)
def person_disable(user_id: int) -> ResponseReturnValue:
    """Disable a person: their sessions and tokens end at once."""

    def act() -> str:
        if user_id == caller().user_id:
            raise Invalid("You cannot disable yourself.")
        user = disable_user_everywhere(get_db(), user_id)
        return f"{user['username']} disabled; their sessions and tokens ended."

    return attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/enable", methods=["POST"])
@allow(Role.ADMIN)
def person_enable(user_id: int) -> ResponseReturnValue:
    """Re-enable a disabled person."""

    def act() -> str:
        user = enable_user(get_db(), user_id)
        return f"{user['username']} re-enabled."

    return attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/password", methods=["POST"])
@allow(Role.ADMIN)
def person_reset(user_id: int) -> ResponseReturnValue:
    """Set a new password for a person: their sessions and tokens end."""

    def act() -> str:
        user = reset_password(get_db(), user_id, request.form.get("new_password", ""))
        return f"Password of {user['username']} reset; their sessions and tokens ended."

    return attempt(act, "console.people", people)


@bp.route("/admin/people/<int:user_id>/scope", methods=["POST"])
@allow(Role.ADMIN)
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

    return attempt(act, "console.people", people)
