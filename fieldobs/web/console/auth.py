"""Who is at the browser: the session cookie, the roles each page allows, and CSRF.

Pages declare their roles as API views do (`allow`, `public` from fieldobs.api.security).
"""

from __future__ import annotations

from flask import current_app, g, redirect, request, url_for
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from fieldobs.api.security import PUBLIC, declared_roles
from fieldobs.db import get_db
from fieldobs.errors import Forbidden
from fieldobs.people.scope import Principal, Role
from fieldobs.people.sessions import session_principal

COOKIE = "fieldobs_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
csrf = CSRFProtect()


def load_caller() -> Response | None:
    """Find the session's person, then check the page's roles and the CSRF token.

    A before_request hook of the console blueprint. Fails closed: a page that declared nothing
    is admin-only. Every state-changing request carries the form's CSRF token (sign-in too).
    """
    session_id = request.cookies.get(COOKIE)
    g.principal = session_principal(get_db(), session_id) if session_id else None
    if request.method not in SAFE_METHODS:
        csrf.protect()
    if request.endpoint is None or request.endpoint == "console.static":
        return None
    declared = declared_roles(current_app.view_functions[request.endpoint])
    if declared == PUBLIC:
        return None
    if g.principal is None:
        if request.method in SAFE_METHODS:
            return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
        return redirect(url_for("console.sign_in"))
    allowed = frozenset({Role.ADMIN}) if declared is None else declared
    if g.principal.role not in allowed:
        raise Forbidden(f"A {g.principal.role.replace('_', ' ')} may not open this page.")
    return None


def caller() -> Principal:
    """Return the signed-in person of this request."""
    principal: Principal = g.principal
    return principal


def set_session_cookie(response: Response, session_id: str, max_age: int) -> None:
    """Set the session cookie: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=max_age,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")
