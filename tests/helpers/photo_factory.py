"""Photos as phones make them (with EXIF, GPS and a capture time), and tus requests for them."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask.testing import FlaskClient
from PIL import ExifTags, Image
from werkzeug.test import TestResponse

from tests.helpers.app import Org

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
DEVICE = "SpyPhone SP-42"


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    exif[ExifTags.Base.Model] = DEVICE
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {1: "N", 2: (53.0, 47.0, 48.0), 3: "W", 4: (1.0, 32.0, 49.0)}
    )
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:23 09:12:00"
    return exif


def jpeg(width: int = 800, height: int = 600, *, seed: int = 1, quality: int = 90) -> bytes:
    """Return a noisy JPEG carrying EXIF with the device, GPS and a capture time."""
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Image.blend(base, noise, 0.14)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality, exif=_exif())
    return buffer.getvalue()


@lru_cache(maxsize=1)
def big_photo() -> bytes:
    """Return a 12 MP phone photo of about 6 MB (made once per test session)."""
    return jpeg(4032, 3024, seed=6, quality=95)


def png(width: int = 64, height: int = 48) -> bytes:
    """Return a small PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def gif() -> bytes:
    """Return a small GIF (a format that is refused)."""
    buffer = io.BytesIO()
    Image.new("P", (8, 8)).save(buffer, "GIF")
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    """Return the hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def assert_sanitised(data: bytes, size: tuple[int, int] | None = None) -> None:
    """Assert the bytes are a decodable JPEG with no EXIF, GPS or device name left."""
    assert b"Exif\x00\x00" not in data
    assert DEVICE.encode() not in data
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert not img.getexif()
        assert not {"exif", "xmp", "comment", "photoshop"} & set(img.info)
        if size is not None:
            assert img.size == size
        img.load()


def new_id() -> str:
    """Return a phone-made UUID."""
    return str(uuid.uuid4())


def metadata(**values: str) -> str:
    """Encode tus Upload-Metadata."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(
    client: FlaskClient,
    org: Org,
    length: int,
    *,
    visit_id: str | None = None,
    photo_id: str | None = None,
    user: str = "shopper",
    **headers: str,
) -> TestResponse:
    """POST a tus creation request."""
    meta = metadata(
        visit_id=visit_id or new_id(),
        photo_id=photo_id or new_id(),
        filename="IMG_0001.JPG",
        filetype="image/jpeg",
    )
    return client.post(
        "/api/v1/uploads",
        headers={
            **TUS,
            **org.auth(user),
            "Upload-Length": str(length),
            "Upload-Metadata": meta,
            **headers,
        },
    )


def patch(
    client: FlaskClient,
    org: Org,
    url: str,
    offset: int,
    body: bytes,
    *,
    user: str = "shopper",
    content_length: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> TestResponse:
    """PATCH a chunk; `content_length` larger than the body simulates a cut connection."""
    overrides: dict[str, Any] = {}
    if content_length is not None:
        overrides["CONTENT_LENGTH"] = str(content_length)
    return client.patch(
        url,
        data=body,
        headers={
            **TUS,
            **org.auth(user),
            "Content-Type": OFFSET_TYPE,
            "Upload-Offset": str(offset),
            **(headers or {}),
        },
        environ_overrides=overrides,
    )


def head(client: FlaskClient, org: Org, url: str, *, user: str = "shopper") -> TestResponse:
    """HEAD an upload."""
    return client.head(url, headers={**TUS, **org.auth(user)})


def upload(
    client: FlaskClient,
    org: Org,
    data: bytes,
    *,
    visit_id: str,
    photo_id: str,
    user: str = "shopper",
    chunk: int = 256 * 1024,
) -> TestResponse:
    """Upload bytes with tus in chunks; return the last PATCH's answer."""
    created = create(client, org, len(data), visit_id=visit_id, photo_id=photo_id, user=user)
    if created.status_code != 201:
        return created
    url = created.headers["Location"]
    offset, response = 0, created
    while offset < len(data):
        response = patch(client, org, url, offset, data[offset : offset + chunk], user=user)
        if response.status_code != 204:
            return response
        offset = int(response.headers["Upload-Offset"])
    return response


def one_shot(
    client: FlaskClient,
    org: Org,
    data: bytes,
    *,
    visit_id: str,
    photo_id: str,
    user: str = "shopper",
) -> TestResponse:
    """PUT a photo in one request."""
    return client.put(
        f"/api/v1/visits/{visit_id}/photos/{photo_id}",
        data=data,
        headers={**org.auth(user), "Content-Type": "image/jpeg"},
    )
