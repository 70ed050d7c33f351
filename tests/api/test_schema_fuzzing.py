"""schemathesis drives every operation of the served OpenAPI document, as admin and as shopper.

A bounded, derandomized run is part of `make test`; `make fuzz` sets FIELDOBS_FUZZ_EXAMPLES
for a long one. Every check schemathesis has runs. Three are narrowed, never switched off:
positive_data_acceptance lets a 400/422 through only when it names nothing but fields of that
operation that depend on stored data (DATA_DEPENDENT_FIELDS, each with its reason), or refuses
the image bytes of the two photo uploads;
negative_data_rejection counts 413 and tus's 412 as refusals; missing_required_header accepts
tus's 412 for Tus-Resumable. ignored_auth is off for tus OPTIONS only (it needs no token).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
)

from fieldobs.db import get_db, storage_for
from fieldobs.people.accounts import enable_user, issue_token, set_password
from tests.helpers.app import PASSWORD, Org, make_app

# About a minute even when bounded: `make test` runs it, `make test-fast` leaves it out.
pytestmark = pytest.mark.slow
# Examples per operation and generation phase: small in `make test`, large in `make fuzz`.
MAX_EXAMPLES = int(os.environ.get("FIELDOBS_FUZZ_EXAMPLES", "6"))
ROLES = ("admin", "shopper")

# Fields whose validity depends on stored records, on other fields or on other items: no JSON
# Schema can say it, so a schema-valid request may get a 400/422 naming them (and only them).
DATA_DEPENDENT_FIELDS = {
    "answers": "must answer the items of the checklist version named, each by its type",
    "photos": "each photo id once (uniqueItems compares whole objects), named by the answers",
    "finished_at": "must not be before started_at",
    "window_start": "read in the location's time zone; the window must end after it starts",
    "window_end": "must be after window_start, and not over",
    "from": "at most the longest span before `to`, and not after it",
    "to": "not before `from`",
    "period": "a month (YYYY-MM) or an ISO week (YYYY-Www), as `grain` says",
    "revision": "must follow the stored revision",
    "id": "must be the id in the URL",
    "events": "a client webhook hears only the events store staff may see (see `audience`)",
    "checklist": "must name a published checklist (and version) of the right kind",
    "location_id": "must name a location the caller may see",
    "area_id": "must name an area",
    "area_ids": "must name areas, and only for area leads",
    "location_ids": "must name locations, and only for managers",
    "shopper": "must name a shopper",
    "assignment_id": "must name an open assignment of the caller",
    "cursor": "sealed (AES-GCM) by the server: only one it made for this list is valid",
    "note": "required to return a visit, depends on `action`",
    "password": "must not be a common password (a dictionary) nor the username",
    "url": "its host must resolve to public addresses (DNS, at registration)",
    "header": "the CSV's first line must name the columns",
    "Upload-Metadata": "its base64 values must decode to version-4 UUIDs (visit_id, photo_id)",
}
TUS_VERSION_HEADER = "Tus-Resumable"
# Bytes that must decode as an accepted image (or finish one): no schema says "a JPEG".
IMAGE_BODIES = {
    ("PUT", "/api/v1/visits/{visit_id}/photos/{photo_id}"),
    ("PATCH", "/api/v1/uploads/{upload_id}"),
}


def _named_fields(response: Any) -> set[str] | None:
    """Return the fields a JSON error names (its top-level names), or None if it names none."""
    try:
        problems = response.json()["error"].get("fields")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not problems:
        return None
    return {name.split(".")[0] for name in problems}


def _breaks_its_pattern(case: Any, name: str) -> bool:
    """Tell whether a header or query value sent breaks the pattern its parameter declares."""
    # The coverage phase fills the parameters it is not varying with defaults such as "0",
    # whatever their pattern, and still calls the request valid.
    for parameter in case.operation.definition.raw.get("parameters", []):
        pattern = parameter.get("schema", {}).get("pattern")
        if parameter.get("name") != name or pattern is None:
            continue
        sent = {"header": case.headers, "query": case.query}.get(parameter.get("in")) or {}
        return name in sent and re.search(pattern, str(sent[name])) is None
    return False


def _fields_taken(spec: dict[str, Any], method: str, path: str) -> set[str]:
    """Return the names an operation takes: its parameters and its body's top-level fields."""
    item = spec["paths"].get(path, {})
    operation = item.get(method.lower())
    if operation is None:
        return set()  # a method the path does not have (the unsupported-method probes)
    names = {p["name"] for p in [*item.get("parameters", []), *operation.get("parameters", [])]}
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        if media_type == "text/csv":
            names.add("header")  # a CSV body's first line, named as a field when wrong
        body = content.get("schema", {})
        if "$ref" in body:
            body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
        names |= set(body.get("properties", {}))
    return names


def positive_data_acceptance_but_stored_data(ctx: Any, response: Any, case: Any) -> Any:
    """Accept valid data, unless the answer refuses only fields that depend on stored data.

    Each field named must be one the operation takes, and either listed in
    DATA_DEPENDENT_FIELDS or sent against the pattern its parameter declares.
    """
    named = _named_fields(response) if response.status_code in (400, 422) else None
    taken = _fields_taken(case.operation.schema.raw_schema, case.method, case.path)
    if named and all(
        name in taken and (name in DATA_DEPENDENT_FIELDS or _breaks_its_pattern(case, name))
        for name in named
    ):
        return None
    operation = (case.operation.method.upper(), case.operation.path)
    if operation in IMAGE_BODIES and response.status_code in (415, 422):
        return None
    return positive_data_acceptance(ctx, response, case)


def _tus_version_refused(response: Any, case: Any) -> bool:
    # tus 1.0.0 says 412 Precondition Failed for a missing or other Tus-Resumable.
    sent = (case.headers or {}).get(TUS_VERSION_HEADER)
    return response.status_code == 412 and sent != "1.0.0"


def negative_data_rejection_with_413_and_412(ctx: Any, response: Any, case: Any) -> Any:
    """Refuse invalid data; 413 (over a documented size) and tus's 412 are refusals too."""
    if response.status_code == 413 or _tus_version_refused(response, case):
        return None
    return negative_data_rejection(ctx, response, case)


def missing_required_header_tus(ctx: Any, response: Any, case: Any) -> Any:
    """Refuse a request without a required header; tus answers 412 for Tus-Resumable."""
    if _tus_version_refused(response, case):
        return None
    return missing_required_header(ctx, response, case)


@pytest.fixture(scope="module", params=ROLES)
def fuzz_role(request: pytest.FixtureRequest) -> str:
    """Return the user the fuzzer signs in as."""
    return str(request.param)


@pytest.fixture(scope="module")
def fuzz_org(fuzz_role: str, template: tuple[Path, Org]) -> Org:
    """Return the seeded organisation with tokens of its own (the fuzzer may replace them)."""
    seeded = template[1]
    return Org(dict(seeded.areas), dict(seeded.locations), dict(seeded.users), dict(seeded.tokens))


@pytest.fixture(scope="module")
def fuzz_app(
    fuzz_role: str, tmp_path_factory: pytest.TempPathFactory, template: tuple[Path, Org]
) -> Iterator[Flask]:
    """Return one app per role on its own copy of the seeded database."""
    data_dir = tmp_path_factory.mktemp(f"fuzz-{fuzz_role}")
    shutil.copy(template[0] / "fieldobs.db", data_dir / "fieldobs.db")
    # Generated sign-ins fail by the hundred: the throttle must not lock out the seeded users.
    app = make_app(
        data_dir,
        LOGIN_FREE_FAILURES_PER_USER=1_000_000,
        LOGIN_FREE_FAILURES_PER_ADDRESS=1_000_000,
    )
    yield app
    storage_for(app).close_thread_connection()


def _schema_app() -> Flask:
    """Return an app that serves the OpenAPI document (it depends on the code, not the data)."""
    data_dir = tempfile.mkdtemp(prefix="fieldobs-openapi-")
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    return make_app(Path(data_dir))


# Raw bytes, sent as they are: tus chunks and the image types schemathesis has no sample of.
for media_type in ("application/offset+octet-stream", "image/heic", "image/heif", "image/avif"):
    schemathesis.serializer.alias(media_type, "application/octet-stream")

# Loaded at collection (schemathesis's fixture-based loader does not run under pytest 9.2);
# every request goes to the role's own app (`app=` below), probes without credentials too.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _schema_app())
# allow_extra_parameters=False: the API ignores query parameters it does not know (as HTTP
# APIs do; OpenAPI 3.0 cannot declare that), so an extra one does not make a request invalid.
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, deterministic=True, database="none", allow_extra_parameters=False
)


def _keep_signed_in(app: Flask, org: Org, role: str) -> None:
    """Give the role a working token again if a generated call revoked it."""
    # DELETE /auth/token signs out; PATCH /users/{id} may set a new password or disable.
    if app.test_client().get("/api/v1/checklists", headers=org.auth(role)).status_code != 401:
        return
    with app.app_context():
        db = get_db()
        user_id = org.users[role]
        enable_user(db, user_id)
        set_password(db, user_id, PASSWORD)
        org.tokens[role] = issue_token(db, role, PASSWORD, 24)["token"]


@schema.parametrize()
def test_every_operation_keeps_its_contract(
    case: Any, fuzz_app: Flask, fuzz_role: str, fuzz_org: Org
) -> None:
    """Send generated requests; each answer is what the document says (status, headers, body)."""
    operation = case.operation
    excluded: list[Any] = [positive_data_acceptance, negative_data_rejection]
    additional: list[Any] = [
        positive_data_acceptance_but_stored_data,
        negative_data_rejection_with_413_and_412,
    ]
    if operation.method.upper() == "OPTIONS" and operation.path == "/api/v1/uploads":
        # tus discovery needs no token: the same answer without Authorization is right here.
        excluded.append(ignored_auth)
    parameters = operation.definition.raw.get("parameters", [])
    if any(p.get("name") == TUS_VERSION_HEADER for p in parameters):
        excluded.append(missing_required_header)
        additional.append(missing_required_header_tus)
    org = fuzz_org
    _keep_signed_in(fuzz_app, org, fuzz_role)
    case.call_and_validate(
        app=fuzz_app,
        headers=org.auth(fuzz_role),
        excluded_checks=excluded,
        additional_checks=additional,
    )
