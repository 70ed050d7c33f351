"""The one mechanism that authenticates callers and checks their role for every endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Response, current_app, g, request

from fieldobs.db import get_db
from fieldobs.errors import Forbidden, Unauthorized
from fieldobs.people.accounts import authenticate
from fieldobs.people.scope import Principal, Role

View = TypeVar("View", bound=Callable[..., Any])

ROLES_ATTRIBUTE = "_fieldobs_roles"
PUBLIC = "public"
DOCS_BLUEPRINT = "api-docs"


def allow(*roles: Role | str) -> Callable[[View], View]:
    """Declare which roles may call a view; every /api/v1 view must declare this."""
    allowed = frozenset(Role(r) for r in roles)

    def mark(view: View) -> View:
        setattr(view, ROLES_ATTRIBUTE, allowed)
        return view

    return mark


def public(view: View) -> View:
    """Declare a view callable without a token."""
    setattr(view, ROLES_ATTRIBUTE, PUBLIC)
    return view


def declared_roles(view: Callable[..., Any]) -> Iterable[Role] | str | None:
    """Return what a view declared: a set of roles, PUBLIC, or None when undeclared."""
    return getattr(view, ROLES_ATTRIBUTE, None)


def bearer_token() -> str | None:
    """Return the bearer token of the current request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_access() -> None:
    """Authenticate the caller and check the endpoint's declared roles (a before_request hook)."""
    if request.endpoint is None:
        return  # no route matched: the 404/405 handler answers
    if request.blueprint == DOCS_BLUEPRINT:
        return  # app developers read the OpenAPI document before they have a token
    view = current_app.view_functions[request.endpoint]
    declared = declared_roles(view)
    if declared == PUBLIC or not request.path.startswith("/api/v1/"):
        return  # pages check their own callers (fieldobs/web/console/auth.py)
    if declared is None:
        # Fail closed: an endpoint someone forgot to declare is admin-only.
        declared = frozenset({Role.ADMIN})
    token = bearer_token()
    if token is None:
        raise Unauthorized(
            "Send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="fieldobs"'},
        )
    principal = authenticate(get_db(), token)
    g.principal = principal
    if principal.role not in declared:
        raise Forbidden(f"A {principal.role} may not do this.")


def current_principal() -> Principal:
    """Return the authenticated caller of this request."""
    principal: Principal = g.principal
    return principal


def client_address(trusted_proxies: int) -> str:
    """Return the caller's address: the socket's peer, or as the trusted proxies report it.

    Each trusted proxy appends the address it received the request from to X-Forwarded-For, so
    the entry `trusted_proxies` from the right is the last one no client could have forged.
    """
    peer = request.remote_addr or "unknown"
    if trusted_proxies <= 0:
        return peer
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if len(forwarded) < trusted_proxies:
        return forwarded[0] if forwarded else peer
    return forwarded[-trusted_proxies]


def secure_json_headers(response: Response) -> Response:
    """Keep browsers from sniffing JSON, and caches from keeping what a caller was shown."""
    if response.status_code == 204:
        # No content, so no type: flask-smorest labels its empty 204 answers as JSON.
        response.headers.pop("Content-Type", None)
    mimetype = response.mimetype or ""
    if mimetype == "application/json" or mimetype.endswith("+json"):
        response.headers["X-Content-Type-Options"] = "nosniff"
        if "principal" in g and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
    return response
