"""Decode an accepted photo and encode its metadata-free copy and its thumbnail.

- The sanitised copy is always a JPEG (``image/jpeg``), so every client can show it. Anything
  not served losslessly (see stripping) is decoded once and re-encoded at quality 90.
- The thumbnail (long side <= 512) of a JPEG is decoded DCT-scaled with ``draft``: a reduced
  decode still reads every scan, so it also proves the file is complete.
- HEIF is decoded once at full size and both outputs come from that decode; pillow_heif's
  ``draft`` would swap in the file's embedded thumbnail, which need not match the photo, so it
  is never called on HEIF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageFile

from fieldobs.photos.processing.colour import to_srgb
from fieldobs.photos.processing.orienting import TRANSPOSE, exif_fields, fit, oriented
from fieldobs.photos.processing.stripping import is_plain_jpeg, same_picture, strip_jpeg_file

THUMBNAIL_SIDE = 512
OUTPUT_CONTENT_TYPE = "image/jpeg"
_COPY_QUALITY = 90
_THUMBNAIL_QUALITY = 80


@dataclass(frozen=True)
class ProcessedPhoto:
    """The outputs of one accepted photo."""

    image: bytes
    content_type: str
    thumbnail: bytes
    width: int
    height: int
    captured_at: str | None
    source_format: str
    # The copy kept the file's entropy-coded data, and so its quantisation tables.
    lossless: bool = False


def process_jpeg(
    img: ImageFile.ImageFile, fp: IO[bytes], max_side: int | None, max_decode_pixels: int
) -> ProcessedPhoto:
    """Serve the JPEG losslessly when its pixels can stay as they are, else re-encode it."""
    orientation, captured_at = exif_fields(img)  # a JPEG's EXIF is in its header: no decode
    shown = oriented(img.size, orientation)
    target = fit(shown, max_side)
    if target == shown and orientation == 1 and is_plain_jpeg(img):
        stripped = strip_jpeg_file(fp)
        if stripped is not None and same_picture(stripped, img):
            thumbnail = _jpeg_thumbnail(img)
            return ProcessedPhoto(
                stripped,
                OUTPUT_CONTENT_TYPE,
                thumbnail,
                *shown,
                captured_at,
                str(img.format),
                lossless=True,
            )
    icc = img.info.get("icc_profile")
    # DCT-scaled decode when downscaling, and whenever a full decode would exceed the budget:
    # a JPEG is never refused for its decode cost, its copy is served smaller instead.
    img.draft("RGB", draft_size(img.size, oriented(target, orientation), max_decode_pixels))
    img.load()
    decoded = oriented(img.size, orientation)
    if decoded[0] < target[0] or decoded[1] < target[1]:
        target = decoded
    return _finish(img, icc, orientation, target, captured_at, str(img.format))


def reencode_jpeg(data: bytes, max_decode_pixels: int) -> bytes:
    """Re-encode a sanitised JPEG with the encoder's own tables: no camera fingerprint left.

    Quantisation tables tell camera models apart; a copy for store staff must not carry them.
    """
    with Image.open(io.BytesIO(data), formats=("JPEG",)) as img:
        img.draft("RGB", draft_size(img.size, img.size, max_decode_pixels))
        img.load()
        return _encode(img if img.mode in ("RGB", "L") else img.convert("RGB"), _COPY_QUALITY)


def draft_size(
    size: tuple[int, int], target: tuple[int, int], max_decode_pixels: int
) -> tuple[int, int]:
    """Return the size to ask `draft` for: the target, or smaller so the decode fits the budget.

    `draft` picks the largest DCT scale (1/2, 1/4, 1/8) whose result is still at least the size
    asked for, so asking for the floor of size/k yields exactly scale 1/k.
    """
    width, height = size
    scale = next((k for k in (1, 2, 4) if -(-width // k) * -(-height // k) <= max_decode_pixels), 8)
    return min(target[0], max(1, width // scale)), min(target[1], max(1, height // scale))


def _jpeg_thumbnail(img: ImageFile.ImageFile) -> bytes:
    """Decode the JPEG DCT-scaled to no less than the thumbnail and encode the thumbnail."""
    size = fit(img.size, THUMBNAIL_SIDE)
    img.draft("RGB", size)
    img.load()  # a reduced decode still reads every scan: truncation and damage surface here
    small = img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)
    return _encode(small if small.mode == "RGB" else small.convert("RGB"), _THUMBNAIL_QUALITY)


def process_decoded(img: ImageFile.ImageFile, max_side: int | None) -> ProcessedPhoto:
    """Decode the first frame of a PNG, WebP, AVIF or HEIF once and derive both outputs."""
    img.load()  # before EXIF: a PNG may keep it after the pixels, and load() must fail loudly
    orientation, captured_at = exif_fields(img)
    if img.format == "HEIF":
        orientation = 1  # libheif has applied irot/imir already
    target = fit(oriented(img.size, orientation), max_side)
    icc = img.info.get("icc_profile")
    return _finish(img, icc, orientation, target, captured_at, str(img.format))


def _finish(
    img: Image.Image,
    icc: bytes | None,
    orientation: int,
    target: tuple[int, int],
    captured_at: str | None,
    source_format: str,
) -> ProcessedPhoto:
    """Make decoded pixels sRGB, orient and size them, and encode the copy and thumbnail."""
    pixels = to_srgb(img, icc)
    _release(img, pixels)
    if orientation in TRANSPOSE:
        pixels = pixels.transpose(TRANSPOSE[orientation])
        _release(img, pixels)
    if pixels.size != target:
        pixels = pixels.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        _release(img, pixels)
    image = _encode(pixels, _COPY_QUALITY)
    thumbnail = _encode(_shrink(pixels, THUMBNAIL_SIDE), _THUMBNAIL_QUALITY)
    return ProcessedPhoto(
        image, OUTPUT_CONTENT_TYPE, thumbnail, *pixels.size, captured_at, source_format
    )


def _release(decoded: Image.Image, pixels: Image.Image) -> None:
    """Free the decoded pixels once a converted copy replaces them (one full image, not two)."""
    if pixels is not decoded:
        decoded.close()


def _shrink(img: Image.Image, side: int) -> Image.Image:
    """Return the image scaled so its long side is at most `side`."""
    size = fit(img.size, side)
    if size == img.size:
        return img
    # reduce() first by whole factors, then LANCZOS over the last <= 2x: same look, far faster.
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _encode(img: Image.Image, quality: int) -> bytes:
    """Encode the image as a JPEG that carries no metadata."""
    img.info = {}  # Pillow copies a source comment (COM) into the output unless info is empty
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()
