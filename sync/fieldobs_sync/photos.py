"""Photo manifest entries computed from files on disk."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Fixed table first: mimetypes depends on the host's /etc/mime.types and misses HEIC on many.
_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".avif": "image/avif",
}


@dataclass(frozen=True)
class PhotoFile:
    """A photo on the device and the manifest facts about it."""

    id: str
    path: str
    sha256: str
    size: int
    content_type: str
    filename: str

    def manifest(self, item: str | None = None) -> dict[str, Any]:
        """Return the visit manifest entry for this photo."""
        entry: dict[str, Any] = {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
        }
        if item is not None:
            entry["item"] = item
        return entry


def content_type_for(path: str | os.PathLike[str]) -> str:
    """Return a photo's media type, guessed from its file extension."""
    ext = Path(path).suffix.lower()
    return _TYPES.get(ext) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return the hex sha256 and the size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def describe_photo(path: str | os.PathLike[str], photo_id: str | None = None) -> PhotoFile:
    """Describe a photo file; a missing id gets a fresh UUID (ids are made on the phone)."""
    sha, size = file_digest(path)
    pid = photo_id or str(uuid.uuid4())
    p = Path(path).resolve()
    return PhotoFile(pid, str(p), sha, size, content_type_for(p), p.name)


def attach_photos(visit: Mapping[str, Any], photos: Sequence[PhotoFile]) -> dict[str, Any]:
    """Return a copy of `visit` whose `photos` manifest names each file with its facts."""
    # An entry already in the manifest keeps its other keys (such as `item`); one that
    # disagrees with the file about sha256 or size is an error: the server would refuse it.
    body = dict(visit)
    manifest = [dict(p) for p in body.get("photos") or []]
    index = {str(p.get("id")): p for p in manifest}
    for photo in photos:
        entry = index.get(photo.id)
        if entry is None:
            entry = {"id": photo.id}
            manifest.append(entry)
            index[photo.id] = entry
        for key, value in photo.manifest().items():
            if key in entry and entry[key] != value and key in ("sha256", "size"):
                raise ValueError(
                    f"photo {photo.id}: manifest says {key}={entry[key]!r}, file has {value!r}"
                )
            entry.setdefault(key, value)
    body["photos"] = manifest
    return body
