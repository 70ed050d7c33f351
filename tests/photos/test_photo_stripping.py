"""Every metadata segment removed; the lossless JPEG path and first frames only."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import (
    Image,
)

from fieldobs.photos.processing import (
    ACCEPTED_FORMATS,
    process_photo,
    strip_jpeg,
)
from tests.helpers.photo_checks import (
    BLUE,
    COM,
    GREEN,
    RED,
    after_soi,
    assert_valid_outputs,
    close_to,
    encode,
    exif_block,
    pixel,
    segment,
    srgb_icc,
)

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
