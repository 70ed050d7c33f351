"""Console pages for every role: sign-in, home, areas, stores, visit reports, photos, exports."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from werkzeug.utils import redirect as plain_redirect

from fieldobs.api.downloads import csv_download, photo_response
from fieldobs.api.security import allow, client_address, public
from fieldobs.dashboards.area import area_view, open_assignments
from fieldobs.dashboards.common import (
    KIND_LABELS,
    KIND_NAMES,
    checklists,
    parse_filters,
    recent_periods,
    section_titles,
)
from fieldobs.dashboards.report import visit_report
from fieldobs.dashboards.store import STATUSES, store_view
from fieldobs.db import get_db
from fieldobs.errors import FieldobsError, Invalid
from fieldobs.exports.csv_export import export_answers, export_visits, parse_export_filters
from fieldobs.extensions import current_settings
from fieldobs.people.orgs import list_areas, list_locations
from fieldobs.people.scope import ALL_ROLES, Role
from fieldobs.people.sessions import change_password, end_session, start_session
from fieldobs.photos import service as photo_service
from fieldobs.photos.store import store_for
from fieldobs.scores import data_version
from fieldobs.web import charts, pdf
from fieldobs.web.cache import page_caches
from fieldobs.web.console.auth import (
    COOKIE,
    caller,
    clear_session_cookie,
    set_session_cookie,
)
from fieldobs.web.console.blueprint import bp
from fieldobs.web.console.formats import heat_cell, svg

READERS = (Role.ADMIN, Role.AREA_LEAD, Role.MANAGER)
LEADS = (Role.ADMIN, Role.AREA_LEAD)


def _safe_next(target: str | None) -> str | None:
    """Return a same-site path to go on to after sign-in, or None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/", methods=["GET"])
@public
def home() -> ResponseReturnValue:
    """Show the sign-in form, or send a signed-in person to their home page."""
    principal = request_principal()
    if principal is None:
        return render_template("console/sign_in.html", next=request.args.get("next"))
    db = get_db()
    if principal.role is Role.SHOPPER:
        return render_template("console/shopper_home.html")
    if principal.role is Role.MANAGER:
        stores = list_locations(db, principal, None)
        if len(stores) == 1:
            return redirect(url_for("console.store", location_id=stores[0]["id"]))
        return redirect(url_for("console.stores"))
    areas = list_areas(db, principal)
    if principal.role is Role.AREA_LEAD and len(areas) == 1:
        return redirect(url_for("console.area", area_id=areas[0]["id"]))
    return redirect(url_for("console.all_areas"))


def request_principal() -> Any:
    """Return the signed-in person, or None (on open pages)."""
    return g.get("principal")


@bp.route("/", methods=["POST"])
@public
def sign_in() -> ResponseReturnValue:
    """Check a username and password and start a session."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))
    try:
        if not username or not password:
            raise Invalid("Enter your username and password.")
        settings = current_settings()
        signed = start_session(
            get_db(),
            username,
            password,
            settings.console_session_hours,
            policy=settings.login,
            client_address=client_address(settings.trusted_proxies),
        )
    except FieldobsError as error:
        # Wrong credentials say no more than that; a throttled sign-in says how long to wait.
        message = "Wrong username or password." if error.status == 401 else error.message
        return (
            render_template("console/sign_in.html", error=message, username=username, next=target),
            error.status,
            error.headers,
        )
    response = plain_redirect(target or url_for("console.home"), 303)
    hours = current_settings().console_session_hours
    set_session_cookie(response, signed.session_id, int(hours * 3600))
    return response


@bp.route("/sign-out", methods=["POST"])
@allow(*ALL_ROLES)
def sign_out() -> ResponseReturnValue:
    """End this session."""
    end_session(get_db(), request.cookies.get(COOKIE, ""))
    response = plain_redirect(url_for("console.home"), 303)
    clear_session_cookie(response)
    return response


@bp.route("/account", methods=["GET", "POST"])
@allow(*ALL_ROLES)
def account() -> ResponseReturnValue:
    """Change one's own password."""
    if request.method == "GET":
        return render_template("console/account.html")
    try:
        if request.form.get("new_password") != request.form.get("confirm_password"):
            raise Invalid("The new passwords differ.", fields={"confirm_password": ["must match"]})
        change_password(
            get_db(),
            caller(),
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
            keep_session=request.cookies.get(COOKIE),
        )
    except Invalid as error:
        return render_template("console/account.html", errors=error.fields or {}), 422
    return render_template("console/account.html", done=True)


# --- areas -------------------------------------------------------------------------------


def _filter_choices(grain: str, period: str) -> dict[str, Any]:
    return {
        "periods": recent_periods(grain, period, 24 if grain == "month" else 26),
        "kinds": KIND_LABELS,
        "checklists": checklists(get_db()),
    }


def _page_number(args: Any) -> int:
    try:
        return max(1, int(args.get("page", "1")))
    except ValueError as error:
        raise Invalid("Bad page number.", fields={"page": ["must be a number"]}) from error


def _drawn(view: dict[str, Any]) -> dict[str, Any]:
    """Draw the area page's charts once, with the figures they show (kept together)."""
    sections = view["heat"]["sections"]
    for row in view["table"]:
        row["bar_svg"] = svg(charts.interval_bar(row["shown"], row["int_low"], row["int_high"]))
        row["spark_svg"] = svg(charts.sparkline(row["spark"]))
        own = view["heat"]["cells"].get(row["location_id"])
        row["heat_cells"] = (
            None if own is None else Markup("").join(heat_cell(own.get(s["id"])) for s in sections)
        )
    funnel = view["funnel"]
    if funnel is not None:
        funnel["svg"] = svg(
            charts.funnel_plot(
                funnel["points"], funnel, title="Funnel plot: store average against visits"
            )
        )
    return view


def _area_view(db: Any, area_id: int | None, filters: Any) -> dict[str, Any]:
    """Return the area page's figures: kept until the data changes, for this scope."""
    principal = caller()
    if area_id is not None:
        principal.require_area(area_id)  # scope first: a cached answer is never a leak
    sort, page = request.args.get("sort"), _page_number(request.args)
    scope = None if principal.area_ids is None else tuple(sorted(principal.area_ids))
    # The cache is this app's own: a copy of its database elsewhere never shares it.
    pass_mark = current_settings().console_pass_mark
    key = (area_id, scope, filters, pass_mark, sort, page, data_version(db))
    view = page_caches(current_app).areas.get(
        key,
        lambda: _drawn(
            area_view(db, principal, area_id, filters, pass_mark=pass_mark, sort=sort, page=page)
        ),
    )
    view["cache_key"] = key
    if principal.is_admin:
        # Assignments change without touching the scores: counted on every request.
        figures = {**view["figures"], "open_work": open_assignments(db, view["location_ids"])}
        view = {**view, "figures": figures}
    return view


def _area_body(view: dict[str, Any]) -> Markup:
    """Return the area page's tables and charts as HTML, drawn once per data version."""
    # Its links carry the page's own query: every argument is part of the key.
    key = ("body", view["cache_key"], tuple(sorted(request.args.items(multi=True))))
    areas = page_caches(current_app).areas
    return areas.get(key, lambda: Markup(render_template("console/_area_body.html", view=view)))  # noqa: S704


@bp.route("/areas", methods=["GET"])
@allow(*LEADS)
def all_areas() -> ResponseReturnValue:
    """Compare every store in the caller's areas."""
    return _area_page(None)


@bp.route("/areas/<int:area_id>", methods=["GET"])
@allow(*LEADS)
def area(area_id: int) -> ResponseReturnValue:
    """Show one area at a glance."""
    return _area_page(area_id)


def _area_page(area_id: int | None) -> ResponseReturnValue:
    """Render one area, or (None) every area the caller may see, with the URL's filters."""
    db = get_db()
    filters = parse_filters(db, request.args.to_dict())
    view = _area_view(db, area_id, filters)
    return render_template(
        "console/area.html",
        view=view,
        body=_area_body(view),
        areas=list_areas(db, caller()),
        choices=_filter_choices(filters.grain, filters.period),
    )


# --- stores ------------------------------------------------------------------------------


@bp.route("/stores", methods=["GET"])
@allow(*READERS)
def stores() -> ResponseReturnValue:
    """List the stores in the caller's scope."""
    db = get_db()
    return render_template(
        "console/stores.html",
        stores=list_locations(db, caller(), None),
        areas={a["id"]: a["name"] for a in list_areas(db, caller())},
    )


@bp.route("/stores/<int:location_id>", methods=["GET"])
@allow(*READERS)
def store(location_id: int) -> ResponseReturnValue:
    """Show one store: its score over time, the gap, what to fix first and its visits."""
    db = get_db()
    args = request.args.to_dict()
    filters = parse_filters(db, args)
    visit_kind = args.get("visit_kind") or None
    visit_status = args.get("status") or None
    if visit_status is not None and visit_status not in STATUSES:
        raise Invalid("Unknown status.", fields={"status": [f"one of {', '.join(STATUSES)}"]})
    view = store_view(
        db,
        caller(),
        location_id,
        filters,
        visit_kind=visit_kind,
        visit_status=visit_status,
        cursor=args.get("cursor") or None,
    )
    show_sections = args.get("sections") == "1"
    names = section_titles(db, filters.kind)
    lines = {
        names.get(sec, sec): [
            p["sections"].get(sec, {}).get("mean") for p in view["series"]["series"]
        ]
        for sec in view["sections"]
    }
    return render_template(
        "console/store.html",
        view=view,
        section_lines=lines if show_sections else {},
        section_names=names,
        kind_names=KIND_NAMES,
        filters=filters,
        show_sections=show_sections,
        visit_kind=visit_kind,
        visit_status=visit_status,
        statuses=STATUSES,
        choices=_filter_choices(filters.grain, filters.period),
    )


# --- visits ------------------------------------------------------------------------------


@bp.route("/visits/<visit_id>", methods=["GET"])
@allow(*ALL_ROLES)
def visit(visit_id: str) -> ResponseReturnValue:
    """Show a visit's report (404 outside scope, or an unreleased shop for store staff)."""
    report = visit_report(get_db(), caller(), visit_id, current_settings().secret_key)
    return render_template(
        "console/visit.html", report=report, pdf_problem=pdf.unavailable(), for_pdf=False
    )


@bp.route("/visits/<visit_id>/report.pdf", methods=["GET"])
@allow(*ALL_ROLES)
def visit_pdf(visit_id: str) -> ResponseReturnValue:
    """Return the visit's report as PDF, photos embedded (or say what to install)."""
    db = get_db()
    report = visit_report(db, caller(), visit_id, current_settings().secret_key)
    problem = pdf.unavailable()
    if problem is not None:
        return render_template("console/message.html", title="PDF unavailable", text=problem), 503
    photos = store_for(current_settings().data_dir)
    embedded: dict[str, str] = {}
    for section in report["sections"]:
        for item in section["items"]:
            for photo in item["photos"]:
                row = photo_service.find_servable(db, caller(), photo["id"])
                if row["thumb_sha256"]:
                    embedded[photo["id"]] = pdf.data_uri(
                        photos.path(str(row["thumb_sha256"])), photo_service.THUMB_CONTENT_TYPE
                    )
    html = render_template(
        "console/visit_pdf.html",
        report=report,
        embedded=embedded,
        css=_stylesheet(),
        for_pdf=True,
    )
    body = pdf.render_pdf(html)
    name = f"visit-{report['visit']['id'][:8]}.pdf"
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


_CSS: dict[str, str] = {}


def _stylesheet() -> str:
    if "css" not in _CSS:
        path = bp.static_folder or ""
        with open(f"{path}/console.css", encoding="utf-8") as handle:
            _CSS["css"] = handle.read()
    return _CSS["css"]


# --- photos and exports --------------------------------------------------------------------


@bp.route("/photos/<photo_id>", methods=["GET"])
@allow(*ALL_ROLES)
def photo(photo_id: str) -> ResponseReturnValue:
    """Return a visit's photo (sanitised copy) to whoever may see the visit."""
    return photo_response(caller(), photo_id)


@bp.route("/photos/<photo_id>/thumb", methods=["GET"])
@allow(*ALL_ROLES)
def photo_thumb(photo_id: str) -> ResponseReturnValue:
    """Return a photo's thumbnail to whoever may see the visit."""
    return photo_response(caller(), photo_id, thumbnail=True)


@bp.route("/exports/visits.csv", methods=["GET"])
@allow(*READERS)
def visits_csv() -> ResponseReturnValue:
    """Download the visits the page's filters select, one row each."""
    filters = parse_export_filters(request.args.to_dict())
    return csv_download(
        export_visits(get_db(), caller(), current_settings().secret_key, filters), "visits.csv"
    )


@bp.route("/exports/answers.csv", methods=["GET"])
@allow(*READERS)
def answers_csv() -> ResponseReturnValue:
    """Download the answers of the visits the page's filters select, one row per item."""
    filters = parse_export_filters(request.args.to_dict())
    return csv_download(
        export_answers(get_db(), caller(), current_settings().secret_key, filters), "answers.csv"
    )
