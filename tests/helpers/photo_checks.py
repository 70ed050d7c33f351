"""Photos made with Pillow for the processing tests, and checks of what processing returns."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import (
    ExifTags,
    Image,
    ImageCms,
    ImageDraw,
)

from fieldobs.photos.processing import (
    THUMBNAIL_SIDE,
    ProcessedPhoto,
)

# --- checking outputs ------------------------------------------------------------------------

SOI, EOI, SOS, APP0, COM = 0xD8, 0xD9, 0xDA, 0xE0, 0xFE
# Coding segments a JPEG needs and that carry nothing about the picture's origin: DQT, DHT, DAC,
# DRI, SOS and the frame headers. ICC (APP2) is not allowed either: the pipeline converts pixels
# to sRGB and drops every profile.
CODING_MARKERS = frozenset(
    {0xDB, 0xC4, 0xCC, 0xDD, SOS, EOI}
    | {m for m in range(0xC0, 0xD0) if m not in (0xC4, 0xC8, 0xCC)}
)


def jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Return every (marker, payload) up to the first EOI, and the bytes after it."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    segments: list[tuple[int, bytes]] = [(SOI, b"")]
    pos = 2
    while True:
        assert data[pos] == 0xFF, f"no marker at byte {pos}"
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == EOI:
            segments.append((EOI, b""))
            return segments, data[pos + 2 :]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == SOS:
            pos = _end_of_entropy_data(data, pos)


def _end_of_entropy_data(data: bytes, pos: int) -> int:
    """Return where the marker after a scan's entropy-coded data starts."""
    while True:
        pos = data.index(b"\xff", pos)
        following = data[pos + 1]
        if following == 0 or 0xD0 <= following <= 0xD7:
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos


def assert_no_metadata(data: bytes) -> None:
    """Fail unless the JPEG holds only coding segments and a bare JFIF header."""
    segments, trailer = jpeg_segments(data)
    assert trailer == b"", f"{len(trailer)} bytes after EOI"
    for marker, payload in segments[1:]:
        if marker == APP0:
            # JFIF: identifier, version, density; a thumbnail of 0×0 pixels and nothing more.
            assert payload[:5] == b"JFIF\x00"
            assert len(payload) == 14
            assert payload[12:] == b"\0\0"
        else:
            assert marker in CODING_MARKERS, f"segment FF{marker:02X} left in the output"
    with Image.open(io.BytesIO(data)) as img:
        assert not img.getexif()
        assert not {"exif", "xmp", "icc_profile", "comment", "photoshop", "mp"} & set(img.info)


def assert_valid_outputs(result: ProcessedPhoto) -> None:
    """Fail unless both outputs are metadata-free JPEGs of the announced sizes."""
    assert result.content_type == "image/jpeg"
    for data in (result.image, result.thumbnail):
        assert_no_metadata(data)
    with Image.open(io.BytesIO(result.image)) as img:
        assert img.format == "JPEG"
        assert img.size == (result.width, result.height)
        img.load()
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= THUMBNAIL_SIDE
        expected_long = min(THUMBNAIL_SIDE, max(result.width, result.height))
        assert max(thumb.size) == expected_long
        thumb.load()


# --- making test images -----------------------------------------------------------------------

RED, GREEN, BLUE, WHITE = (220, 30, 30), (30, 200, 60), (40, 60, 220), (255, 255, 255)
INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # shown = stored rotated 270°, so stored = shown rotated 90°
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def scene(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Draw a picture whose corners tell every orientation apart: red top-left, green top-right."""
    img = Image.new("RGB", size, BLUE)
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle((0, 0, w // 3, h // 3), fill=RED)
    draw.rectangle((w - w // 3, 0, w, h // 3), fill=GREEN)
    return img


def stored_for(shown: Image.Image, orientation: int) -> Image.Image:
    """Return the pixels a camera stores so that `orientation` displays `shown`."""
    method = INVERSE[orientation]
    return shown if method is None else shown.transpose(method)


def exif_block(
    orientation: int | None = None,
    *,
    gps: bool = False,
    taken: str | None = None,
    offset: str | None = None,
) -> bytes:
    """Build EXIF bytes with the given orientation, GPS position and capture time."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    exif[ExifTags.Base.Model] = "SP-42 Serial 0099"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(
            {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 36.1)}
        )
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        details[ExifTags.Base.DateTimeOriginal] = taken
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    return exif.tobytes()


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    """Encode an image with Pillow."""
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    return buffer.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    """Build one JPEG marker segment."""
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def after_soi(jpeg: bytes, *segments: bytes) -> bytes:
    """Insert segments right after a JPEG's SOI."""
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """Build one PNG chunk with its CRC."""
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_file(width: int, height: int, *extra: bytes) -> bytes:
    """Build a PNG header claiming the size, followed by extra chunks and a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" + b"\0" * 3)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def srgb_icc() -> bytes:
    """Return the bytes of Pillow's built-in sRGB profile."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 78


D50 = (0.9642, 1.0, 0.8249)
SRGB_RED, SRGB_GREEN, SRGB_BLUE = (
    (0.4361, 0.2225, 0.0139),
    (0.3851, 0.7169, 0.0971),
    (0.1431, 0.0606, 0.7141),
)


def swapped_profile() -> bytes:
    """Build an ICC v2 RGB profile (linear) whose red primary is sRGB's green and vice versa."""
    linear = b"curv\0\0\0\0" + struct.pack(">I", 0)
    tags = [
        (b"desc", _desc("Swapped red and green")),
        (b"wtpt", _xyz(*D50)),
        (b"rXYZ", _xyz(*SRGB_GREEN)),
        (b"gXYZ", _xyz(*SRGB_RED)),
        (b"bXYZ", _xyz(*SRGB_BLUE)),
        (b"rTRC", linear),
        (b"gTRC", linear),
        (b"bTRC", linear),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        padded = body + b"\0" * (-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(padded))
        data += padded
    header = (
        struct.pack(">I", offset + len(data))
        + b"lcms\x02\x10\0\0mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + b"".join(_s15(v) for v in D50)
        + b"\0" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + data


def pixel(data: bytes, xy: tuple[float, float]) -> tuple[int, ...]:
    """Return the colour at a point given as fractions of the width and height."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
        x, y = int(xy[0] * (rgb.width - 1)), int(xy[1] * (rgb.height - 1))
        colour = rgb.getpixel((x, y))
        assert isinstance(colour, tuple), colour
        return colour


def close_to(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    """Tell whether two colours match within a JPEG's error."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def assert_shows_scene(data: bytes, size: tuple[int, int]) -> None:
    """Fail unless the JPEG shows `scene(size)` the right way round."""
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == size
    assert close_to(pixel(data, (0.1, 0.1)), RED)
    assert close_to(pixel(data, (0.9, 0.1)), GREEN)
    assert close_to(pixel(data, (0.1, 0.9)), BLUE)
    assert close_to(pixel(data, (0.9, 0.9)), BLUE)
