"""Turn an uploaded photo into a metadata-free copy and a small thumbnail.

Decisions, and why:

- Decoders come from an allow-list: the first bytes pick the only Pillow plugins that may open
  the file (`formats=`), so an EPS, TIFF, GIF or SVG never reaches a renderer.
- The pixel count is checked from the header (``Image.open`` does not decode) before any decode.
- The sanitised copy is always a JPEG (``image/jpeg``), so every client can show it; transparency
  is flattened onto white.
- It carries no metadata at all: no EXIF/GPS, XMP, IPTC/Photoshop, MPF, ICC, comments, embedded
  thumbnails or trailing data. Pixels with an embedded non-sRGB profile (Display P3, Adobe RGB,
  CMYK) are converted to sRGB first, so dropping the profile keeps the colours; untagged pixels
  are taken as sRGB, as browsers do. Its only APPn segment is a 16-byte JFIF APP0 without a
  thumbnail, which says nothing about the shopper or the device.
- A JPEG whose pixels can be served as they are (orientation 1, plain YCbCr or grey, sRGB or no
  profile, no downscale asked) keeps its entropy-coded data byte for byte: the segments are
  rewritten without APPn/COM and cut after the first EOI (lossless, ~3 ms for 12 MP). Anything
  else is decoded once and re-encoded at quality 90.
- The thumbnail (long side <= 512) of a JPEG is decoded DCT-scaled with ``draft``: a reduced
  decode still reads every scan, so it also proves the file is complete.
- EXIF orientation is applied exactly once: for JPEG, PNG, WebP and AVIF (whose irot/imir boxes
  Pillow reports as EXIF orientation and does not apply); never for HEIF, whose decoder has
  already applied irot/imir (pillow_heif resets the EXIF tag to 1).
- HEIF is decoded once at full size and both outputs come from that decode; pillow_heif's
  ``draft`` would swap in the file's embedded thumbnail, which need not match the photo, so it
  is never called on HEIF.
"""

from __future__ import annotations

import io
import mmap
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import IO

import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageFile, UnidentifiedImageError

from fieldobs.errors import Invalid

# HEIF is on the allow-list, so registering its opener widens nothing beyond it.
pillow_heif.register_heif_opener()

ACCEPTED_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF"})

THUMBNAIL_SIDE = 512
OUTPUT_CONTENT_TYPE = "image/jpeg"
_COPY_QUALITY = 90
_THUMBNAIL_QUALITY = 80
_SNIFF_BYTES = 1024
_ACCEPTED_NAMES = "JPEG, HEIC, PNG, WebP or AVIF"

# The Pillow plugins allowed to open a file whose first bytes say it is of this type.
_DECODERS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("JPEG",),  # the JPEG plugin also yields MPO for multi-picture files
    "image/png": ("PNG",),
    "image/webp": ("WEBP",),
    "image/heic": ("HEIF",),
    "image/heif": ("HEIF", "AVIF"),
    "image/avif": ("AVIF",),
}
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})

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

_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_ICC_SPACES = {"RGB": "RGB", "CMYK": "CMYK", "L": "GRAY"}
_OFFSET = re.compile(r"[+-](0\d|1[0-4]):[0-5]\d")


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


def process_photo(
    source: Path, *, max_pixels: int = 50_000_000, max_side: int | None = None
) -> ProcessedPhoto:
    """Check one uploaded photo and make its metadata-free copy and thumbnail."""
    with source.open("rb") as fp:
        head = fp.read(_SNIFF_BYTES)
        content_type = sniff_content_type(head)
        if content_type is None:
            raise _unsupported(head)
        fp.seek(0)
        with _rejecting_broken_files(), Image.open(fp, formats=_DECODERS[content_type]) as img:
            _check_pixel_count(img, max_pixels)
            if img.format in _JPEG_FORMATS:
                return _process_jpeg(img, fp, max_side)
            return _process_decoded(img, max_side)


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


def _unsupported(head: bytes) -> UnsupportedPhoto:
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
def _rejecting_broken_files() -> Iterator[None]:
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


def _check_pixel_count(img: Image.Image, max_pixels: int) -> None:
    """Reject a photo whose header claims more pixels than allowed, before decoding it."""
    width, height = img.size
    if width * height > max_pixels:
        raise PhotoRejected(
            "too_many_pixels",
            f"The photo has {width}×{height} pixels ({width * height / 1e6:.3g} MP); "
            f"at most {max_pixels / 1e6:.3g} MP are accepted. "
            "Use a lower resolution in the camera settings or upload a smaller copy.",
        )


# --- JPEG -------------------------------------------------------------------------------------


def _process_jpeg(img: ImageFile.ImageFile, fp: IO[bytes], max_side: int | None) -> ProcessedPhoto:
    """Serve the JPEG losslessly when its pixels can stay as they are, else re-encode it."""
    orientation, captured_at = _exif_fields(img)  # a JPEG's EXIF is in its header: no decode
    shown = _oriented(img.size, orientation)
    target = _fit(shown, max_side)
    if target == shown and orientation == 1 and _is_plain_jpeg(img):
        stripped = _strip_jpeg_file(fp)
        if stripped is not None and _same_picture(stripped, img):
            thumbnail = _jpeg_thumbnail(img)
            return ProcessedPhoto(
                stripped, OUTPUT_CONTENT_TYPE, thumbnail, *shown, captured_at, str(img.format)
            )
    icc = img.info.get("icc_profile")
    img.draft("RGB", _oriented(target, orientation))  # DCT-scaled decode when downscaling
    img.load()
    return _finish(img, icc, orientation, target, captured_at, str(img.format))


def _is_plain_jpeg(img: Image.Image) -> bool:
    """Tell whether the JPEG's pixels mean the same without any of its APPn segments."""
    if img.mode not in ("RGB", "L") or "adobe" in img.info:
        return False  # CMYK and Adobe-transform JPEGs depend on APP14
    icc = img.info.get("icc_profile")
    return not icc or _transform_to_srgb(icc, img.mode) is None


def _jpeg_thumbnail(img: ImageFile.ImageFile) -> bytes:
    """Decode the JPEG DCT-scaled to no less than the thumbnail and encode the thumbnail."""
    size = _fit(img.size, THUMBNAIL_SIDE)
    img.draft("RGB", size)
    img.load()  # a reduced decode still reads every scan: truncation and damage surface here
    small = img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)
    return _encode(small if small.mode == "RGB" else small.convert("RGB"), _THUMBNAIL_QUALITY)


def _strip_jpeg_file(fp: IO[bytes]) -> bytes | None:
    """Return the file's first JPEG picture without metadata, or None if it cannot be done."""
    fp.seek(0)
    # A read-only map feeds the parser without copying the file into memory.
    with mmap.mmap(fp.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return strip_jpeg(data)


_JFIF_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
_SOF_MARKERS = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC)} | {0xCD, 0xCE, 0xCF}
)
_KEPT_MARKERS = _SOF_MARKERS | {0xC4, 0xCC, 0xDB, 0xDD}  # DHT, DAC, DQT, DRI
_DROPPED_MARKERS = frozenset({*range(0xE0, 0xF0), 0xFE})  # APP0-APP15, COM
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # not stuffing, RSTn or fill


def strip_jpeg(data: bytes | mmap.mmap) -> bytes | None:
    """Rebuild a JPEG from its coding segments only: no APPn, COM or data after the first EOI.

    Return None for anything unusual (unknown markers, RGB component ids, a cut-off stream), so
    the caller falls back to re-encoding rather than guess.
    """
    if data[:2] != b"\xff\xd8":
        return None
    out = [b"\xff\xd8", _JFIF_APP0]
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            out.append(b"\xff\xd9")
            return b"".join(out)
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if pos + 4 > len(data) or end > len(data):
            return None
        if marker == 0xDA:
            match = _NEXT_MARKER.search(data, end)
            if match is None:
                return None
            out.append(data[pos : match.start()])
            pos = match.start()
            continue
        if marker in _SOF_MARKERS and not _plain_components(data[pos + 4 : end]):
            return None
        if marker in _KEPT_MARKERS:
            out.append(data[pos:end])
        elif marker not in _DROPPED_MARKERS:
            return None
        pos = end
    return None


def _plain_components(sof: bytes) -> bool:
    """Tell whether a frame header describes 1 grey or 3 YCbCr components."""
    count = sof[5] if len(sof) > 5 else 0
    ids = bytes(sof[6 + 3 * i] for i in range(count) if 6 + 3 * i < len(sof))
    # Without JFIF or Adobe markers, libjpeg reads components named R, G, B as RGB, not YCbCr.
    return count == 1 or (count == 3 and ids != b"RGB")


def _same_picture(stripped: bytes, img: Image.Image) -> bool:
    """Check from its header that the stripped file is the same picture as the source."""
    try:
        with Image.open(io.BytesIO(stripped), formats=("JPEG",)) as check:
            return check.size == img.size and check.mode == img.mode
    except (OSError, SyntaxError, ValueError):
        return False


# --- everything decoded -----------------------------------------------------------------------


def _process_decoded(img: ImageFile.ImageFile, max_side: int | None) -> ProcessedPhoto:
    """Decode the first frame of a PNG, WebP, AVIF or HEIF once and derive both outputs."""
    img.load()  # before EXIF: a PNG may keep it after the pixels, and load() must fail loudly
    orientation, captured_at = _exif_fields(img)
    if img.format == "HEIF":
        orientation = 1  # libheif has applied irot/imir already
    target = _fit(_oriented(img.size, orientation), max_side)
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
    pixels = _to_srgb(img, icc)
    if orientation in _TRANSPOSE:
        pixels = pixels.transpose(_TRANSPOSE[orientation])
    if pixels.size != target:
        pixels = pixels.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    image = _encode(pixels, _COPY_QUALITY)
    thumbnail = _encode(_shrink(pixels, THUMBNAIL_SIDE), _THUMBNAIL_QUALITY)
    return ProcessedPhoto(
        image, OUTPUT_CONTENT_TYPE, thumbnail, *pixels.size, captured_at, source_format
    )


def _shrink(img: Image.Image, side: int) -> Image.Image:
    """Return the image scaled so its long side is at most `side`."""
    size = _fit(img.size, side)
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


# --- colour -----------------------------------------------------------------------------------


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Return the pixels as 8-bit sRGB RGB, transparency flattened onto white."""
    img = _to_8bit(img)
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        img = _flatten(img)
    elif img.mode not in _ICC_SPACES:
        img = img.convert("RGB")
    transform = _transform_to_srgb(icc, img.mode) if icc else None
    if transform is not None:
        in_place = img.mode == "RGB"  # spares a full-size copy of a 12 MP photo
        converted = ImageCms.applyTransform(img, transform, inPlace=in_place)
        img = img if converted is None else converted
    return img if img.mode == "RGB" else img.convert("RGB")


def _to_8bit(img: Image.Image) -> Image.Image:
    """Scale 16- and 32-bit grey to 8 bits instead of letting convert() clip it to white."""
    if img.mode != "I" and not img.mode.startswith("I;16"):
        return img
    return img.convert("I").point(lambda value: value / 256).convert("L")


def _flatten(img: Image.Image) -> Image.Image:
    """Composite the image onto white, since JPEG has no transparency."""
    rgba = img.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


@lru_cache(maxsize=16)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """Return the built-in sRGB profile."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=32)
def _transform_to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """Build the transform from an embedded profile to sRGB; None when none is needed or usable."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(profile).strip().lower().startswith("srgb"):
            return None
        if profile.profile.xcolor_space.strip() != _ICC_SPACES.get(mode):
            return None  # a profile that does not fit the pixels says nothing usable
        return ImageCms.buildTransform(
            profile,
            _srgb_profile(),
            mode,
            "RGB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE,  # lcms' one-pixel cache is not safe across threads
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile: keep the pixels as they are, as a browser would


# --- EXIF fields ------------------------------------------------------------------------------


def _exif_fields(img: Image.Image) -> tuple[int, str | None]:
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


def _oriented(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """Return the size as shown after applying the EXIF orientation."""
    return (size[1], size[0]) if orientation >= 5 else size


def _fit(size: tuple[int, int], side: int | None) -> tuple[int, int]:
    """Return the size scaled down so its long side is at most `side`."""
    width, height = size
    if side is None or max(width, height) <= side:
        return size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))
