"""The OpenAPI description of the binary routes: tus headers, raw bodies, image responses."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from fieldobs.stored_integers import StoredInteger

TUS_VERSION = "1.0.0"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif")
BINARY = {"type": "string", "format": "binary"}
COUNT = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


def header(name: str, description: str, schema: dict[str, Any], *, required: bool = False) -> Any:
    """Return a request header parameter."""
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    }


def headers(*names: str, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return response headers by name: those in `optional` are not always sent."""
    return {
        name: {
            "description": RESPONSE_HEADERS[name][0],
            "required": name not in optional,
            "schema": RESPONSE_HEADERS[name][1],
        }
        for name in (*names, *optional)
    }


TUS_RESUMABLE = header(
    "Tus-Resumable",
    "The tus version the client speaks; 412 unless 1.0.0.",
    {"type": "string", "enum": [TUS_VERSION]},
    required=True,
)
UPLOAD_LENGTH = header(
    "Upload-Length", "The photo's size in bytes.", {**COUNT, "minimum": 1}, required=True
)
UPLOAD_METADATA = header(
    "Upload-Metadata",
    "Comma-separated `key base64(value)` pairs: visit_id and photo_id (version 4 UUIDs), "
    "filename, filetype.",
    {"type": "string"},
    required=True,
)
UPLOAD_OFFSET = header(
    "Upload-Offset", "Where this chunk starts: the offset HEAD gave.", COUNT, required=True
)
UPLOAD_CHECKSUM = header(
    "Upload-Checksum",
    "`<algorithm> <base64 digest>` of this chunk (460 on a mismatch).",
    {
        "type": "string",
        "pattern": "^(sha1 [A-Za-z0-9+/]{27}=|md5 [A-Za-z0-9+/]{22}==|sha256 [A-Za-z0-9+/]{43}=)$",
    },
)

TEXT = {"type": "string"}
RESPONSE_HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Tus-Resumable": ("Always 1.0.0.", {"type": "string", "enum": [TUS_VERSION]}),
    "Tus-Version": ("The tus versions served: 1.0.0.", TEXT),
    "Tus-Extension": ("creation,termination,expiration,checksum", TEXT),
    "Tus-Max-Size": ("The largest photo accepted, in bytes.", COUNT),
    "Tus-Checksum-Algorithm": ("The checksum algorithms accepted (sha1).", TEXT),
    "Location": ("The upload's URL, for HEAD, PATCH and DELETE.", TEXT),
    "Upload-Offset": ("The bytes the server holds durably.", COUNT),
    "Upload-Length": ("The photo's size in bytes.", COUNT),
    "Upload-Expires": ("When an unfinished upload is deleted (HTTP date).", TEXT),
    "Upload-Metadata": ("The metadata sent at creation.", TEXT),
    "ETag": ("The image's sha256: send it as If-None-Match.", TEXT),
    "Cache-Control": ("Who may cache the answer, for how long.", TEXT),
}


def declare_upload_limit(paths: dict[str, Any], max_bytes: int) -> None:
    """Give Upload-Length the largest photo this server takes (a setting)."""
    for parameter in paths["/api/v1/uploads"]["post"]["parameters"]:
        if parameter["name"] == "Upload-Length":
            parameter["schema"] = {**parameter["schema"], "maximum": max_bytes}


def binary_body(*media_types: str, description: str, min_bytes: int = 0) -> dict[str, Any]:
    """Return a required request body of raw bytes."""
    schema = {**BINARY, "minLength": min_bytes} if min_bytes else BINARY
    return {
        "required": True,
        "description": description,
        "content": {media_type: {"schema": schema} for media_type in media_types},
    }


def image_response(description: str, *media_types: str) -> dict[str, Any]:
    """Return an image answer with its cache headers."""
    return {
        "description": description,
        "headers": headers("ETag", "Cache-Control"),
        "content": {media_type: {"schema": BINARY} for media_type in media_types},
    }


class PhotoSchema(Schema):
    """A photo as stored: the one-shot upload's answer."""

    id = fields.String(required=True, metadata={"format": "uuid"})
    visit_id = fields.String(required=True, allow_none=True, metadata={"format": "uuid"})
    state = fields.String(required=True, metadata={"enum": ["received"]})
    sha256 = fields.String(required=True, metadata={"description": "Of the bytes as uploaded"})
    size = StoredInteger(required=True)
    received_at = fields.String(required=True)
    content_type = fields.String(required=True, metadata={"enum": list(IMAGE_TYPES)})
    width = StoredInteger(required=True)
    height = StoredInteger(required=True)
    captured_at = fields.String(
        required=True, allow_none=True, metadata={"description": "From the image, if it said"}
    )
