"""Make decoded pixels 8-bit sRGB RGB, so the copy can drop every colour profile.

Pixels with an embedded non-sRGB profile (Display P3, Adobe RGB, CMYK) are converted to sRGB
first, so dropping the profile keeps the colours; untagged pixels are taken as sRGB, as browsers
do. Transparency is flattened onto white (JPEG has none).
"""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageCms

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_ICC_SPACES = {"RGB": "RGB", "CMYK": "CMYK", "L": "GRAY"}


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Return the pixels as 8-bit sRGB RGB, transparency flattened onto white."""
    img = _to_8bit(img)
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        img = _flatten(img)
    elif img.mode not in _ICC_SPACES:
        img = img.convert("RGB")
    transform = transform_to_srgb(icc, img.mode) if icc else None
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
    rgba = img if img.mode == "RGBA" else img.convert("RGBA")  # no copy when it is RGBA
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba)  # an RGBA mask uses its alpha band in place: no extra copy
    return flat


@lru_cache(maxsize=16)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """Return the built-in sRGB profile."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=32)
def transform_to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
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
