"""A finished edit's poster: one small JPEG from the middle of its liveliest shot.

Which shot is liveliest comes from the plan alone, so the poster needs no second
look at the footage: a plan that carries a score per segment
(`plan.extra["segment_energy"]`, one number per segment) is taken at its word;
otherwise the planner's pacing says it, since cuts come faster where the music
is louder (planner.LOUD): the shortest shot of a clip, photos only when there is
no clip. The frame is taken from the middle of the shot's own frames, away from
its transitions (a dip to black would make a black poster).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import ffmpeg
from .errors import RenderFailed
from .plan import Plan, Segment

POSTER_WIDTH = 540  # pixels: half a 1080-wide frame, sharp in a list or as a <video> poster
POSTER_QUALITY = 4  # ffmpeg's mjpeg -q:v (2 best .. 31 worst): about 40 KB at 540x960
POSTER_TIMEOUT = 30.0
EDGE = 0.5  # seconds kept clear of the edit's first and last moments (fade in and out)


def poster_time(plan: Plan) -> float:
    """Seconds into the output for the poster: the middle of the liveliest shot's own frames."""
    if not plan.segments:
        return min(plan.duration / 2, EDGE)
    best = max(range(len(plan.segments)), key=lambda i: _liveliness(plan, i))
    seg = plan.segments[best]
    middle = (seg.first_frame + seg.overlap + seg.end_frame) / 2 / seg.fps
    if plan.duration <= 2 * EDGE:
        return round(plan.duration / 2, 3)
    return round(min(max(middle, EDGE), plan.duration - EDGE), 3)


def _liveliness(plan: Plan, index: int) -> tuple[float, float, float]:
    """A sortable score: the plan's own score if it has one, else clips first, then the fastest pace."""
    seg: Segment = plan.segments[index]
    is_clip = 0.0 if plan.visuals[seg.visual].is_still else 1.0
    energy = plan.extra.get("segment_energy") if isinstance(plan.extra, dict) else None
    score = float(energy[index]) if isinstance(energy, (list, tuple)) and len(energy) == len(plan.segments) else 0.0
    held = max(seg.frames - seg.overlap, 1) / seg.fps
    # Equal scores and paces: the earlier shot (a negative index sorts it first under max).
    return (score, is_clip, -held - index * 1e-6)


def make_poster(video: Path, at: float, out: Path, *, width: int = POSTER_WIDTH) -> Path:
    """Write the frame of `video` at `at` seconds to `out` as a JPEG `width` pixels wide (never upscaled).

    Written under a temporary name beside `out` and renamed, so `out` is either whole or absent;
    raises RenderFailed (or RenderTimeout) when ffmpeg cannot make it.
    """
    video, out = Path(video), Path(out)
    partial = out.with_name(f".{out.stem}.partial.jpg")
    args = [
        ffmpeg.FFMPEG, "-loglevel", "error", "-y",
        # Seeking before the input is exact for a re-encoded video and decodes from the nearest keyframe only.
        "-ss", f"{max(0.0, at):.3f}", *ffmpeg.safe_input_args(ffmpeg.VIDEO_FORMATS), "-i", str(video),
        "-an", "-sn", "-dn", "-frames:v", "1",
        "-vf", f"scale='min({width},iw)':-2:flags=bicubic,format=yuvj420p",
        "-q:v", str(POSTER_QUALITY), "-f", "image2", "-update", "1", str(partial),
    ]
    try:
        ffmpeg.run(args, timeout=POSTER_TIMEOUT)
        if not partial.exists() or partial.stat().st_size == 0:
            # ffmpeg exits 0 with no frame when `at` lies past the end.
            raise RenderFailed(f"no frame at {at:.2f} s to make a poster from")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out
