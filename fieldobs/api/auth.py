"""Sign-in: trade a username and password for a bearer token."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fieldobs.api.security import allow, bearer_token, client_address, public
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.people.accounts import issue_token, revoke_token
from fieldobs.people.credentials import MAX_PASSWORD_LENGTH
from fieldobs.people.scope import ALL_ROLES

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out.")


class CredentialsSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # The same maximum as when a password is set: a longer one can never be right.
    password = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH)
    )


class TokenSchema(Schema):
    token = fields.String(required=True)
    role = fields.String(required=True)
    expires_at = fields.String(required=True)


@blp.route("/token", methods=["POST"])
@public
@blp.arguments(CredentialsSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, description="Wrong username or password.")
@blp.alt_response(
    429,
    description="Too many failed sign-ins for this username or from this address: wait the "
    "`Retry-After` seconds. Each failure past the free ones doubles the wait (at most "
    "LOGIN_DELAY_MAX_SECONDS); nobody is locked out for good.",
)
def create_token(credentials: dict[str, Any]) -> dict[str, Any]:
    """Sign in and receive a bearer token."""
    settings = current_settings()
    return issue_token(
        get_db(),
        credentials["username"],
        credentials["password"],
        settings.token_ttl_hours,
        policy=settings.login,
        client_address=client_address(settings.trusted_proxies),
    )


@blp.route("/token", methods=["DELETE"])
@allow(*ALL_ROLES)
@blp.response(204)
def delete_token() -> None:
    """Sign out: revoke the token this request carries."""
    revoke_token(get_db(), bearer_token() or "")
