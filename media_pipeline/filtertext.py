"""Small helpers that write ffmpeg filter-graph text."""

from __future__ import annotations


def chain(src: str, filters: list[str], dst: str) -> str:
    """`[src]f1,f2,...[dst]`; a null filter when there are none."""
    return f"[{src}]{','.join(filters) or 'null'}[{dst}]"


def labels(names: list[str]) -> str:
    """Several output labels as one `dst` for chain (which adds the outer brackets)."""
    return "][".join(names)


def even(value: float) -> int:
    """The nearest even number, at least 2 (4:2:0 pictures need even sizes)."""
    return max(2, int(round(value / 2)) * 2)


def num(value: float) -> str:
    """A number for filter text: up to 6 decimals, no exponent."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def time(seconds: float) -> str:
    """A time for an option value, in seconds with microsecond precision."""
    return f"{seconds:.6f}"


# For two-input filters (overlay, blend) whose inputs end together. Their default,
# repeatlast=1, costs memory in ffmpeg 5.1: about 9 MB per 1080x1920 overlay,
# held to the end of the render (measured: CHILL_LOFI 511 -> 470 MB).
NO_REPEAT = "repeatlast=0"
