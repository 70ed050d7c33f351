"""Photo evidence over HTTP: tus 1.0.0 uploads, one-shot PUT, scoped serving of the copies."""

from __future__ import annotations

from pathlib import Path

from flask import Response, jsonify, request, url_for
from flask_smorest import Blueprint
from werkzeug.http import http_date

from fieldobs.api import upload_docs as docs
from fieldobs.api.downloads import photo_response
from fieldobs.api.security import allow, current_principal, public
from fieldobs.db import get_db
from fieldobs.errors import BadRequest, FieldobsError, UnsupportedMediaType
from fieldobs.extensions import current_settings
from fieldobs.people.scope import ALL_ROLES, Role
from fieldobs.photos import service as photo_service
from fieldobs.photos import tus as uploads
from fieldobs.photos.policy import PhotoSettings
from fieldobs.timeutil import parse_rfc3339, utcnow

TUS_VERSION = docs.TUS_VERSION
TUS_EXTENSIONS = "creation,termination,expiration,checksum"
OFFSET_CONTENT_TYPE = docs.OFFSET_CONTENT_TYPE
UPLOADERS = (Role.SHOPPER, Role.MANAGER, Role.AREA_LEAD, Role.ADMIN)

blp = Blueprint(
    "uploads",
    __name__,
    url_prefix="/api/v1",
    description="Resumable photo uploads, tus 1.0.0 (creation, termination, expiration, "
    "checksum). Every request but OPTIONS sends `Tus-Resumable: 1.0.0`.",
)
photos_blp = Blueprint(
    "photos",
    __name__,
    url_prefix="/api/v1",
    description="One-shot photo upload, and the sanitised photos and thumbnails of visits.",
)


class TusVersionMismatch(BadRequest):
    status = 412
    code = "tus_version"
    default_message = f"Send 'Tus-Resumable: {TUS_VERSION}'."


@blp.before_request
def _require_tus_version() -> None:
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise TusVersionMismatch(headers={"Tus-Version": TUS_VERSION})


@blp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    if response.status_code == 460:
        response.status = "460 Checksum Mismatch"
    return response


def _settings() -> PhotoSettings:
    return current_settings().photos


def _data_dir() -> Path:
    return current_settings().data_dir


def _header_int(name: str) -> int:
    return uploads.parse_count(name, request.headers.get(name))


def _empty(status: int) -> Response:
    response = Response(status=status)
    del response.headers["Content-Type"]  # no body, so no type
    return response


def _upload_headers(response: Response, row: dict[str, object]) -> Response:
    response.headers["Upload-Offset"] = str(row["received"])
    response.headers["Upload-Expires"] = http_date(parse_rfc3339(str(row["expires_at"])))
    return response


@blp.route("/uploads", methods=["OPTIONS"])
@public
@blp.doc(
    responses={
        "204": {
            "description": "The tus server's capabilities.",
            "headers": docs.headers(
                "Tus-Resumable",
                "Tus-Version",
                "Tus-Extension",
                "Tus-Max-Size",
                "Tus-Checksum-Algorithm",
            ),
        }
    }
)
def tus_options() -> Response:
    """Describe the tus server: version, extensions, size limit, checksum algorithms."""
    response = _empty(204)
    response.headers["Tus-Version"] = TUS_VERSION
    response.headers["Tus-Extension"] = TUS_EXTENSIONS
    response.headers["Tus-Max-Size"] = str(current_settings().photos.max_bytes)
    response.headers["Tus-Checksum-Algorithm"] = ",".join(uploads.CHECKSUMS)
    return response


@blp.route("/uploads", methods=["POST"], provide_automatic_options=False)
@allow(*UPLOADERS)
@blp.doc(
    description="Headers: `Upload-Length` (bytes), `Upload-Metadata` with base64 `visit_id`, "
    "`photo_id`, `filename`, `filetype`. The visit may not have arrived yet.",
    parameters=[docs.TUS_RESUMABLE, docs.UPLOAD_LENGTH, docs.UPLOAD_METADATA],
    responses={
        "201": {
            "description": "Created; `Location` is the upload URL.",
            "headers": docs.headers("Tus-Resumable", "Location", "Upload-Offset", "Upload-Expires"),
        },
        "413": {"description": "Upload-Length over the limit."},
        "404": {"description": "The visit exists and is not the caller's."},
        "400": {"description": "Upload-Length or Upload-Metadata malformed (named in fields)."},
        "507": {"description": "The disk is full; retry after Retry-After seconds."},
    },
)
def create_upload() -> Response:
    """Create a resumable upload of one photo."""
    row = photo_service.start_upload(
        get_db(),
        _data_dir(),
        current_principal(),
        length=_header_int("Upload-Length"),
        metadata=request.headers.get("Upload-Metadata"),
        settings=_settings(),
        now=utcnow(),
    )
    response = _upload_headers(_empty(201), row)
    response.headers["Location"] = url_for("uploads.upload_offset", upload_id=row["id"])
    return response


@blp.route("/uploads/<upload_id>", methods=["HEAD"])
@allow(*UPLOADERS)
@blp.doc(
    parameters=[docs.TUS_RESUMABLE],
    responses={
        "200": {
            "description": "`Upload-Offset`: the bytes held durably.",
            "headers": docs.headers(
                "Tus-Resumable",
                "Upload-Offset",
                "Upload-Length",
                "Upload-Expires",
                "Cache-Control",
                optional=("Upload-Metadata",),
            ),
        }
    },
)
def upload_offset(upload_id: str) -> Response:
    """Tell how many bytes of the upload the server holds."""
    row = photo_service.upload_status(
        get_db(), _data_dir(), current_principal(), upload_id, settings=_settings(), now=utcnow()
    )
    response = _upload_headers(_empty(200), row)
    response.headers["Upload-Length"] = str(row["length"])
    response.headers["Cache-Control"] = "no-store"
    if row["metadata"]:
        response.headers["Upload-Metadata"] = str(row["metadata"])
    return response


@blp.route("/uploads/<upload_id>", methods=["PATCH"])
@allow(*UPLOADERS)
@blp.doc(
    description="Body: the bytes from `Upload-Offset` on, as "
    "`Content-Type: application/offset+octet-stream`, optionally with "
    "`Upload-Checksum: sha1 <base64>`. The chunk that completes the upload is processed at "
    "once: a refused photo answers 415/422, other bytes for a known photo id 409.",
    parameters=[docs.TUS_RESUMABLE, docs.UPLOAD_OFFSET, docs.UPLOAD_CHECKSUM],
    requestBody=docs.binary_body(
        OFFSET_CONTENT_TYPE, description="The bytes from Upload-Offset on."
    ),
    responses={
        "204": {
            "description": "Stored; `Upload-Offset` is the new offset.",
            "headers": docs.headers("Tus-Resumable", "Upload-Offset", "Upload-Expires"),
        },
        "409": {"description": "Upload-Offset is not the server's, or the upload is busy."},
        "460": {"description": "Checksum mismatch; the chunk was discarded."},
        "410": {"description": "The upload expired."},
        "400": {"description": "Upload-Offset is not ASCII digits within 2^63 - 1."},
        "507": {
            "description": "The disk is full (Retry-After): the chunk was dropped, or, for the "
            "last chunk, every byte is kept and HEAD finishes the photo later."
        },
    },
)
def append_upload(upload_id: str) -> Response:
    """Append bytes to an upload; the last chunk completes it."""
    if request.mimetype != OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(f"Send the bytes as {OFFSET_CONTENT_TYPE}.")
    chunk = uploads.Chunk(
        offset=_header_int("Upload-Offset"),
        stream=request.stream,
        declared=request.content_length,
        # An empty Upload-Checksum claims no checksum: the same as none.
        checksum=uploads.parse_checksum(request.headers.get("Upload-Checksum") or None),
    )
    row, outcome = photo_service.receive_chunk(
        get_db(),
        _data_dir(),
        current_principal(),
        upload_id,
        chunk,
        settings=_settings(),
        now=utcnow(),
    )
    if outcome is not None and outcome.error is not None:
        error: FieldobsError = outcome.error
        error.headers["Upload-Offset"] = str(row["received"])
        raise error
    return _upload_headers(_empty(204), row)


@blp.route("/uploads/<upload_id>", methods=["DELETE"])
@allow(*UPLOADERS)
@blp.doc(
    parameters=[docs.TUS_RESUMABLE],
    responses={
        "204": {
            "description": "Terminated; the bytes are deleted.",
            "headers": docs.headers("Tus-Resumable"),
        }
    },
)
def terminate_upload(upload_id: str) -> Response:
    """Abandon an upload and delete its bytes (a photo it completed stays)."""
    uploads.terminate_upload(
        get_db(), _data_dir(), upload_id, current_principal().user_id, utcnow()
    )
    return _empty(204)


@photos_blp.route("/visits/<visit_id>/photos/<photo_id>", methods=["PUT"])
@allow(*UPLOADERS)
@photos_blp.doc(
    description="Raw image bytes as the body (any Content-Type: the bytes are sniffed).",
    requestBody=docs.binary_body(
        *docs.IMAGE_TYPES,
        "application/octet-stream",
        description="The image file as the camera wrote it (an empty body is a 400).",
        min_bytes=1,
    ),
    responses={
        "409": {"description": "Other bytes for this photo id: the first are kept."},
        "413": {"description": "Over ONE_SHOT_PHOTO_MAX_BYTES: use tus."},
        "415": {"description": "Not an accepted image type."},
        "422": {"description": "An image that cannot be accepted (truncated, too many pixels)."},
        "507": {"description": "The disk is full; nothing was kept. Retry after Retry-After."},
    },
)
@photos_blp.response(201, docs.PhotoSchema, description="Stored and processed.")
@photos_blp.alt_response(
    200, schema=docs.PhotoSchema, description="The same bytes again: nothing changed."
)
def put_photo(visit_id: str, photo_id: str) -> Response:
    """Upload a small photo of a visit in one request; safe to repeat."""
    outcome = photo_service.put_photo(
        get_db(),
        _data_dir(),
        current_principal(),
        visit_id,
        photo_id,
        request.stream,
        request.content_length,
        settings=_settings(),
    )
    if outcome.error is not None:
        raise outcome.error
    assert outcome.photo is not None
    # Returned as a Response (for its status), so dumped here through the documented schema.
    response = jsonify(docs.PhotoSchema().dump(photo_service.present(outcome.photo)))
    response.status_code = outcome.status
    return response


@photos_blp.route("/photos/<photo_id>", methods=["GET"])
@allow(*ALL_ROLES)
@photos_blp.doc(
    responses={
        "200": docs.image_response(
            "The sanitised image (no metadata). Managers and area leads get a "
            "re-encoded copy of a JPEG kept losslessly (its quantisation tables could tell the "
            "shopper's phone model).",
            *docs.IMAGE_TYPES,
        ),
        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
    }
)
def get_photo(photo_id: str) -> Response:
    """Return a photo's sanitised copy, to whoever may see its visit."""
    return photo_response(current_principal(), photo_id)


@photos_blp.route("/photos/<photo_id>/thumb", methods=["GET"])
@allow(*ALL_ROLES)
@photos_blp.doc(
    responses={
        "200": docs.image_response("A JPEG thumbnail, long side <= 512 px.", "image/jpeg"),
        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
    }
)
def get_photo_thumb(photo_id: str) -> Response:
    """Return a photo's thumbnail, to whoever may see its visit."""
    return photo_response(current_principal(), photo_id, thumbnail=True)
