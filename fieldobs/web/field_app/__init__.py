"""Serve the field app at /app/: the shell, its service worker and its static files."""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, redirect, request

from fieldobs.extensions import current_settings

STATIC = Path(__file__).resolve().parent / "static"

# What the service worker stores on install: everything the app needs to open offline.
SHELL = (
    "index.html",
    "app.css",
    "manifest.webmanifest",
    "icons/icon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "js/main.js",
    "js/app.js",
    "js/signin.js",
    "js/home.js",
    "js/visit.js",
    "js/store.js",
    "js/api.js",
    "js/tus.js",
    "js/sync.js",
    "js/form.js",
    "js/answers.js",
    "js/photos.js",
    "js/util.js",
)
# Text is worth compressing; PNGs are compressed already.
COMPRESSIBLE = {".html", ".css", ".js", ".svg", ".webmanifest", ".json"}

blp = Blueprint("field_app", __name__)


@dataclass(frozen=True)
class Asset:
    """One static file, ready to send: its bytes, gzip copy, type and validator."""

    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


@lru_cache(maxsize=64)
def _asset(name: str, mtime_ns: int) -> Asset:  # noqa: ARG001 (the cache key: a changed file)
    path = STATIC / name
    body = path.read_bytes()
    suffix = path.suffix
    content_type = {
        ".js": "text/javascript; charset=utf-8",
        ".webmanifest": "application/manifest+json",
        ".css": "text/css; charset=utf-8",
        ".html": "text/html; charset=utf-8",
        ".svg": "image/svg+xml",
    }.get(suffix) or (mimetypes.guess_type(name)[0] or "application/octet-stream")
    # mtime=0: the same file always compresses to the same bytes, so ETags stay stable.
    gzipped = gzip.compress(body, 9, mtime=0) if suffix in COMPRESSIBLE else None
    return Asset(body, gzipped, content_type, hashlib.sha256(body).hexdigest()[:20])


def _load(name: str) -> Asset:
    path = (STATIC / name).resolve()
    if STATIC not in path.parents or not path.is_file():
        abort(404)
    return _asset(str(path.relative_to(STATIC)), path.stat().st_mtime_ns)


def shell_version(build: str = "") -> str:
    """Return a digest of every shell file: a new version whenever any of them changes."""
    # FIELDOBS_FIELD_APP_BUILD lets an operator push the shell out again with no file changed.
    digest = hashlib.sha256(build.encode())
    for name in SHELL:
        digest.update(name.encode() + b"\0" + _load(name).etag.encode())
    return digest.hexdigest()[:16]


def _send(asset: Asset, *, cache: str = "no-cache") -> Response:
    etag = f'"{asset.etag}"'
    accepts_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    use_gzip = accepts_gzip and asset.gzipped is not None and len(asset.gzipped) < len(asset.body)
    if request.headers.get("If-None-Match") == etag:
        response = Response(status=304)
    else:
        response = Response(asset.gzipped if use_gzip else asset.body)
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Type"] = asset.content_type
    response.headers["ETag"] = etag
    response.headers["Vary"] = "Accept-Encoding"
    # The service worker keeps the offline copy; the browser asks again each time online.
    response.headers["Cache-Control"] = cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.get("/app")
def app_root() -> Response:
    """Redirect to the app with its trailing slash (the service worker's scope)."""
    return redirect("/app/", code=308)  # type: ignore[return-value]


@blp.get("/app/")
def index() -> Response:
    """Send the app shell."""
    response = _send(_load("index.html"))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self';"
        " connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blp.get("/app/sw.js")
def service_worker() -> Response:
    """Send the service worker, stamped with the shell's version and file list."""
    build = current_settings().field_app_build
    head = (
        f"const VERSION = {json.dumps(shell_version(build))};\n"
        f"const SHELL = {json.dumps(['./', *[n for n in SHELL if n != 'index.html']])};\n"
    )
    body = (head + (STATIC / "sw-body.js").read_text()).encode()
    asset = Asset(
        body,
        gzip.compress(body, 9, mtime=0),
        "text/javascript; charset=utf-8",
        hashlib.sha256(body).hexdigest()[:20],
    )
    response = _send(asset)
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@blp.get("/app/<path:name>")
def static_file(name: str) -> Response:
    """Send one of the app's static files."""
    if name == "sw-body.js":
        abort(404)
    return _send(_load(name))


def init_app(app: Flask) -> None:
    """Register the field app's routes."""
    app.register_blueprint(blp)
