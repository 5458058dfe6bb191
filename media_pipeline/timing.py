"""A plan's segments as the renderer reads them, checked to tile the output frame grid.

A plan's segments carry their frames (plan.py); the planner puts them on the grid, and
frame_grid.grid_spans does it for segments described in seconds (a hand-built or older plan).
The joined stream is then exactly the plan's duration, in frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from .frame_grid import frame_count
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


def output_frames(plan: Plan) -> int:
    """How many frames the rendered video has."""
    return frame_count(plan.duration, plan.fps)


def output_duration(plan: Plan) -> float:
    """The rendered duration: plan.duration rounded to the frame grid (within half a frame)."""
    return output_frames(plan) / plan.fps


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
