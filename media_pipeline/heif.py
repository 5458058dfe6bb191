"""Phone photos in HEIF (HEIC, the iPhone's default) turned into JPEG: ffmpeg 5.1 and Pillow cannot read them.

Pure (no Django). libheif (through pillow-heif) decodes the primary image with
its rotation and mirroring applied, so the JPEG carries no orientation tag.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .errors import UnsupportedMedia

# ISO-BMFF major brands of HEIF stills and sequences made by phones and cameras.
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
# AVIF shares HEIF's generic brands (mif1, msf1) and names itself among the compatible
# ones; our libheif has no AV1 decoder, so such a file is not ours to convert.
AVIF_BRANDS = frozenset({b"avif", b"avis"})
JPEG_QUALITY = 92


def is_heif(path: str | Path) -> bool:
    """True when the file's content (not its name) is a HEIF image (and not AVIF)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 12 or head[4:8] != b"ftyp" or head[8:12] not in HEIF_BRANDS:
        return False
    box = head[8 : int.from_bytes(head[:4], "big")]
    brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4)}  # major, version, compatible...
    return not brands & AVIF_BRANDS


def heif_to_jpeg(source: str | Path, target: str | Path) -> tuple[int, int]:
    """Write the HEIF's primary image to target as JPEG and return its (width, height); UnsupportedMedia if unreadable."""
    import pillow_heif  # a C library's binding: loaded only when a HEIF arrives

    try:
        heif = pillow_heif.open_heif(str(source), convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, OSError) as exc:
        raise UnsupportedMedia("the photo is damaged or incomplete") from exc
    width, height = heif.size  # read from the container, before anything is decoded
    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > limit:
        raise UnsupportedMedia(f"the photo is too large (more than {limit / 1_000_000:.0f} megapixels)")
    try:
        image = heif.to_pillow().convert("RGB")
    except (ValueError, RuntimeError, OSError) as exc:
        raise UnsupportedMedia("the photo is damaged or incomplete") from exc
    image.save(target, format="JPEG", quality=JPEG_QUALITY)
    return image.size
