"""Checking uploads before decoding: sniffed types, refused files and their reasons."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import (
    EpsImagePlugin,
    Image,
    JpegImagePlugin,
)

from fieldobs.errors import Invalid
from fieldobs.photos.processing import (
    PhotoRejected,
    process_photo,
    sniff_content_type,
)
from tests.helpers.photo_checks import (
    encode,
    png_chunk,
    png_file,
)

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
