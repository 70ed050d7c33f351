"""Turn an uploaded photo into a metadata-free copy and a small thumbnail (pure: no Flask).

The steps, one module each:

- checking: the first bytes pick the only decoders allowed; refusals name what to change.
- orienting: EXIF orientation and capture time, applied or kept exactly once.
- stripping: the lossless JPEG path (coding segments only, no APPn/COM).
- colour: pixels to sRGB, transparency onto white, so every profile can be dropped.
- rendering: the decode, the sanitised JPEG copy and the thumbnail.

The copy carries no metadata at all: no EXIF/GPS, XMP, IPTC/Photoshop, MPF, ICC, comments,
embedded thumbnails or trailing data.
"""

from __future__ import annotations

from pathlib import Path

import pillow_heif
from PIL import Image

from fieldobs.photos.processing.checking import (
    ACCEPTED_FORMATS,
    DECODERS,
    JPEG_FORMATS,
    SNIFF_BYTES,
    PhotoRejected,
    UnsupportedPhoto,
    check_pixel_count,
    check_whole_decode,
    rejecting_broken_files,
    sniff_content_type,
    unsupported,
)
from fieldobs.photos.processing.rendering import (
    OUTPUT_CONTENT_TYPE,
    THUMBNAIL_SIDE,
    ProcessedPhoto,
    process_decoded,
    process_jpeg,
    reencode_jpeg,
)
from fieldobs.photos.processing.stripping import strip_jpeg

# HEIF is on the allow-list, so registering its opener widens nothing beyond it.
pillow_heif.register_heif_opener()

__all__ = [
    "ACCEPTED_FORMATS",
    "OUTPUT_CONTENT_TYPE",
    "THUMBNAIL_SIDE",
    "PhotoRejected",
    "ProcessedPhoto",
    "UnsupportedPhoto",
    "process_photo",
    "reencode_jpeg",
    "sniff_content_type",
    "strip_jpeg",
]


def process_photo(
    source: Path,
    *,
    max_pixels: int = 50_000_000,
    max_side: int | None = None,
    max_decode_pixels: int | None = None,
) -> ProcessedPhoto:
    """Check one uploaded photo and make its metadata-free copy and thumbnail.

    `max_decode_pixels` bounds the pixels decoded at once (default: `max_pixels`): a JPEG is
    decoded DCT-scaled to fit it, a format that must be decoded whole is refused above it.
    """
    budget = max_pixels if max_decode_pixels is None else max_decode_pixels
    with source.open("rb") as fp:
        head = fp.read(SNIFF_BYTES)
        content_type = sniff_content_type(head)
        if content_type is None:
            raise unsupported(head)
        fp.seek(0)
        with rejecting_broken_files(), Image.open(fp, formats=DECODERS[content_type]) as img:
            check_pixel_count(img, max_pixels)
            if img.format in JPEG_FORMATS:
                return process_jpeg(img, fp, max_side, budget)
            check_whole_decode(img, budget)
            return process_decoded(img, max_side)
