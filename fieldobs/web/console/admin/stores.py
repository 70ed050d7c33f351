"""Admin pages: stores (create, edit, import from CSV)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from fieldobs.api.security import allow
from fieldobs.db import get_db
from fieldobs.people.orgs import (
    create_location,
    get_location,
    import_locations_csv,
    list_areas,
    list_locations,
    update_location,
)
from fieldobs.people.scope import Role
from fieldobs.web.console.admin.forms import attempt, render, uploaded_text
from fieldobs.web.console.auth import caller
from fieldobs.web.console.blueprint import bp


@bp.route("/admin/stores", methods=["GET"])
@allow(Role.ADMIN)
def admin_stores(**context: Any) -> ResponseReturnValue:
    """List stores with forms to create, edit and import them."""
    db = get_db()
    areas = list_areas(db, caller())
    return render(
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
@allow(Role.ADMIN)
def store_create() -> ResponseReturnValue:
    """Create a store."""

    def act() -> str:
        data = _store_data(request.form)
        if request.form.get("external_ref", "").strip():
            data["external_ref"] = request.form["external_ref"].strip()
        created = create_location(get_db(), data)
        return f"Store {created['name']} created."

    return attempt(act, "console.admin_stores", admin_stores)


@bp.route("/admin/stores/<int:location_id>", methods=["GET"])
@allow(Role.ADMIN)
def store_edit(location_id: int, **context: Any) -> ResponseReturnValue:
    """Show a store's edit form."""
    db = get_db()
    return render(
        "console/admin/store_edit.html",
        store=get_location(db, location_id, caller()),
        areas=list_areas(db, caller()),
        **context,
    )


@bp.route("/admin/stores/<int:location_id>", methods=["POST"])
@allow(Role.ADMIN)
def store_update(location_id: int) -> ResponseReturnValue:
    """Change a store's name, area, time zone or address."""

    def act() -> str:
        data = {k: v for k, v in _store_data(request.form).items() if v is not None}
        data["address"] = request.form.get("address", "").strip() or None
        update_location(get_db(), location_id, data)
        return "Store saved."

    def page(**context: Any) -> ResponseReturnValue:
        return store_edit(location_id, **context)

    return attempt(act, "console.admin_stores", page)


@bp.route("/admin/stores/import", methods=["POST"])
@allow(Role.ADMIN)
def store_import() -> ResponseReturnValue:
    """Import stores from CSV (name, area, timezone[, address, external_ref])."""

    def act() -> str:
        counts = import_locations_csv(get_db(), uploaded_text("csv"))
        return f"{counts['created']} stores created, {counts['updated']} updated."

    return attempt(act, "console.admin_stores", admin_stores)
