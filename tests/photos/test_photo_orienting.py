"""Orientation applied exactly once; sizes, thumbnails and the fields kept from EXIF."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import (
    ExifTags,
    Image,
    JpegImagePlugin,
)

from fieldobs.photos.processing import (
    process_photo,
)
from tests.helpers.photo_checks import (
    GREEN,
    after_soi,
    assert_shows_scene,
    assert_valid_outputs,
    encode,
    exif_block,
    scene,
    segment,
    stored_for,
)

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
