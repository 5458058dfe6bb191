"""Proxies: a clip far larger than the video needs is first made small, just the footage the plan uses.

A phone's 4K clip, above all a 10-bit HEVC HDR one, costs the render a decoder whose pictures alone
hold hundreds of megabytes for the whole run, beside the encoder and every other input. As an NLE
makes proxies, each such clip's used stretches are decoded once, in a short ffmpeg run of their own
before the render (one at a time, so two big decoders never meet), scaled to the size the output
needs, turned upright and into SDR, and written as a light intra-friendly H.264 file the render then
reads instead. What this saves and costs: benchmarks/README.md, "Phone footage".
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import ffmpeg
from .facts import VIDEO, MediaInfo
from .filtertext import even
from .geometry import crop_share
from .graph import X264_LOW_MEMORY
from .hdr import tone_map_filters
from .plan import FILL, Plan, Segment
from .probe import probe_visual

# A clip gets a proxy when its decoded pictures are more than this many times both the proxy's and the
# output frame's: a 1080p clip never does, a 4K clip (cropped for a fill) or a 10-bit HDR one does.
PROXY_GAIN = 2.0
# Stretches of a clip this close (source seconds) share one proxy: decoding the gap costs less than
# a second input in the render.
MERGE_GAP = 2.0
# Frames either side of a stretch, so the render's own seek and trim margins stay inside the proxy.
MARGIN_FRAMES = 4
# The proxy's encoding: visually lossless, cheap to write and to read, a keyframe every half second
# so the render's seek into it decodes little.
PROXY_ARGS = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv420p")
PROXY_KEYFRAME_SECONDS = 0.5
PROXY_THREADS = "2"  # the proxy runs alone: both cores decode and encode it
SCALE_FLAGS = "bilinear"  # as the render scales video (graph.VIDEO_SCALE_FLAGS): the proxy changes nothing seen
# How a picture stored at a clockwise display rotation is turned upright (as ffmpeg's autorotate does).
UPRIGHT = {90: ["transpose=clock"], 180: ["hflip", "vflip"], 270: ["transpose=cclock"]}


@dataclass(frozen=True)
class Stretch:
    """Source seconds of one clip that one proxy covers, and the segments it serves."""

    visual: int
    start: float
    end: float
    segments: tuple[int, ...]


@dataclass(frozen=True)
class Box:
    """What a proxy keeps of the clip's upright picture (display pixels) and the size it is scaled to."""

    x: int
    y: int
    width: int
    height: int
    out_width: int
    out_height: int


def stretches(plan: Plan, visual: int) -> tuple[Stretch, ...]:
    """The clip's used footage as stretches, each with a few frames of margin either side."""
    info = plan.visuals[visual]
    margin = MARGIN_FRAMES / (info.fps or plan.fps)
    used = sorted((seg.source_in, seg.source_out, i) for i, seg in enumerate(plan.segments) if seg.visual == visual)
    found: list[Stretch] = []
    for source_in, source_out, i in used:
        start, end = max(0.0, source_in - margin), source_out + margin
        if found and start <= found[-1].end + MERGE_GAP:
            last = found[-1]
            found[-1] = Stretch(visual, last.start, max(last.end, end), (*last.segments, i))
        else:
            found.append(Stretch(visual, start, end, (i,)))
    return tuple(found)


def proxy_box(plan: Plan, stretch: Stretch) -> Box | None:
    """What a proxy of this stretch keeps and its size; None when the clip is not worth one.

    A fill keeps just the union of its segments' crop windows, scaled to cover the frame; a fit
    (blurred or barred) keeps the whole picture, scaled to fit inside it. Never scaled up.
    """
    info = plan.visuals[stretch.visual]
    if info.kind != VIDEO or info.width <= 0 or info.height <= 0:
        return None
    segments = [plan.segments[i] for i in stretch.segments]
    x, y, width, height = 0, 0, info.width, info.height
    if all(seg.reframe == FILL for seg in segments):
        axis, share = crop_share(info, plan.width, plan.height)
        if axis == "x":
            x, width = _union(_centres(segments, "x"), info.width, share)
        elif axis == "y":
            y, height = _union(_centres(segments, "y"), info.height, share)
        scale = min(1.0, max(plan.width / width, plan.height / height))
    else:
        scale = min(1.0, plan.width / width, plan.height / height)
    out_width, out_height = even(width * scale), even(height * scale)
    depth = 2 if info.hdr else 1  # HDR is 10-bit: two bytes a sample once decoded
    decoded = info.width * info.height * depth
    if decoded <= PROXY_GAIN * max(out_width * out_height, plan.width * plan.height):
        return None
    return Box(x, y, width, height, out_width, out_height)


def _centres(segments: list[Segment], axis: str) -> list[float]:
    """Every place the segments' crops are centred along the axis: where each starts and, when it moves, ends."""
    if axis == "x":
        return [f for seg in segments for f in (seg.focus_x, seg.focus_x_to) if f is not None]
    return [f for seg in segments for f in (seg.focus_y, seg.focus_y_to) if f is not None]


def _union(focus: list[float], size: int, share: float) -> tuple[int, int]:
    """(offset, length), even, of the span holding every crop window of `share` centred on `focus`."""
    window = size * share
    centres = [min(max(f * size, window / 2), size - window / 2) for f in focus]
    first = max(0, math.floor((min(centres) - window / 2) / 2) * 2)
    last = min(size, math.ceil((max(centres) + window / 2) / 2) * 2)
    return first, last - first


def _moved(seg: Segment, visual: int, offset: float, info: MediaInfo, box: Box) -> Segment:
    """The segment reading its proxy: source times from the proxy's start, focus within what it kept."""
    def inside(focus: float | None, offset: int, length: int, size: int) -> float | None:
        if focus is None:
            return None
        return min(max((min(max(focus * size, 0), size) - offset) / length, 0.0), 1.0)

    return replace(
        seg, visual=visual, source_in=seg.source_in - offset, source_out=seg.source_out - offset,
        focus_x=inside(seg.focus_x, box.x, box.width, info.width),
        focus_y=inside(seg.focus_y, box.y, box.height, info.height),
        focus_x_to=inside(seg.focus_x_to, box.x, box.width, info.width),
        focus_y_to=inside(seg.focus_y_to, box.y, box.height, info.height),
    )


def proxies_folder(output_path: str) -> str:
    """Where a render of output_path keeps its proxies: hidden beside it, removed when the render ends."""
    folder, name = os.path.split(os.path.abspath(output_path))
    return os.path.join(folder, f".{os.path.splitext(name)[0]}.proxies")


def wanted(plan: Plan) -> list[tuple[Stretch, Box]]:
    """Every stretch of footage worth a proxy, with what its proxy keeps."""
    found = []
    for visual in range(len(plan.visuals)):
        for stretch in stretches(plan, visual):
            box = proxy_box(plan, stretch)
            if box is not None:
                found.append((stretch, box))
    return found


def with_proxies(
    plan: Plan,
    folder: str,
    *,
    timeout: float,
    stall_timeout: float | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_start: Callable[[], None] | None = None,
    low_memory: bool = False,
) -> Plan:
    """The plan reading proxies, made in `folder`, for every stretch worth one; the plan itself when none is.

    Each proxy is a visual of its own, appended to the plan's visuals; its segments point at it, their
    source times and focus moved to the proxy's. on_start is called before the first proxy is made. A
    proxy whose ffmpeg makes no progress for stall_timeout seconds is stopped, as the render is. Raises
    what ffmpeg.run raises; the caller removes `folder`. low_memory: decoded on one thread and encoded with
    x264's sliced threads (graph.X264_LOW_MEMORY), for less memory and a slower proxy.
    """
    needed = wanted(plan)
    if not needed:
        return plan
    if on_start is not None:
        on_start()
    os.makedirs(folder, exist_ok=True)
    visuals = list(plan.visuals)
    segments = list(plan.segments)
    for stretch, box in needed:
        info = plan.visuals[stretch.visual]
        # Matroska: ffmpeg 5.1 would copy the source's rotation flag into an MP4, turning the picture twice.
        path = os.path.join(folder, f"visual-{stretch.visual + 1}-{len(visuals)}.mkv")
        _make(info, stretch, box, path, timeout=timeout, stall_timeout=stall_timeout, should_cancel=should_cancel,
              low_memory=low_memory)
        index = len(visuals)
        visuals.append(probe_visual(path))
        for i in stretch.segments:
            segments[i] = _moved(segments[i], index, stretch.start, info, box)
    return replace(plan, visuals=tuple(visuals), segments=tuple(segments))


def remove(folder: str) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _make(
    info: MediaInfo,
    stretch: Stretch,
    box: Box,
    path: str,
    *,
    timeout: float,
    stall_timeout: float | None,
    should_cancel: Callable[[], bool] | None,
    low_memory: bool = False,
) -> None:
    # The picture is turned upright only once it is small: ffmpeg's own autorotate would turn every
    # full-size frame first. So the box (in upright display pixels) is found in the stored picture.
    x, y, width, height, out_width, out_height = _stored_box(info, box)
    stored = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
    square = [f"scale={stored[0]}:{stored[1]}"] if abs(info.sample_aspect - 1.0) > 1e-3 else []
    crop = [] if (width, height) == stored else [f"crop={width}:{height}:{x}:{y}"]
    picture = [*square, *crop, f"scale={out_width}:{out_height}:flags={SCALE_FLAGS}",
               *tone_map_filters(info, keep_depth=True), "format=yuv420p", *UPRIGHT.get(info.rotation, []), "setsar=1"]
    keyframes = max(1, math.floor((info.fps or 30) * PROXY_KEYFRAME_SECONDS))
    sound = ["-map", "0:a:0", "-c:a", "aac", "-b:a", "256k", "-ac", "2", "-ar", "48000"] if info.has_audio else []
    # Each decoder thread holds pictures of its own: 4K 10-bit ones are the proxy step's memory.
    decoder_threads = "1" if low_memory else PROXY_THREADS
    encoder = ["-x264-params", X264_LOW_MEMORY] if low_memory else []
    ffmpeg.run(
        [
            ffmpeg.FFMPEG, "-y", "-loglevel", "error",
            "-ss", f"{stretch.start:.6f}", "-t", f"{stretch.end - stretch.start:.6f}", "-threads", decoder_threads,
            "-sn", "-dn", "-noautorotate", *ffmpeg.safe_input_args(ffmpeg.VIDEO_FORMATS), "-i", info.path,
            "-map", "0:v:0", "-vf", ",".join(picture), *PROXY_ARGS, *encoder, "-g", str(keyframes),
            "-threads", PROXY_THREADS, *sound, "-f", "matroska", path,
        ],
        timeout=timeout,
        on_progress=lambda seconds: None,  # progress lines let should_cancel and the stall watchdog work
        stall_timeout=stall_timeout,
        should_cancel=should_cancel,
    )


def _stored_box(info: MediaInfo, box: Box) -> tuple[int, int, int, int, int, int]:
    """The box and the proxy's size in the stored picture's orientation (x, y, width, height, out w, out h)."""
    stored_width = info.height if info.rotation in (90, 270) else info.width
    stored_height = info.width if info.rotation in (90, 270) else info.height
    if info.rotation == 90:  # turned clockwise: the stored picture's left edge is the upright top
        return (box.y, stored_height - box.x - box.width, box.height, box.width, box.out_height, box.out_width)
    if info.rotation == 270:
        return (stored_width - box.y - box.height, box.x, box.height, box.width, box.out_height, box.out_width)
    if info.rotation == 180:
        return (stored_width - box.x - box.width, stored_height - box.y - box.height, box.width, box.height,
                box.out_width, box.out_height)
    return box.x, box.y, box.width, box.height, box.out_width, box.out_height

