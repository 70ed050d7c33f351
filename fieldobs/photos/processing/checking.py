"""Check an upload before decoding it: sniff its type, refuse what is not an accepted photo.

Decoders come from an allow-list: the first bytes pick the only Pillow plugins that may open
the file (`formats=`), so an EPS, TIFF, GIF or SVG never reaches a renderer. The pixel count is
checked from the header (``Image.open`` does not decode) before any decode.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from fieldobs.errors import Invalid

ACCEPTED_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF"})
SNIFF_BYTES = 1024
_ACCEPTED_NAMES = "JPEG, HEIC, PNG, WebP or AVIF"

# The Pillow plugins allowed to open a file whose first bytes say it is of this type.
DECODERS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("JPEG",),  # the JPEG plugin also yields MPO for multi-picture files
    "image/png": ("PNG",),
    "image/webp": ("WEBP",),
    "image/heic": ("HEIF",),
    "image/heif": ("HEIF", "AVIF"),
    "image/avif": ("AVIF",),
}
JPEG_FORMATS = frozenset({"JPEG", "MPO"})

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})

# Files we recognise but do not accept, named so the shopper knows what to change.
_OTHER_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF or RAW"),
    (b"MM\x00*", "TIFF or RAW"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"8BPS", "Photoshop"),
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
)


class PhotoRejected(Invalid):
    """A photo the server will not keep, with a reason the shopper can act on (HTTP 422)."""

    code = "photo_rejected"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code=reason)
        self.reason = reason


class UnsupportedPhoto(PhotoRejected):
    """A file that is not one of the accepted image types (HTTP 415)."""

    status = 415


def sniff_content_type(head: bytes) -> str | None:
    """Return the accepted image type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _iso_media_type(head)
    return None


# --- sniffing ---------------------------------------------------------------------------------


def _iso_media_type(head: bytes) -> str | None:
    """Return the HEIF/AVIF type an ISO-BMFF ftyp box announces, or None."""
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if major in _AVIF_BRANDS:
        return "image/avif"
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major in _GENERIC_HEIF_BRANDS:
        if compatible & _AVIF_BRANDS:
            return "image/avif"
        if compatible & _HEIC_BRANDS:
            return "image/heic"
        return "image/heif"
    return None


def unsupported(head: bytes) -> UnsupportedPhoto:
    """Build the 415 for a file that is no accepted image, naming what it seems to be."""
    kind = _other_kind(head)
    if kind is None:
        return UnsupportedPhoto(
            "not_an_image",
            f"This file is not a photo. Upload a {_ACCEPTED_NAMES} image from your camera.",
        )
    return UnsupportedPhoto(
        "unsupported_format",
        f"{kind} files are not accepted. Upload the photo as {_ACCEPTED_NAMES}.",
    )


def _other_kind(head: bytes) -> str | None:
    """Name a recognised but refused file type from its first bytes."""
    for magic, kind in _OTHER_KINDS:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp":
        return "Video or other ISO media"
    if b"<svg" in head.lstrip(b"\xef\xbb\xbf \t\r\n").lower():
        return "SVG"
    return None


# --- failures ---------------------------------------------------------------------------------


@contextmanager
def rejecting_broken_files() -> Iterator[None]:
    """Turn a decoder's complaint about the file into a PhotoRejected with a reason."""
    try:
        yield
    except Image.DecompressionBombError as exc:
        raise PhotoRejected(
            "decompression_bomb",
            "The file claims far more pixels than a photo has and cannot be processed. "
            "Upload the original photo from your camera.",
        ) from exc
    except UnidentifiedImageError as exc:
        raise _corrupt() from exc
    except (
        OSError,
        EOFError,
        SyntaxError,
        ValueError,
        RuntimeError,
        struct.error,
        zlib.error,
    ) as exc:
        raise _rejection_for(exc) from exc


def _rejection_for(exc: Exception) -> PhotoRejected:
    """Classify a decoder error as truncation, a text-chunk bomb or damage."""
    text = str(exc).lower()
    if "decompressed data too large" in text:
        return PhotoRejected(
            "decompression_bomb",
            "The file carries oversized embedded text data and cannot be processed. "
            "Upload the original photo from your camera.",
        )
    if isinstance(exc, EOFError) or "truncated" in text or "end of file" in text:
        return PhotoRejected(
            "truncated",
            "The photo is incomplete: the file ends early. Upload it again.",
        )
    return _corrupt()


def _corrupt() -> PhotoRejected:
    """Build the rejection for a file of an accepted type that cannot be decoded."""
    return PhotoRejected(
        "corrupt",
        "The photo is damaged and cannot be read. Upload it again, or retake it.",
    )


def check_pixel_count(img: Image.Image, max_pixels: int) -> None:
    """Reject a photo whose header claims more pixels than allowed, before decoding it."""
    width, height = img.size
    if width * height > max_pixels:
        raise PhotoRejected(
            "too_many_pixels",
            f"The photo has {width}×{height} pixels ({width * height / 1e6:.3g} MP); "
            f"at most {max_pixels / 1e6:.3g} MP are accepted. "
            "Use a lower resolution in the camera settings or upload a smaller copy.",
        )


def check_whole_decode(img: Image.Image, max_decode_pixels: int) -> None:
    """Reject a photo that can only be decoded whole when its pixels exceed the decode budget."""
    width, height = img.size
    if width * height > max_decode_pixels:
        raise PhotoRejected(
            "too_many_pixels",
            f"The photo has {width}×{height} pixels ({width * height / 1e6:.3g} MP); "
            f"a {img.format} photo may have at most {max_decode_pixels / 1e6:.3g} MP. "
            "Use a lower resolution in the camera settings, or upload the photo as JPEG.",
        )
