"""Read the EXIF fields a photo keeps (orientation, capture time) and the geometry they imply.

EXIF orientation is applied exactly once: for JPEG, PNG, WebP and AVIF (whose irot/imir boxes
Pillow reports as EXIF orientation and does not apply); never for HEIF, whose decoder has
already applied irot/imir (pillow_heif resets the EXIF tag to 1).
"""

from __future__ import annotations

import re
from datetime import datetime

from PIL import ExifTags, Image

TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_OFFSET = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d")


def exif_fields(img: Image.Image) -> tuple[int, str | None]:
    """Return the EXIF orientation (1 when absent) and the capture time of the image."""
    try:
        exif = img.getexif()
    except Exception:
        # EXIF is untrusted and only feeds optional fields: a malformed block costs nothing else.
        return 1, None
    return _orientation(exif), _captured_at(exif)


def _orientation(exif: Image.Exif) -> int:
    """Return a valid EXIF orientation, 1 for a missing or nonsense one."""
    try:
        value = exif.get(ExifTags.Base.Orientation, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _captured_at(exif: Image.Exif) -> str | None:
    """Return DateTimeOriginal as ISO 8601 local time, with OffsetTimeOriginal when present."""
    try:
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
        moment = _exif_text(ifd.get(ExifTags.Base.DateTimeOriginal))
        offset = _exif_text(ifd.get(ExifTags.Base.OffsetTimeOriginal))
        parsed = datetime.strptime(moment or "", "%Y:%m:%d %H:%M:%S")
    except Exception:
        return None
    text = parsed.strftime("%Y-%m-%dT%H:%M:%S")
    return text + offset if offset and _OFFSET.fullmatch(offset) else text


def _exif_text(value: object) -> str | None:
    """Return an EXIF ASCII value as clean text."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


# --- geometry ---------------------------------------------------------------------------------


def oriented(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Return the size as shown after applying the EXIF orientation."""
    return (size[1], size[0]) if orientation >= 5 else size


def fit(size: tuple[int, int], side: int | None) -> tuple[int, int]:
    """Return the size scaled down so its long side is at most `side`."""
    width, height = size
    if side is None or max(width, height) <= side:
        return size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
