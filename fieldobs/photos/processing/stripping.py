"""Serve a JPEG losslessly: rebuild it from its coding segments only, no metadata.

A JPEG whose pixels can be served as they are (orientation 1, plain YCbCr or grey, sRGB or no
profile, no downscale asked) keeps its entropy-coded data byte for byte: the segments are
rewritten without APPn/COM and cut after the first EOI (lossless, ~3 ms for 12 MP). Its only
APPn segment is a 16-byte JFIF APP0 without a thumbnail, which says nothing about the shopper or
the device.
"""

from __future__ import annotations

import io
import mmap
import re
from typing import IO

from PIL import Image

from fieldobs.photos.processing.colour import transform_to_srgb


def is_plain_jpeg(img: Image.Image) -> bool:
    """Tell whether the JPEG's pixels mean the same without any of its APPn segments."""
    if img.mode not in ("RGB", "L") or "adobe" in img.info:
        return False  # CMYK and Adobe-transform JPEGs depend on APP14
    icc = img.info.get("icc_profile")
    return not icc or transform_to_srgb(icc, img.mode) is None


def strip_jpeg_file(fp: IO[bytes]) -> bytes | None:
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


def same_picture(stripped: bytes, img: Image.Image) -> bool:
    """Check from its header that the stripped file is the same picture as the source."""
    try:
        with Image.open(io.BytesIO(stripped), formats=("JPEG",)) as check:
            return check.size == img.size and check.mode == img.mode
    except (OSError, SyntaxError, ValueError):
        return False
