"""The photo pipeline on real phone photos and hostile files from shared/photos (used in place)."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from fieldobs.photos.processing import (
    ACCEPTED_FORMATS,
    THUMBNAIL_SIDE,
    PhotoRejected,
    ProcessedPhoto,
    process_photo,
)
from tests.helpers.photo_checks import assert_valid_outputs

# Beside the repo; a git worktree elsewhere names it with FIELDOBS_PHOTO_CORPUS.
BESIDE_THE_REPO = Path(__file__).resolve().parents[3] / "shared" / "photos"
PHOTOS = Path(os.environ.get("FIELDOBS_PHOTO_CORPUS", BESIDE_THE_REPO))
MANIFEST = PHOTOS / "MANIFEST.tsv"

if not MANIFEST.is_file():
    pytest.skip(
        f"the shared photo corpus is not at {PHOTOS} (it lives beside the repo, never in it)",
        allow_module_level=True,
    )

# The reason each refused file must get. Which files are refused follows from the manifest
# (see `refused`); this only names the reason, and a new manifest row without one fails.
REASONS = {
    "200MP.heic": "decompression_bomb",  # 200 MP in 2.4 MB: over Pillow's bomb limit
    "corrupted.heic": "corrupt",  # HEIC magic, but libheif cannot parse it
    "chi.gif": "unsupported_format",
    "decompression_bomb.gif": "unsupported_format",  # GIF is refused before its header is read
    "zero_bb.eps": "unsupported_format",
    "svg_with_script.svg": "unsupported_format",
    "not_an_image_html.jpg": "not_an_image",
    "png_decompression_dos.png": "decompression_bomb",
    "truncated_jpeg.jpg": "truncated",
    "truncated_image.png": "truncated",
    # The manifest's "decodes" came from a second load() after getexif() had failed: Pillow then
    # returns the partial image silently. A first load() fails, and the file is cut short.
    "truncated_end_chunk.png": "truncated",
    "ultrahdr.jpg": "truncated",  # pixel data cut upstream to shrink the file
    "imagetestsuite_fddcfc778ada.jpg": "corrupt",
    "imagetestsuite_2c9e7a1805f8.jpg": "corrupt",
}
STATUS = {"unsupported_format": 415, "not_an_image": 415}
ROTATIONS: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_manifest() -> list[dict[str, str]]:
    """Return the manifest's rows."""
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = read_manifest()


def refused(row: dict[str, str]) -> bool:
    """Tell from the manifest whether the file must be refused."""
    says = row["pillow_says"]
    return (
        row["format"] not in ACCEPTED_FORMATS
        or says.startswith("Image.open raised")
        or "decode(all frames)=frame 0: OSError" in says
        or "truncated" in row["exercises"]
    )


def shown_size(row: dict[str, str]) -> tuple[int, int]:
    """Return the size the manifest says the photo has once oriented."""
    says = row["pillow_says"]
    found = re.search(r"\(transposed (\d+)x(\d+)\)", says) or re.match(r"\w+ (\d+)x(\d+)", says)
    assert found, f"no size in the manifest for {row['filename']}"
    return int(found[1]), int(found[2])


def orientation(row: dict[str, str]) -> int:
    """Return the EXIF orientation the manifest reports, 1 when none."""
    found = re.search(r"orientation=(\d)", row["pillow_says"])
    return int(found[1]) if found else 1


@pytest.fixture(scope="module")
def processed() -> Callable[[str], ProcessedPhoto | PhotoRejected]:
    """Process each corpus file once for all the tests that look at it."""
    cache: dict[str, ProcessedPhoto | PhotoRejected] = {}

    def _process(name: str) -> ProcessedPhoto | PhotoRejected:
        if name not in cache:
            try:
                cache[name] = process_photo(PHOTOS / name)
            except PhotoRejected as error:
                cache[name] = error
        return cache[name]

    return _process


def test_every_manifest_file_is_present_and_every_refusal_has_a_reason() -> None:
    names = {row["filename"] for row in ROWS}
    assert names == {p.name for p in PHOTOS.iterdir()} - {"MANIFEST.tsv", "README.md"}
    assert {row["filename"] for row in ROWS if refused(row)} == set(REASONS)


REFUSED = [row for row in ROWS if refused(row)]
ACCEPTED = [row for row in ROWS if not refused(row)]


@pytest.mark.parametrize("row", REFUSED, ids=[row["filename"] for row in REFUSED])
def test_hostile_and_broken_files_are_refused_with_their_reason(
    processed: Callable[[str], ProcessedPhoto | PhotoRejected], row: dict[str, str]
) -> None:
    outcome = processed(row["filename"])
    assert isinstance(outcome, PhotoRejected), "accepted a file the manifest says is bad"
    reason = REASONS[row["filename"]]
    assert (outcome.reason, outcome.status) == (reason, STATUS.get(reason, 422))
    assert outcome.error_code == reason
    assert len(outcome.message) > 20


@pytest.mark.parametrize("row", ACCEPTED, ids=[row["filename"] for row in ACCEPTED])
def test_photos_come_out_oriented_and_without_metadata(
    processed: Callable[[str], ProcessedPhoto | PhotoRejected], row: dict[str, str]
) -> None:
    outcome = processed(row["filename"])
    assert isinstance(outcome, ProcessedPhoto), f"refused: {outcome}"
    assert (outcome.width, outcome.height) == shown_size(row)
    assert outcome.source_format == row["format"]
    assert_valid_outputs(outcome)
    for identifying in _identifying_strings(row):
        assert identifying not in outcome.image
        assert identifying not in outcome.thumbnail


def _identifying_strings(row: dict[str, str]) -> list[bytes]:
    """Return long byte strings from the source's metadata that must not survive."""
    strings = [b"Exif\x00\x00", b"http://ns.adobe.com/", b"ICC_PROFILE\x00", b"Photoshop 3.0\x00"]
    found = re.search(r"make/model=([^;]+)", row["pillow_says"])
    if found:
        strings += [word.encode() for word in found[1].split() if len(word) >= 5]
    return strings


@pytest.mark.parametrize("row", ACCEPTED, ids=[row["filename"] for row in ACCEPTED])
def test_orientation_matches_the_manifest(
    processed: Callable[[str], ProcessedPhoto | PhotoRejected], row: dict[str, str]
) -> None:
    outcome = processed(row["filename"])
    assert isinstance(outcome, ProcessedPhoto)
    with Image.open(io.BytesIO(outcome.thumbnail)) as thumb:
        produced = thumb.convert("RGB")
    if min(produced.size) < 8:
        pytest.skip("too few pixels to tell orientations apart")
    # HEIF decoders apply irot/imir themselves; everything else must apply EXIF orientation.
    expected = 1 if row["format"] == "HEIF" else orientation(row)
    differences = _differences_by_orientation(PHOTOS / row["filename"], produced)
    assert differences[expected] < 25, differences
    assert differences[expected] <= min(differences.values()) + 0.5, differences


def _differences_by_orientation(path: Path, produced: Image.Image) -> dict[int, float]:
    """Compare the output with each orientation of the decoded source; mean absolute error."""
    with Image.open(path) as source:
        source.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # HEIF: its embedded thumbnail
        stored = _as_rgb(source)
    differences = {}
    for number, method in ROTATIONS.items():
        candidate = stored if method is None else stored.transpose(method)
        if _aspect(candidate.size) != _aspect(produced.size):
            continue
        small = (64, max(1, round(64 * produced.height / produced.width)))
        diff = ImageChops.difference(candidate.resize(small), produced.resize(small))
        differences[number] = sum(ImageStat.Stat(diff).mean) / 3
    return differences


def _as_rgb(img: Image.Image) -> Image.Image:
    """Return the pixels as 8-bit RGB the plain way: alpha onto white, 16-bit grey scaled."""
    if img.mode.startswith("I"):
        return img.convert("I").point(lambda value: value / 256).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _aspect(size: tuple[int, int]) -> str:
    """Return whether a size is landscape, portrait or square."""
    width, height = size
    return "square" if width == height else "landscape" if width > height else "portrait"


def test_all_orientations_of_the_same_scene_come_out_alike(
    processed: Callable[[str], ProcessedPhoto | PhotoRejected],
) -> None:
    thumbnails = []
    for number in range(2, 9):
        outcome = processed(f"landscape_{number}.jpg")
        assert isinstance(outcome, ProcessedPhoto)
        with Image.open(io.BytesIO(outcome.thumbnail)) as thumb:
            thumbnails.append(thumb.convert("RGB"))
    first = thumbnails[0]
    for other in thumbnails[1:]:
        assert other.size == first.size
        assert sum(ImageStat.Stat(ImageChops.difference(first, other)).mean) / 3 < 6
