"""Admin API for areas, locations and users; scoped reads for everyone."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from fieldobs.api.security import allow, current_principal
from fieldobs.db import get_db
from fieldobs.people.accounts import (
    create_user,
    disable_user,
    enable_user,
    get_user,
    list_users,
    set_display_name,
    set_password,
)
from fieldobs.people.credentials import (
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME_LENGTH,
    MIN_PASSWORD_LENGTH,
    password_problems,
    username_problems,
)
from fieldobs.people.orgs import (
    check_timezone,
    create_area,
    create_location,
    delete_location,
    get_area,
    get_location,
    list_areas,
    list_locations,
    update_location,
)
from fieldobs.people.scope import ALL_ROLES, Role
from fieldobs.stored_integers import StoredInteger

blp = Blueprint("orgs", __name__, url_prefix="/api/v1", description="Areas, locations and people.")

NAME = validate.Length(min=1, max=200)
# The names the server's tz database knows: declared, so that clients can offer the list.
TIMEZONES = {"description": "IANA time zone name", "enum": sorted(available_timezones())}
PASSWORD_LENGTHS = {"minLength": MIN_PASSWORD_LENGTH, "maxLength": MAX_PASSWORD_LENGTH}


def _timezone(name: str) -> None:
    if problem := check_timezone(name):
        raise ValidationError(problem)


def _username(name: str) -> None:
    if problems := username_problems(name):
        raise ValidationError(problems)


def _password(password: str) -> None:
    # The rule that needs the username is checked with the whole user (UserInSchema).
    if problems := password_problems(password, ""):
        raise ValidationError(problems)


class AreaInSchema(Schema):
    name = fields.String(required=True, validate=NAME)


class AreaSchema(Schema):
    id = StoredInteger()
    name = fields.String()
    created_at = fields.String()


class AreaListSchema(Schema):
    areas = fields.List(fields.Nested(AreaSchema))


class LocationInSchema(Schema):
    name = fields.String(required=True, validate=NAME)
    area_id = StoredInteger(required=True, strict=True)
    timezone = fields.String(required=True, validate=_timezone, metadata=TIMEZONES)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    external_ref = fields.String(allow_none=True, validate=validate.Length(max=200))


class LocationPatchSchema(Schema):
    name = fields.String(validate=NAME)
    area_id = StoredInteger(strict=True)
    timezone = fields.String(validate=_timezone, metadata=TIMEZONES)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))


class LocationSchema(Schema):
    id = StoredInteger()
    name = fields.String()
    area_id = StoredInteger()
    timezone = fields.String()
    address = fields.String(allow_none=True)
    external_ref = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()


class LocationListSchema(Schema):
    locations = fields.List(fields.Nested(LocationSchema))


class LocationQuerySchema(Schema):
    area_id = StoredInteger()


class UserInSchema(Schema):
    username = fields.String(
        required=True,
        validate=_username,
        metadata={
            "description": "ASCII letters, digits, '.', '_' and '-'; stored in lower case.",
            "maxLength": MAX_USERNAME_LENGTH,
            "pattern": "^[A-Za-z0-9._-]+$",
        },
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=_password,
        metadata={
            "description": "Not one of the most used passwords, nor the username.",
            **PASSWORD_LENGTHS,
        },
    )
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    display_name = fields.String(validate=NAME, metadata={"description": "Free text."})
    location_ids = fields.List(StoredInteger(strict=True), load_default=list)
    area_ids = fields.List(StoredInteger(strict=True), load_default=list)

    @validates_schema(skip_on_field_errors=False)
    def _password_is_not_username(self, data: dict[str, Any], **_: Any) -> None:
        username, password = data.get("username"), data.get("password")
        if username and password and password.lower() == username.lower():
            raise ValidationError({"password": ["must not be the username"]})


class UserPatchSchema(Schema):
    disabled = fields.Boolean(
        metadata={"description": "true disables (and revokes tokens); false enables again."}
    )
    password = fields.String(
        load_only=True,
        validate=_password,
        metadata={
            "description": "A new password; every token of the user is revoked.",
            **PASSWORD_LENGTHS,
        },
    )
    display_name = fields.String(validate=NAME)


class UserSchema(Schema):
    id = StoredInteger()
    username = fields.String()
    display_name = fields.String()
    role = fields.String()
    location_ids = fields.List(StoredInteger())
    area_ids = fields.List(StoredInteger())
    created_at = fields.String()
    disabled_at = fields.String(allow_none=True)


class UserListSchema(Schema):
    users = fields.List(fields.Nested(UserSchema))


@blp.route("/areas", methods=["POST"])
@allow(Role.ADMIN)
@blp.arguments(AreaInSchema)
@blp.response(201, AreaSchema)
def post_area(data: dict[str, Any]) -> dict[str, Any]:
    """Create an area."""
    return create_area(get_db(), data["name"])


@blp.route("/areas", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, AreaListSchema)
def get_areas() -> dict[str, Any]:
    """List the areas in the caller's scope."""
    return {"areas": list_areas(get_db(), current_principal())}


@blp.route("/areas/<int:area_id>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, AreaSchema)
def get_one_area(area_id: int) -> dict[str, Any]:
    """Return one area in scope."""
    return get_area(get_db(), area_id, current_principal())


@blp.route("/locations", methods=["POST"])
@allow(Role.ADMIN)
@blp.arguments(LocationInSchema)
@blp.response(201, LocationSchema)
def post_location(data: dict[str, Any]) -> dict[str, Any]:
    """Create a location in an area."""
    return create_location(get_db(), data)


@blp.route("/locations", methods=["GET"])
@allow(*ALL_ROLES)
@blp.arguments(LocationQuerySchema, location="query")
@blp.response(200, LocationListSchema)
def get_locations(query: dict[str, Any]) -> dict[str, Any]:
    """List the locations in the caller's scope."""
    return {"locations": list_locations(get_db(), current_principal(), query.get("area_id"))}


@blp.route("/locations/<int:location_id>", methods=["GET"])
@allow(*ALL_ROLES)
@blp.response(200, LocationSchema)
def get_one_location(location_id: int) -> dict[str, Any]:
    """Return one location in scope."""
    return get_location(get_db(), location_id, current_principal())


@blp.route("/locations/<int:location_id>", methods=["PATCH"])
@allow(Role.ADMIN)
@blp.arguments(LocationPatchSchema)
@blp.response(200, LocationSchema)
def patch_location(data: dict[str, Any], location_id: int) -> dict[str, Any]:
    """Change a location."""
    return update_location(get_db(), location_id, data)


@blp.route("/locations/<int:location_id>", methods=["DELETE"])
@allow(Role.ADMIN)
@blp.response(204)
def remove_location(location_id: int) -> None:
    """Retire a location; phones receive it as a deletion."""
    delete_location(get_db(), location_id)


@blp.route("/users", methods=["POST"])
@allow(Role.ADMIN)
@blp.arguments(UserInSchema)
@blp.response(201, UserSchema)
def post_user(data: dict[str, Any]) -> dict[str, Any]:
    """Create a user with a role and scope."""
    return create_user(get_db(), **data)


@blp.route("/users", methods=["GET"])
@allow(Role.ADMIN)
@blp.response(200, UserListSchema)
def get_users() -> dict[str, Any]:
    """List every user."""
    return {"users": list_users(get_db())}


@blp.route("/users/<int:user_id>", methods=["GET"])
@allow(Role.ADMIN)
@blp.response(200, UserSchema)
def get_one_user(user_id: int) -> dict[str, Any]:
    """Return one user."""
    return get_user(get_db(), user_id)


@blp.route("/users/<int:user_id>", methods=["DELETE"])
@allow(Role.ADMIN)
@blp.response(200, UserSchema)
@blp.alt_response(409, description="The last active admin cannot be disabled.")
def remove_user(user_id: int) -> dict[str, Any]:
    """Disable a user and revoke their tokens (their history stays)."""
    return disable_user(get_db(), user_id)


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@allow(Role.ADMIN)
@blp.arguments(UserPatchSchema)
@blp.response(200, UserSchema)
@blp.alt_response(409, description="The last active admin cannot be disabled.")
def patch_user(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Enable or disable a user, reset their password, or rename them."""
    db = get_db()
    user = get_user(db, user_id)
    if "display_name" in data:
        user = set_display_name(db, user_id, data["display_name"])
    if "password" in data:
        user = set_password(db, user_id, data["password"])
    if data.get("disabled") is True:
        user = disable_user(db, user_id)
    elif data.get("disabled") is False:
        user = enable_user(db, user_id)
    return user
