"""The output frame grid: where each segment of a plan starts and how many frames it has.

Timing works in whole output frames. Every segment boundary from the plan is
rounded to the frame grid and segment i covers frames [first_frame, first_frame +
frames). A transition into segment i covers its first `overlap` frames: it
starts at the segment's first frame (the plan's `start`, the offset a chained
xfade would be given) and ends where the previous segment ends. The joined
stream is exactly the plan's duration, in frames, by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .plan import CUT, Plan


@dataclass(frozen=True)
class SegmentTiming:
    """A segment on the output frame grid."""

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


def segment_timings(plan: Plan) -> tuple[SegmentTiming, ...]:
    """Every segment's frames, consistent by construction: boundaries meet and the last ends the video.

    A hard cut starts exactly where the previous segment ends. A transition keeps
    the plan's start (so its overlap), moved later if it would begin before the
    previous transition has finished; an overlap that rounds to nothing is a cut.
    """
    if not plan.segments:
        raise ValueError("the plan has no segments")
    total = output_frames(plan)
    ends = [frame_count(s.end, plan.fps) for s in plan.segments[:-1]] + [total]
    timings: list[SegmentTiming] = []
    previous_start, previous_end, previous_overlap = 0, 0, 0
    for i, (seg, end) in enumerate(zip(plan.segments, ends)):
        start = previous_end
        if i > 0 and seg.transition != CUT:
            wanted = frame_count(seg.start, plan.fps)
            # Transitions never overlap each other: this one starts after the last one ends.
            start = min(previous_end, max(wanted, previous_start + previous_overlap))
        end = max(end, previous_end + 1)
        timings.append(SegmentTiming(first_frame=start, frames=end - start, overlap=previous_end - start))
        previous_start, previous_end, previous_overlap = start, end, previous_end - start
    if timings[-1].end_frame != total:
        raise ValueError(
            f"the segments do not fit the plan's duration ({timings[-1].end_frame} frames for {total})"
        )
    return tuple(timings)

