"""The photo pipeline on images made here with Pillow: formats, orientation, stripping, refusals."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import (
    EpsImagePlugin,
    ExifTags,
    Image,
    ImageCms,
    ImageDraw,
    JpegImagePlugin,
)

from fieldobs.errors import Invalid
from fieldobs.photos.processing import (
    ACCEPTED_FORMATS,
    THUMBNAIL_SIDE,
    PhotoRejected,
    ProcessedPhoto,
    process_photo,
    sniff_content_type,
    strip_jpeg,
)

# --- checking outputs (also used by test_photo_corpus) -----------------------------------------

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


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes, str], Path]:
    """Write bytes to a file in the test's folder."""

    def _write(data: bytes, name: str = "upload.bin") -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


def pixel(data: bytes, xy: tuple[float, float]) -> tuple[int, ...]:
    """Return the colour at a point given as fractions of the width and height."""
    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
        x, y = int(xy[0] * (rgb.width - 1)), int(xy[1] * (rgb.height - 1))
        return tuple(rgb.getpixel((x, y)))  # type: ignore[arg-type]


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


# --- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x12\x34Exif\x00\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf", "image/heic"),
        (b"\x00\x00\x00\x20ftypavif\x00\x00\x00\x00avifmif1miafMA1B", "image/avif"),
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", "image/avif"),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", "image/heif"),
    ],
)
def test_sniff_content_type_recognises_accepted_types(head: bytes, expected: str) -> None:
    assert sniff_content_type(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\xff\xd8",
        b"GIF89a\x01\x00\x01\x00",
        b"II*\x00\x08\x00\x00\x00",
        b"%!PS-Adobe-3.0 EPSF-3.0\n",
        b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'>",
        b"<!DOCTYPE html><html><script>alert(1)</script>",
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
    ],
)
def test_sniff_content_type_refuses_everything_else(head: bytes) -> None:
    assert sniff_content_type(head) is None


# --- refusals ---------------------------------------------------------------------------------


def test_photo_rejected_is_an_invalid_with_the_reason_as_code() -> None:
    error = PhotoRejected("truncated", "The photo is incomplete.")
    assert isinstance(error, Invalid)
    assert (error.status, error.error_code, error.reason) == (422, "truncated", "truncated")
    assert error.to_dict() == {
        "error": {"code": "truncated", "message": "The photo is incomplete."}
    }


def _gif() -> bytes:
    return encode(Image.new("P", (8, 8)), "GIF")


def _tiff() -> bytes:
    return encode(Image.new("RGB", (8, 8)), "TIFF")


def _bmp() -> bytes:
    return encode(Image.new("RGB", (8, 8)), "BMP")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: os.urandom(4096), "not_an_image"),
        (lambda: b"", "not_an_image"),
        (lambda: b"<!DOCTYPE html><img src=x onerror=alert(1)>", "not_an_image"),
        (
            lambda: b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
            "unsupported_format",
        ),
        (
            lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
            "unsupported_format",
        ),
        (_gif, "unsupported_format"),
        (_tiff, "unsupported_format"),
        (_bmp, "unsupported_format"),
    ],
    ids=["random", "empty", "html", "svg", "eps", "gif", "tiff", "bmp"],
)
def test_files_that_are_no_accepted_image_get_415(
    write: Callable[[bytes, str], Path],
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], bytes],
    reason: str,
) -> None:
    def no_renderer(*args: object, **kwargs: object) -> None:
        raise AssertionError("a PostScript renderer was started")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", no_renderer)
    with pytest.raises(PhotoRejected) as caught:
        process_photo(write(make(), "upload.jpg"))
    assert (caught.value.status, caught.value.reason) == (415, reason)
    assert "JPEG" in caught.value.message


def _truncated_jpeg() -> bytes:
    data = encode(Image.effect_noise((256, 192), 60).convert("RGB"), "JPEG")
    return data[: len(data) // 2]


def _truncated_png() -> bytes:
    data = encode(Image.effect_noise((256, 192), 60).convert("RGB"), "PNG")
    return data[: len(data) // 2]


def _truncated_heic() -> bytes:
    data = encode(Image.effect_noise((256, 192), 60).convert("RGB"), "HEIF")
    return data[: len(data) - 200]


def _pixel_bomb_png() -> bytes:
    return png_file(100_000, 100_000)


def _ztxt_bomb_png() -> bytes:
    # 8 MB of zeros squeeze into a few KB; Pillow refuses text chunks above 1 MB unpacked.
    bomb = b"Comment\x00\x00" + zlib.compress(b"\x00" * 8_000_000, 9)
    return png_file(1, 1, png_chunk(b"zTXt", bomb))


def _png_magic_then_garbage() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + os.urandom(512)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_truncated_jpeg, "truncated"),
        (_truncated_png, "truncated"),
        (_truncated_heic, "truncated"),
        (_pixel_bomb_png, "decompression_bomb"),
        (_ztxt_bomb_png, "decompression_bomb"),
        (_png_magic_then_garbage, "corrupt"),
    ],
    ids=["jpeg-cut", "png-cut", "heic-cut", "png-100000x100000", "png-ztxt-bomb", "png-garbage"],
)
def test_broken_and_hostile_images_get_422(
    write: Callable[[bytes, str], Path], make: Callable[[], bytes], reason: str
) -> None:
    with pytest.raises(PhotoRejected) as caught:
        process_photo(write(make(), "upload.img"))
    assert (caught.value.status, caught.value.reason) == (422, reason)
    assert caught.value.message.endswith(".")


def test_pixel_count_is_checked_before_decoding(
    write: Callable[[bytes, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decode(self: Image.Image) -> None:
        raise AssertionError("decoded a photo that was over the pixel limit")

    path = write(encode(Image.new("RGB", (400, 300)), "JPEG"), "big.jpg")
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", no_decode)
    with pytest.raises(PhotoRejected) as caught:
        process_photo(path, max_pixels=100_000)
    assert (caught.value.status, caught.value.reason) == (422, "too_many_pixels")
    assert "400×300" in caught.value.message


# --- orientation ------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_is_applied_exactly_once(
    write: Callable[[bytes, str], Path], orientation: int
) -> None:
    shown = scene()
    stored = stored_for(shown, orientation)
    data = encode(stored, "JPEG", quality=95, exif=exif_block(orientation, gps=True))
    result = process_photo(write(data, "photo.jpg"))
    assert (result.width, result.height) == shown.size
    assert_shows_scene(result.image, shown.size)
    assert_shows_scene(result.thumbnail, shown.size)
    assert_valid_outputs(result)


@pytest.mark.parametrize("orientation", [3, 6, 8])
@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_exif_orientation_of_webp_and_png_is_applied(
    write: Callable[[bytes, str], Path], fmt: str, orientation: int
) -> None:
    shown = scene()
    data = encode(stored_for(shown, orientation), fmt, exif=exif_block(orientation, gps=True))
    result = process_photo(write(data, "photo.img"))
    assert result.source_format == fmt
    assert_shows_scene(result.image, shown.size)
    assert_valid_outputs(result)


def test_heic_irot_is_applied_by_the_decoder_and_not_again(
    write: Callable[[bytes, str], Path],
) -> None:
    shown = scene()
    # Given EXIF bytes with orientation 6, pillow_heif stores the pixels as they are plus an irot
    # box, which libheif applies on decoding; the EXIF tag must then not rotate them again.
    data = encode(stored_for(shown, 6), "HEIF", quality=90, exif=exif_block(6, gps=True))
    result = process_photo(write(data, "photo.heic"))
    assert result.source_format == "HEIF"
    assert_shows_scene(result.image, shown.size)
    assert_valid_outputs(result)


def test_heic_exif_orientation_without_irot_is_ignored(
    write: Callable[[bytes, str], Path],
) -> None:
    shown = scene()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    # Passed as an Exif object, pillow_heif writes the tag but no irot box: HEIF readers show
    # the pixels as stored and ignore the EXIF tag, so must we.
    data = encode(shown, "HEIF", quality=90, exif=exif)
    result = process_photo(write(data, "photo.heic"))
    assert_shows_scene(result.image, shown.size)


def test_avif_irot_imir_are_applied(write: Callable[[bytes, str], Path]) -> None:
    shown = scene()
    try:
        data = encode(stored_for(shown, 5), "AVIF", quality=90, exif=exif_block(5))
    except (OSError, ValueError, KeyError) as exc:
        pytest.skip(f"this Pillow cannot encode AVIF: {exc}")
    result = process_photo(write(data, "photo.avif"))
    assert result.source_format == "AVIF"
    assert_shows_scene(result.image, shown.size)
    assert_valid_outputs(result)


# --- stripping --------------------------------------------------------------------------------

# A bare MPF header without its index: Pillow warns and reads the file as a plain JPEG.
MALFORMED_MPO = "ignore:Image appears to be a malformed MPO file"
MPF = segment(0xE2, b"MPF\x00II*\x00\x08\x00\x00\x00" + b"\x00" * 16)
PHOTOSHOP = segment(
    0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02x\x00\x07Shopper"
)
XMP_EXTENDED = segment(
    0xE1,
    b"http://ns.adobe.com/xmp/extension/\x00"
    + b"0" * 32
    + struct.pack(">II", 20, 0)
    + b"<x:xmpmeta>GPS</x:xm",
)
JFXX_THUMB = segment(0xE0, b"JFXX\x00\x10" + encode(Image.new("RGB", (8, 8), RED), "JPEG"))
ICC_SRGB = segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + srgb_icc())
EXTRA_SEGMENTS = {
    "mpf": MPF,
    "photoshop-iptc": PHOTOSHOP,
    "xmp-extended": XMP_EXTENDED,
    "jfxx-thumbnail": JFXX_THUMB,
    "icc-srgb": ICC_SRGB,
    "com": segment(COM, b"shot by shopper 17 at the Main St store"),
    "app15": segment(0xEF, b"vendor secret"),
}


def _source_jpeg(orientation: int, **params: object) -> bytes:
    """Make a noisy JPEG with EXIF (GPS, capture time), XMP and a comment."""
    noise = Image.merge("RGB", [Image.effect_noise((320, 240), s) for s in (40, 50, 60)])
    return encode(
        noise,
        "JPEG",
        quality=92,
        exif=exif_block(orientation, gps=True, taken="2026:11:23 10:15:00"),
        xmp=b"<x:xmpmeta><exif:GPSLatitude>52,31N</exif:GPSLatitude></x:xmpmeta>",
        comment=b"shopper 17",
        **params,
    )


@pytest.mark.filterwarnings(MALFORMED_MPO)
@pytest.mark.parametrize("orientation", [1, 6], ids=["lossless", "re-encoded"])
@pytest.mark.parametrize("extra", sorted(EXTRA_SEGMENTS))
def test_every_metadata_segment_and_trailer_is_removed(
    write: Callable[[bytes, str], Path], orientation: int, extra: str
) -> None:
    trailer = encode(Image.new("RGB", (16, 16), GREEN), "JPEG") + b"SEFT samsung trailer"
    data = after_soi(_source_jpeg(orientation), EXTRA_SEGMENTS[extra]) + trailer
    result = process_photo(write(data, "photo.jpg"))
    assert_valid_outputs(result)
    assert b"SpyPhone" not in result.image
    assert b"shopper 17" not in result.image
    assert result.captured_at == "2026-11-23T10:15:00"


def test_metadata_between_progressive_scans_is_removed(
    write: Callable[[bytes, str], Path],
) -> None:
    data = _source_jpeg(1, progressive=True)
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    data = data[:second_scan] + segment(COM, b"hidden between scans") + data[second_scan:]
    result = process_photo(write(data, "photo.jpg"))
    assert_valid_outputs(result)
    assert b"hidden" not in result.image


@pytest.mark.filterwarnings(MALFORMED_MPO)
def test_plain_jpeg_keeps_its_pixels_bit_for_bit(write: Callable[[bytes, str], Path]) -> None:
    data = after_soi(_source_jpeg(1), MPF, PHOTOSHOP, ICC_SRGB)
    result = process_photo(write(data, "photo.jpg"))
    assert_valid_outputs(result)
    assert len(result.image) < len(data)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(result.image)) as after:
        assert before.tobytes() == after.tobytes()


def test_rotated_jpeg_is_re_encoded_without_metadata(write: Callable[[bytes, str], Path]) -> None:
    result = process_photo(write(_source_jpeg(6), "photo.jpg"))
    assert (result.width, result.height) == (240, 320)
    assert_valid_outputs(result)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda jpeg: jpeg[: len(jpeg) // 2], "cut short"),
        (lambda jpeg: after_soi(jpeg, b"\xff\xf7\x00\x04ab"), "unknown marker"),
        (lambda jpeg: b"\x00" + jpeg, "no SOI"),
    ],
    ids=["cut", "unknown-marker", "no-soi"],
)
def test_strip_jpeg_declines_what_it_cannot_vouch_for(
    make: Callable[[bytes], bytes], why: str
) -> None:
    jpeg = encode(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")
    assert strip_jpeg(make(jpeg)) is None, why


def test_strip_jpeg_declines_rgb_component_ids() -> None:
    jpeg = encode(Image.new("RGB", (16, 16), RED), "JPEG", keep_rgb=True)
    assert strip_jpeg(jpeg) is None


def test_rgb_jpeg_with_adobe_marker_keeps_its_colours(write: Callable[[bytes, str], Path]) -> None:
    # keep_rgb stores R, G, B without the YCbCr transform and says so in Adobe APP14: dropping
    # that segment without re-encoding would turn red into some other colour.
    data = encode(Image.new("RGB", (64, 48), RED), "JPEG", keep_rgb=True, quality=95)
    result = process_photo(write(data, "photo.jpg"))
    assert_valid_outputs(result)
    assert close_to(pixel(result.image, (0.5, 0.5)), RED)


# --- colour and modes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmyk", "rgb"),
    [
        ((255, 0, 0, 0), (0, 255, 255)),
        ((0, 255, 255, 0), (255, 0, 0)),
        ((0, 0, 0, 200), (55, 55, 55)),
    ],
    ids=["cyan", "red", "dark-grey"],
)
def test_cmyk_jpeg_becomes_the_same_colour_in_rgb(
    write: Callable[[bytes, str], Path], cmyk: tuple[int, int, int, int], rgb: tuple[int, int, int]
) -> None:
    # Pillow writes CMYK the Adobe way (inverted, with APP14), as Photoshop does.
    data = encode(Image.new("CMYK", (64, 48), cmyk), "JPEG", quality=95)
    result = process_photo(write(data, "cmyk.jpg"))
    assert_valid_outputs(result)
    assert close_to(pixel(result.image, (0.5, 0.5)), rgb, 12)


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16_bit_grey_is_scaled_to_8_bit_not_clipped(
    write: Callable[[bytes, str], Path], mode: str
) -> None:
    ramp = (
        Image.linear_gradient("L")
        .rotate(90)
        .resize((256, 64))
        .convert("I")
        .point(lambda v: v * 257)
    )
    data = encode(ramp.convert(mode), "PNG")
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode.startswith("I")
    result = process_photo(write(data, "deep.png"))
    assert_valid_outputs(result)
    for fraction in (0.1, 0.5, 0.9):
        red, green, blue = pixel(result.image, (fraction, 0.5))
        assert abs(red - 255 * fraction) <= 12
        assert abs(red - green) <= 2
        assert abs(red - blue) <= 2


def _rgba() -> Image.Image:
    img = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, 0, 31, 47), fill=(*RED, 255))
    return img


@pytest.mark.parametrize(
    "make",
    [
        lambda: encode(_rgba(), "PNG"),
        lambda: encode(_rgba().convert("P"), "PNG", transparency=0),
        lambda: encode(_rgba(), "WEBP", lossless=True),
        lambda: encode(_rgba().convert("LA"), "PNG"),
    ],
    ids=["png-rgba", "png-palette-transparency", "webp-alpha", "png-la"],
)
def test_transparency_is_flattened_onto_white(
    write: Callable[[bytes, str], Path], make: Callable[[], bytes]
) -> None:
    result = process_photo(write(make(), "alpha.png"))
    assert_valid_outputs(result)
    assert close_to(pixel(result.image, (0.9, 0.5)), WHITE, 8)
    left = pixel(result.image, (0.1, 0.5))
    assert left != pytest.approx(WHITE, abs=40)


@pytest.mark.parametrize(
    ("fmt", "orientation"), [("JPEG", 1), ("JPEG", 6), ("PNG", 1), ("WEBP", 1)]
)
def test_pixels_in_another_colour_space_are_converted_to_srgb(
    write: Callable[[bytes, str], Path], fmt: str, orientation: int
) -> None:
    # In the swapped profile (200, 0, 0) is a green: served without conversion it would be red.
    img = Image.new("RGB", (64, 48), (200, 0, 0))
    data = encode(img, fmt, icc_profile=swapped_profile(), exif=exif_block(orientation))
    result = process_photo(write(data, "wide-gamut.img"))
    assert_valid_outputs(result)
    assert close_to(pixel(result.image, (0.5, 0.5)), (0, 229, 0), 10)
    assert close_to(pixel(result.thumbnail, (0.5, 0.5)), (0, 229, 0), 10)


def test_a_profile_that_does_not_fit_the_pixels_is_ignored(
    write: Callable[[bytes, str], Path],
) -> None:
    data = encode(Image.new("L", (64, 48), 90), "JPEG", icc_profile=swapped_profile())
    result = process_photo(write(data, "grey.jpg"))
    assert_valid_outputs(result)
    assert close_to(pixel(result.image, (0.5, 0.5)), (90, 90, 90), 4)


def test_grey_jpeg_stays_lossless(write: Callable[[bytes, str], Path]) -> None:
    data = encode(Image.effect_noise((64, 48), 40), "JPEG", exif=exif_block(1, gps=True))
    result = process_photo(write(data, "grey.jpg"))
    assert_valid_outputs(result)
    with Image.open(io.BytesIO(data)) as before, Image.open(io.BytesIO(result.image)) as after:
        assert after.mode == "L"
        assert before.tobytes() == after.tobytes()


# --- several frames ---------------------------------------------------------------------------


def _frames() -> list[Image.Image]:
    return [Image.new("RGB", (64, 48), colour) for colour in (RED, GREEN, BLUE)]


def _multi(fmt: str) -> bytes:
    first, *rest = _frames()
    return encode(first, fmt, save_all=True, append_images=rest, duration=100)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "MPO"], ids=["apng", "animated-webp", "mpo"])
def test_only_the_first_frame_is_kept(write: Callable[[bytes, str], Path], fmt: str) -> None:
    data = _multi(fmt)
    with Image.open(io.BytesIO(data)) as check:
        assert getattr(check, "n_frames", 1) == 3
    result = process_photo(write(data, "frames.img"))
    assert_valid_outputs(result)  # for MPO: no MPF segment, nothing after the first picture
    assert close_to(pixel(result.image, (0.5, 0.5)), RED)
    assert result.source_format in ACCEPTED_FORMATS


# --- sizes, thumbnails, fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((4000, 3000), None, (4000, 3000)),
        ((4000, 3000), 1600, (1600, 1200)),
        ((300, 200), 1600, (300, 200)),
        ((20, 2000), None, (20, 2000)),
        ((1, 1), None, (1, 1)),
    ],
)
def test_sizes_of_copy_and_thumbnail(
    write: Callable[[bytes, str], Path],
    size: tuple[int, int],
    max_side: int | None,
    expected: tuple[int, int],
) -> None:
    data = encode(Image.new("RGB", size, GREEN), "JPEG")
    result = process_photo(write(data, "photo.jpg"), max_side=max_side)
    assert (result.width, result.height) == expected
    assert_valid_outputs(result)


def test_max_side_applies_to_the_oriented_photo(write: Callable[[bytes, str], Path]) -> None:
    data = encode(stored_for(scene((1200, 800)), 6), "JPEG", exif=exif_block(6))
    result = process_photo(write(data, "photo.jpg"), max_side=600)
    assert (result.width, result.height) == (600, 400)
    assert_shows_scene(result.image, (600, 400))


def test_jpeg_thumbnail_is_decoded_dct_scaled(
    write: Callable[[bytes, str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded_sizes: list[tuple[int, int]] = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def recording_load(self: JpegImagePlugin.JpegImageFile) -> object:
        decoded_sizes.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", recording_load)
    data = encode(Image.effect_noise((4032, 3024), 30).convert("RGB"), "JPEG")
    result = process_photo(write(data, "photo.jpg"))
    assert (result.width, result.height) == (4032, 3024)
    # 1/4 scale is the smallest DCT scaling that still covers 512 px; 1/8 (504) would not.
    assert decoded_sizes
    assert decoded_sizes[0] == (1008, 756)


@pytest.mark.parametrize(
    ("taken", "offset", "expected"),
    [
        ("2026:11:23 10:15:00", None, "2026-11-23T10:15:00"),
        ("2026:11:23 10:15:00", "+02:00", "2026-11-23T10:15:00+02:00"),
        ("2026:11:23 10:15:00", "-05:30", "2026-11-23T10:15:00-05:30"),
        ("2026:11:23 10:15:00", "garbage", "2026-11-23T10:15:00"),
        ("0000:00:00 00:00:00", None, None),
        ("    :  :     :  :  ", None, None),
        (None, "+02:00", None),
    ],
)
def test_capture_time_comes_from_date_time_original(
    write: Callable[[bytes, str], Path], taken: str | None, offset: str | None, expected: str | None
) -> None:
    exif = exif_block(1, taken=taken, offset=offset)
    result = process_photo(write(encode(scene(), "JPEG", exif=exif), "photo.jpg"))
    assert result.captured_at == expected


def test_heic_capture_time_and_gps_are_read_then_dropped(
    write: Callable[[bytes, str], Path],
) -> None:
    exif = exif_block(1, gps=True, taken="2025:06:01 08:00:01", offset="+09:00")
    data = encode(scene(), "HEIF", quality=80, exif=exif, xmp=b"<x:xmpmeta>GPS</x:xmpmeta>")
    result = process_photo(write(data, "photo.heic"))
    assert result.captured_at == "2025-06-01T08:00:01+09:00"
    assert_valid_outputs(result)
    assert b"SpyPhone" not in result.image


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "payload",
    [b"Exif\x00\x00" + os.urandom(64), b"Exif\x00\x00II*\x00\xff\xff\xff\x7f", b"Exif\x00\x00"],
    ids=["random", "bad-offset", "empty"],
)
def test_malformed_exif_costs_only_the_fields(
    write: Callable[[bytes, str], Path], payload: bytes
) -> None:
    data = after_soi(encode(scene(), "JPEG", quality=95), segment(0xE1, payload))
    result = process_photo(write(data, "photo.jpg"))
    assert result.captured_at is None
    assert_shows_scene(result.image, scene().size)
    assert_valid_outputs(result)
