"""Responses that hand over files: photos and CSV downloads, for the API and the console alike."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response, request, send_file, stream_with_context

from fieldobs.db import get_db
from fieldobs.extensions import current_settings
from fieldobs.people.scope import Principal
from fieldobs.photos import service as photo_service
from fieldobs.photos.store import store_for


def photo_response(principal: Principal, photo_id: str, *, thumbnail: bool = False) -> Response:
    """Send a photo's sanitised copy or thumbnail to whoever may see its visit (304 if cached)."""
    settings = current_settings()
    photo = photo_service.find_servable(get_db(), principal, photo_id)
    if thumbnail:
        sha256, mimetype = str(photo["thumb_sha256"]), photo_service.THUMB_CONTENT_TYPE
    else:
        # The copy this caller gets: store staff get a re-encoded one (see image_to_serve).
        sha256 = photo_service.image_to_serve(
            get_db(), settings.data_dir, principal, photo, settings=settings.photos
        )
        mimetype = str(photo["content_type"])
    if sha256 in request.if_none_match:
        response = Response(status=304)
    else:
        path = store_for(settings.data_dir).path(sha256)
        response = send_file(path, mimetype=mimetype, etag=False, conditional=False, max_age=None)
        response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(sha256)
    # The bytes behind a photo id never change; access can, so only the caller's cache keeps it.
    response.headers["Cache-Control"] = (
        f"private, max-age={settings.photo_cache_seconds}, immutable"
    )
    return response


def csv_download(chunks: Iterator[str], name: str) -> Response:
    """Stream CSV chunks as a file download that no shared cache keeps."""
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )
