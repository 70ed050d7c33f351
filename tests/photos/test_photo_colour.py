"""Colour spaces, bit depths and transparency become plain sRGB."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import (
    Image,
    ImageDraw,
)

from fieldobs.photos.processing import (
    process_photo,
)
from tests.helpers.photo_checks import (
    RED,
    WHITE,
    assert_valid_outputs,
    close_to,
    encode,
    exif_block,
    pixel,
    swapped_profile,
)

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
