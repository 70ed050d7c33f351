"""Sign-in: trade a username and password for a bearer token."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from fieldobs.api.security import allow, bearer_token, public
from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.people.accounts import issue_token, revoke_token
from fieldobs.people.scope import ALL_ROLES

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and out.")


class CredentialsSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class TokenSchema(Schema):
    token = fields.String(required=True)
    role = fields.String(required=True)
    expires_at = fields.String(required=True)


@blp.route("/token", methods=["POST"])
@public
@blp.arguments(CredentialsSchema)
@blp.response(200, TokenSchema)
@blp.alt_response(401, description="Wrong username or password.")
def create_token(credentials: dict[str, Any]) -> dict[str, Any]:
    """Sign in and receive a bearer token."""
    return issue_token(
        get_db(),
        credentials["username"],
        credentials["password"],
        current_settings().token_ttl_hours,
    )


@blp.route("/token", methods=["DELETE"])
@allow(*ALL_ROLES)
@blp.response(204)
def delete_token() -> None:
    """Sign out: revoke the token this request carries."""
    revoke_token(get_db(), bearer_token() or "")
