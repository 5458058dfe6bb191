"""The output frame grid: whole frames for times, and the check that a plan's segments tile it.

A plan's segments carry their frames (plan.py); the planner puts them on the grid, and
`grid_spans` does it for segments described in seconds (a hand-built or older plan). A
segment covers frames [first_frame, first_frame + frames); a transition into it covers its
first `overlap` frames, which end where the previous segment ends. The joined stream is
exactly the plan's duration, in frames, by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # plan.py imports this module: only the type is needed here
    from .plan import Plan


@dataclass(frozen=True)
class SegmentTiming:
    """A segment on the output frame grid, as the renderer reads it."""

    first_frame: int  # output frame where the segment starts (its incoming transition included)
    frames: int  # how many frames the segment contributes
    overlap: int  # frames shared with the previous segment by a transition; 0 for a hard cut

    @property
    def end_frame(self) -> int:
        return self.first_frame + self.frames


def frame_count(seconds: float, fps: int) -> int:
    """The nearest whole frame to a time (halves round up, whatever the float error)."""
    return math.floor(seconds * fps + 0.5 + 1e-9)


def output_frames(plan: Plan) -> int:
    """How many frames the rendered video has."""
    return frame_count(plan.duration, plan.fps)


def output_duration(plan: Plan) -> float:
    """The rendered duration: plan.duration rounded to the frame grid (within half a frame)."""
    return output_frames(plan) / plan.fps


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


def segment_timings(plan: Plan) -> tuple[SegmentTiming, ...]:
    """Every segment's frames, checked to tile the output: ValueError names the first that does not."""
    if not plan.segments:
        raise ValueError("the plan has no segments")
    total = output_frames(plan)
    timings = tuple(SegmentTiming(s.first_frame, s.frames, s.overlap) for s in plan.segments)
    previous = SegmentTiming(0, 0, 0)
    for i, (seg, timing) in enumerate(zip(plan.segments, timings)):
        if seg.fps != plan.fps:
            raise ValueError(f"segment {i} is on a {seg.fps} fps grid, the plan on {plan.fps}")
        if timing.frames < 1 or timing.overlap < 0 or timing.overlap >= timing.frames:
            raise ValueError(f"segment {i} has {timing.frames} frames and {timing.overlap} of overlap")
        if timing.first_frame + timing.overlap != previous.end_frame:
            raise ValueError(f"segment {i} does not start where segment {i - 1} ends (less its overlap)")
        if timing.first_frame < previous.first_frame + previous.overlap:
            raise ValueError(f"the transition into segment {i} starts before the one into segment {i - 1} ends")
        previous = timing
    if previous.end_frame != total:
        raise ValueError(f"the segments do not fit the plan's duration ({previous.end_frame} frames for {total})")
    return timings
