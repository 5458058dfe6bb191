"""The output frame grid: times as whole frames, and segments wanted at some frames made to tile the video.

A segment covers frames [first_frame, first_frame + frames); a transition into it covers its
first `overlap` frames, which end where the previous segment ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def frame_count(seconds: float, fps: int) -> int:
    """The nearest whole frame to a time (halves round up, whatever the float error)."""
    return math.floor(seconds * fps + 0.5 + 1e-9)


def grid_spans(
    starts: Sequence[int], ends: Sequence[int], hard_cuts: Sequence[bool], total: int
) -> list[tuple[int, int, int]]:
    """(first_frame, frames, overlap) for segments wanted at these frames, so that they tile `total` frames.

    A hard cut starts exactly where the previous segment ends. A transition keeps its
    wanted start (so its overlap), moved later if it would begin before the previous
    transition has finished; the last segment ends the video; every segment has a frame.
    """
    if not starts:
        raise ValueError("the plan has no segments")
    spans: list[tuple[int, int, int]] = []
    previous_start, previous_end, previous_overlap = 0, 0, 0
    last = len(starts) - 1
    for i, (wanted, end, hard) in enumerate(zip(starts, ends, hard_cuts)):
        start = previous_end
        if i > 0 and not hard:
            # Transitions never overlap each other: this one starts after the last one ends.
            start = min(previous_end, max(wanted, previous_start + previous_overlap))
        end = max(total if i == last else end, previous_end + 1)
        spans.append((start, end - start, previous_end - start))
        previous_start, previous_end, previous_overlap = start, end, previous_end - start
    return spans
