"""Crop and fit arithmetic shared by framing (planning) and the filter graph (rendering)."""

from __future__ import annotations

from .facts import MediaInfo

# A source within 0.2% of the output's shape is the same shape: no crop, no bars.
SAME_SHAPE = 1.002


def display_aspect(info: MediaInfo, width: int, height: int) -> float:
    """The source's display aspect; the output's when the source's size is unknown."""
    if info.width > 0 and info.height > 0:
        return info.width / info.height
    return width / height


def crop_share(info: MediaInfo, width: int, height: int) -> tuple[str, float]:
    """The axis a fill crop to width x height cuts ("x", "y", or "" for none) and the share of it kept."""
    source = display_aspect(info, width, height)
    target = width / height
    if source > target * SAME_SHAPE:
        return "x", target / source
    if source < target / SAME_SHAPE:
        return "y", source / target
    return "", 1.0
