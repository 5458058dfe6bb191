"""Checking a photo by its content with Pillow: only JPEG, PNG and WebP, within Pillow's pixel limit.

Pure (no Django). `check_photo` raises UnsupportedMedia with a message fit to show a creator.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import UnsupportedMedia

# Pillow's format names. Opening with this allow-list means no other decoder ever sees the bytes.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
PHOTO_TYPES_TEXT = "JPEG, PNG, WebP or HEIC"  # HEIC is made a JPEG on upload (heif.py)


@dataclass(frozen=True)
class PhotoInfo:
    format: str  # one of PHOTO_FORMATS
    width: int
    height: int


def check_photo(path: str | Path) -> PhotoInfo:
    """Open the file as a JPEG, PNG or WebP, refuse it past Image.MAX_IMAGE_PIXELS, and verify its data."""
    limit = Image.MAX_IMAGE_PIXELS  # kept as Pillow sets it: never None
    try:
        with warnings.catch_warnings():
            # Past MAX_IMAGE_PIXELS Pillow only warns (it raises past twice that): make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=PHOTO_FORMATS) as image:
                fmt, (width, height) = image.format, image.size
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedMedia(_too_many_pixels(limit)) from None
    except UnidentifiedImageError:
        raise UnsupportedMedia(f"photos must be {PHOTO_TYPES_TEXT}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        # verify() reports broken data as OSError or SyntaxError (PNG chunks, truncated JPEG).
        raise UnsupportedMedia("the photo is damaged or incomplete") from exc
    if width < 1 or height < 1:
        raise UnsupportedMedia("the photo has no pixels")
    if limit and width * height > limit:
        raise UnsupportedMedia(_too_many_pixels(limit))
    return PhotoInfo(format=fmt, width=width, height=height)


def too_large_photo(path: str | Path) -> str | None:
    """The refusal for a JPEG, PNG or WebP past the pixel limit (read from its header alone), else None.

    ffprobe cannot size a picture that large and calls it damaged; this says what is really wrong.
    """
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=PHOTO_FORMATS) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return _too_many_pixels(limit)
    except (OSError, SyntaxError, ValueError):
        return None  # not one of our photo formats (or unreadable): the caller's message stands
    return _too_many_pixels(limit) if limit and width * height > limit else None


def _too_many_pixels(limit: int | None) -> str:
    megapixels = (limit or 0) / 1_000_000
    shown = f"{megapixels:.0f}" if megapixels >= 10 else f"{megapixels:.1f}"
    return f"the photo is too large (more than {shown} megapixels)"
