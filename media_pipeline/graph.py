"""Plan -> one ffmpeg command: one filter graph that cuts, reframes, joins, grades and mixes the whole edit.

The graph, in the order frames flow:

- inputs, all seeked with -ss/-t before -i so each decodes only what the edit
  uses: one per "run" of a clip (its segments, while they move forward through
  it; usually one per clip), one per photo (decoded once), one for the music,
  and for styles that keep the clips' sound, one audio-only input per run;
- per run: frames outside its segments dropped, the rest reframed to WxH once,
  then split; per segment: cut, retimed, set to constant fps, trimmed to its
  exact frame count;
- per photo: the reframed composition built once, on a single frame, a little
  larger than the output; zoompan (Ken Burns) or loop makes each segment's frames;
- all segments joined in order by one concat; a transition is made from only
  the overlapping frames (the tail of one segment and the head of the next):
  crossfades and dips with cheap 4:2:0 filters, anything else with xfade;
- the colour grade, once, on the joined stream (see grade.py);
- music loudness-normalised (with the clips' sound mixed under it for some
  styles), faded, and cut to exactly the picture's length.

Timing works in whole output frames. Every segment boundary from the plan is
rounded to the frame grid and segment i covers frames [first_frame, first_frame +
frames). A transition into segment i covers its first `overlap` frames: it
starts at the segment's first frame (the plan's `start`, the offset a chained
xfade would be given) and ends where the previous segment ends. The joined
stream is exactly the plan's duration, in frames, by construction.

Costs measured on the benchmark (see benchmarks/README.md) shaped most choices
here; the comments next to them give the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from . import ffmpeg
from .edit_plan import BLUR, CUT, FILL, LETTERBOX, Motion, Plan, Segment
from .facts import MediaInfo
from .grade import grade_graph, is_neutral
from .loudness import TRUE_PEAK_DB
from .style import AudioTreatment, Style, get_style

# The output spec: H.264 High at 5-8 Mb/s, AAC stereo 48 kHz.
X264_PRESET = "veryfast"
VIDEO_BITRATE = "6M"
VIDEO_MAXRATE = "8M"
VIDEO_BUFSIZE = "12M"
# x264 keeps every look-ahead frame at full size with its analysis planes: half
# of veryfast's 10 saves about 35 MB, with the same SSIM and speed on the benchmark.
X264_PARAMS = "rc-lookahead=5"
AUDIO_BITRATE = "192k"
SAMPLE_RATE = 48000

# loudnorm's loudness range, for plans whose music gain was not measured.
LOUDNESS_RANGE = 11

# Extra source frames decoded past a run's last out point: covers rounding to the
# frame grid and the fps filter's look-ahead, at the cost of a few frames' decoding.
SEEK_MARGIN_FRAMES = 3

# Each video input's decoder runs single-threaded: x264 already keeps both cores
# busy, and every decoder thread holds its own 1080p frames (about 20 MB a decoder).
DECODER_THREADS = ["-threads", "1"]

# Video frames are scaled with bilinear: on 1080p it costs a fraction of bicubic
# and, at the ratios an edit uses, looks the same once x264 has encoded it.
VIDEO_SCALE_FLAGS = "bilinear"
# A photo is scaled once, so it gets the better filter.
PHOTO_SCALE_FLAGS = "bicubic"
# The Ken Burns composition is this much larger than the largest crop zoompan takes
# from it: zoompan cuts whole pixels, so a finer source means a smoother move.
PHOTO_SUPERSAMPLE = 1.25

# The blurred background is made at 1/8 of the output size: blurring and darkening
# 64x fewer pixels, then one cheap upscale.
BLUR_DOWNSCALE = 8
BLUR_DARKEN = -0.08
BLUR_SATURATION = 0.85

_STEREO_48K = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"

# Each clip's sound fades in and out over this long at its cuts, so they never click.
_CLIP_FADE = 0.01

# Every transition name the renderer can draw (ffmpeg 5.1's xfade names).
XFADE_TRANSITIONS = frozenset(
    "fade wipeleft wiperight wipeup wipedown slideleft slideright slideup slidedown circlecrop "
    "rectcrop distance fadeblack fadewhite radial smoothleft smoothright smoothup smoothdown "
    "circleopen circleclose vertopen vertclose horzopen horzclose dissolve pixelize diagtl diagtr "
    "diagbl diagbr hlslice hrslice vuslice vdslice hblur fadegrays wipetl wipetr wipebl wipebr "
    "squeezeh squeezev zoomin fadefast fadeslow".split()
)


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


def encoder_args(fps: int) -> list[str]:
    """Video encoder options for the output spec (shared with the benchmark's baseline)."""
    return [
        "-c:v", "libx264", "-preset", X264_PRESET, "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", VIDEO_BITRATE, "-maxrate", VIDEO_MAXRATE, "-bufsize", VIDEO_BUFSIZE, "-x264-params", X264_PARAMS,
        "-r", str(fps), "-fps_mode", "cfr",
    ]


def audio_encoder_args() -> list[str]:
    """Audio encoder options: AAC stereo 48 kHz."""
    return ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(SAMPLE_RATE), "-ac", "2"]


def build_command(plan: Plan, output_path: str, *, style: Style | None = None) -> list[str]:
    """The full ffmpeg argument list (binary first) that renders `plan` to `output_path` as MP4."""
    style = style or get_style(plan.style)
    _check_plan(plan)
    timings = segment_timings(plan)
    inputs = _Inputs.for_plan(plan, with_clip_audio=style.audio.clip_volume > 0)
    graph = ";".join(
        [
            *_segment_graphs(plan, timings, inputs),
            _join_graph(plan, timings, "joined"),
            _finish_video(plan, style, "joined", "vout"),
            _audio_graph(plan, style.audio, timings, inputs, "aout"),
        ]
    )
    return [
        ffmpeg.FFMPEG, "-y", "-loglevel", "error",
        *inputs.args,
        "-filter_complex", graph,
        "-map", "[vout]", "-map", "[aout]",
        # Phone clips carry location and device tags: none of that goes into the edit.
        "-map_metadata", "-1", "-map_chapters", "-1",
        *encoder_args(plan.fps),
        *audio_encoder_args(),
        "-movflags", "+faststart",
        "-f", "mp4", output_path,
    ]


def _check_plan(plan: Plan) -> None:
    for i, seg in enumerate(plan.segments):
        if not 0 <= seg.visual < len(plan.visuals):
            raise ValueError(f"segment {i} uses visual {seg.visual}, which the plan does not have")
        if seg.transition != CUT and seg.transition not in XFADE_TRANSITIONS:
            raise ValueError(f"segment {i} has an unknown transition {seg.transition!r}")
        if seg.speed <= 0:
            raise ValueError(f"segment {i} has a speed of {seg.speed}")


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Run:
    """One seeked input of a video clip, serving one or more of its segments in source order.

    Sharing an input between a clip's segments matters for memory: ffmpeg 5.1
    opens every input's decoder up front and keeps its frame buffers to the end
    (about 27 MB per 1080p H.264 input), and the planner usually carries on
    through a clip from where its last segment stopped.
    """

    visual: int
    segments: tuple[int, ...]  # in output order, which is also source order
    start: float  # source seconds the input is seeked to
    end: float  # source seconds where the last segment's footage ends


@dataclass(frozen=True)
class _Inputs:
    """ffmpeg's input arguments and which input index serves what."""

    args: tuple[str, ...]
    runs: tuple[tuple[int, _Run], ...]  # (input index, run) for the video clips
    sound: dict[int, int]  # video run's input index -> the same window opened for its sound
    photo: dict[int, int]  # visual index -> input index (each photo decoded once)
    music: int

    @staticmethod
    def for_plan(plan: Plan, *, with_clip_audio: bool) -> _Inputs:
        runs = plan_runs(plan)
        args: list[str] = []
        for run in runs:
            args += _run_input(plan, run, ["-an", "-sn", "-dn", *DECODER_THREADS])
        # A clip's sound is opened as its own input (-vn: its video packets are
        # dropped unread). Reading it from the video input would decode pictures
        # whenever the sound ran ahead, and park them in memory.
        sound: dict[int, int] = {}
        if with_clip_audio:
            for index, run in enumerate(runs):
                if plan.visuals[run.visual].has_audio:
                    sound[index] = len(runs) + len(sound)
                    args += _run_input(plan, run, ["-vn", "-sn", "-dn"])
        photo: dict[int, int] = {}
        for v in sorted({seg.visual for seg in plan.segments if plan.visuals[seg.visual].is_still}):
            args += [*ffmpeg.safe_input_args(ffmpeg.IMAGE_FORMATS), "-i", plan.visuals[v].path]
            photo[v] = len(runs) + len(sound) + len(photo)
        window = max(plan.music_end - plan.music_start, output_duration(plan))
        # A song's cover art is a video stream: never decode it.
        skip = ["-vn", "-sn", "-dn"]
        args += _seeked_input(plan.music.path, plan.music_start, window + 1.0, ffmpeg.AUDIO_FORMATS, skip)
        music = len(runs) + len(sound) + len(photo)
        return _Inputs(tuple(args), tuple(enumerate(runs)), sound, photo, music)


def _run_input(plan: Plan, run: _Run, streams: list[str]) -> list[str]:
    length = run.end - run.start + SEEK_MARGIN_FRAMES / plan.fps
    return _seeked_input(plan.visuals[run.visual].path, run.start, length, ffmpeg.VIDEO_FORMATS, streams)


def plan_runs(plan: Plan) -> tuple[_Run, ...]:
    """The video inputs the render opens: a clip's segments share one while they move forward through it.

    A segment joins its clip's latest run when it starts at or after that run's
    end, no more than MAX_SKIP later, with the same reframe mode; otherwise it
    opens a new seeked input.
    """
    runs: list[_Run] = []
    latest: dict[int, int] = {}  # visual -> index in runs
    for i, seg in enumerate(plan.segments):
        if plan.visuals[seg.visual].is_still:
            continue
        out = seg.source_in + max(seg.source_out - seg.source_in, 1.0 / plan.fps)
        k = latest.get(seg.visual)
        if k is not None and _continues(plan, runs[k], seg):
            run = runs[k]
            runs[k] = _Run(run.visual, (*run.segments, i), run.start, max(run.end, out))
        else:
            latest[seg.visual] = len(runs)
            runs.append(_Run(seg.visual, (i,), max(0.0, seg.source_in), out))
    return tuple(runs)


def _continues(plan: Plan, run: _Run, seg: Segment) -> bool:
    first = plan.segments[run.segments[0]]
    gap = seg.source_in - run.end
    return seg.reframe == first.reframe and -_SOURCE_SLACK <= gap <= MAX_SKIP


def _seeked_input(path: str, start: float, seconds: float, formats: str, skip: list[str]) -> list[str]:
    # -ss/-t before -i: the demuxer seeks and ffmpeg trims exactly, decoding only this
    # window; `skip` drops the streams this input is not used for.
    return [
        "-ss", _t(max(0.0, start)), "-t", _t(seconds), *skip,
        *ffmpeg.safe_input_args(formats), "-i", path,
    ]


# ---------------------------------------------------------------- segments


def _segment_graphs(plan: Plan, timings: tuple[SegmentTiming, ...], inputs: _Inputs) -> list[str]:
    """One subgraph per video run and per photo; segment i's frames end in the label s<i>."""
    parts = [_run_graph(plan, run, index, timings) for index, run in inputs.runs]
    for visual, index in inputs.photo.items():
        parts += _photo_segments(plan, visual, index, timings)
    return parts


def _run_graph(plan: Plan, run: _Run, index: int, timings: tuple[SegmentTiming, ...]) -> str:
    """Decode once, keep only frames some segment uses, reframe them once, then cut each segment out.

    Reframing before the split means one scaler (and one set of frame buffers)
    per input rather than per segment; frames between segments are dropped
    before they are scaled.
    """
    first = plan.segments[run.segments[0]]
    info = plan.visuals[run.visual]
    slowest = min(plan.segments[i].speed for i in run.segments)
    head = [f"fps={_n(plan.fps / slowest)}"]  # slow motion needs the source's extra frames
    spans = [_span(plan, run, i) for i in run.segments]
    if len(spans) > 1:
        keep = "+".join(f"between(t,{_n(a)},{_n(b)})" for a, b in spans)
        head.append(f"select='{keep}'")
    copies = [f"v{index}c{i}" for i in run.segments]
    parts = [
        _reframe(
            first.reframe, info, plan.width, plan.height,
            src=f"{index}:v", head=head,
            tail=["format=yuv420p", "setsar=1", _HOLD_LAST_FRAME, f"split={len(copies)}"],
            dst=_labels(copies), tag=f"r{index}", flags=VIDEO_SCALE_FLAGS,
        )
    ]
    # At normal speed the head's fps filter already gives the output's frame grid.
    on_grid = slowest == 1
    for copy, i, (a, b) in zip(copies, run.segments, spans):
        parts.append(_chain(copy, _segment_frames(plan, i, timings[i], a, b, on_grid=on_grid), f"s{i}"))
    return ";".join(parts)


# If a clip's footage runs out a frame or two before its last segment is full (a
# duration rounded up by the probe, a variable frame rate), its last frame is held
# rather than shortening the segment, which would shift every later cut. Once per
# input: tpad keeps a reference to the latest frame for as long as the graph lives.
_HOLD_LAST_FRAME = "tpad=stop_mode=clone:stop_duration=1"

# Frames a segment may read past its planned out point (rounding, the fps filter's lookahead).
_SPAN_MARGIN_FRAMES = 2
# Two segments are contiguous in the source if they meet within this (float noise).
_SOURCE_SLACK = 1e-3
# A clip's next segment shares its input when it starts at most this far past the previous one's end:
# decoding a second of skipped footage is cheaper than a second decoder's memory and keyframe pre-roll.
MAX_SKIP = 2.0


def _span(plan: Plan, run: _Run, i: int) -> tuple[float, float]:
    """Segment i's footage in the run input's own time (which starts at run.start)."""
    seg = plan.segments[i]
    start = max(0.0, seg.source_in - run.start)
    return start, max(seg.source_out - run.start, start) + _SPAN_MARGIN_FRAMES / plan.fps


def _segment_frames(
    plan: Plan, i: int, timing: SegmentTiming, start: float, end: float, *, on_grid: bool = False
) -> list[str]:
    """From the run's reframed frames to exactly the segment's frames, retimed.

    on_grid: the run's frames are already constant plan.fps in a 1/fps timebase
    (its head fps filter, every segment at speed 1), so the cut frames count
    0, 1, 2, ... and a per-segment fps filter would change nothing. Leaving it out
    matters for memory: the trim after it closes the segment before fps has seen
    its input end, and ffmpeg 5.1's fps then keeps its one or two buffered 1080x1920
    frames (about 6 MB) to the end of the render: about 90 MB for a 45-segment edit.
    """
    seg = plan.segments[i]
    retime = "setpts=PTS-STARTPTS" if seg.speed == 1 else f"setpts=(PTS-STARTPTS)/{_n(seg.speed)}"
    cut = f"trim=start={_t(start)}:end={_t(end)}" if start > 0 else f"trim=end={_t(end)}"
    return [
        cut,
        retime,
        *([] if on_grid and seg.speed == 1 else [f"fps={plan.fps}"]),
        f"trim=end_frame={timing.frames}",
        *_segment_tail(plan.fps),
    ]


def _segment_tail(fps: int) -> list[str]:
    # What xfade and concat need from every segment: same format, square pixels,
    # one timebase, timestamps counting frames from zero.
    return ["format=yuv420p", "setsar=1", f"settb=1/{fps}", "setpts=N"]


def _photo_segments(plan: Plan, visual: int, index: int, timings: tuple[SegmentTiming, ...]) -> list[str]:
    """The photo's composition is built once per reframe mode; one zoompan (or loop) makes all its segments.

    One filter per photo and mode, not per segment, matters for memory: ffmpeg
    5.1 keeps each zoompan's frame buffers (about 6 MB at 1080x1920) until the
    render ends. The frames come out in output order and a segment filter deals
    them to the segments, each taking them only when the join reaches it.
    """
    info = plan.visuals[visual]
    used = [i for i, seg in enumerate(plan.segments) if seg.visual == visual]
    modes = sorted({plan.segments[i].reframe for i in used})
    # trim=end_frame=1: an animated image contributes its first frame only.
    firsts = [f"p{visual}m{m}" for m in range(len(modes))]
    parts = [_chain(f"{index}:v", ["trim=end_frame=1", f"split={len(modes)}"], _labels(firsts))]
    for m, mode in enumerate(modes):
        group = [i for i in used if plan.segments[i].reframe == mode]
        zoom = max([1.0] + [_max_zoom(plan.segments[i]) for i in group])
        moving = any(plan.segments[i].motion is not None for i in group)
        scale = zoom * PHOTO_SUPERSAMPLE if moving else 1.0
        width, height = _even(plan.width * scale), _even(plan.height * scale)
        frames = [timings[i].frames for i in group]
        if moving:
            make = [_ken_burns([plan.segments[i] for i in group], frames, plan), f"trim=end_frame={sum(frames)}"]
        else:
            # Repeat the one composed frame: nothing is computed per frame.
            make = [f"loop=loop={sum(frames) - 1}:size=1"]
        pieces = [f"p{visual}c{m}s{i}" for i in group]
        split = f"segment=frames={'|'.join(str(b) for b in _cumulative(frames)[:-1])}" if len(group) > 1 else "null"
        parts.append(
            _reframe(
                mode, info, width, height,
                src=f"p{visual}m{m}", head=[],
                tail=["format=yuv420p", "setsar=1", *make, f"settb=1/{plan.fps}", "setpts=N", split],
                dst=_labels(pieces), tag=f"q{visual}m{m}", flags=PHOTO_SCALE_FLAGS,
            )
        )
        parts += [_chain(piece, _segment_tail(plan.fps), f"s{i}") for piece, i in zip(pieces, group)]
    return parts


def _cumulative(values: list[int]) -> list[int]:
    totals, running = [], 0
    for value in values:
        running += value
        totals.append(running)
    return totals


def _max_zoom(seg: Segment) -> float:
    return max(seg.motion.zoom_from, seg.motion.zoom_to) if seg.motion else 1.0


def _ken_burns(segments: list[Segment], frames: list[int], plan: Plan) -> str:
    """One zoompan making every segment's move in turn: each expression is piecewise over the output frame `on`.

    zoompan crops iw/zoom x ih/zoom around the moving centre and scales it to
    the output size, once per output frame. A segment without motion holds the
    whole composition still.
    """
    starts = [0, *_cumulative(frames)[:-1]]
    still = Motion(1.0, 1.0)

    def piecewise(part: Callable[[Motion, str], str]) -> str:
        pieces = [
            part(seg.motion or still, f"{f'(on-{start})' if start else 'on'}/{max(n - 1, 1)}")
            for seg, start, n in zip(segments, starts, frames)
        ]
        text = pieces[-1]
        for start, piece in zip(reversed(starts[1:]), reversed(pieces[:-1])):
            text = f"if(lt(on,{start}),{piece},{text})"
        return text

    def lerp(a: float, b: float, progress: str) -> str:
        return _n(a) if a == b else f"({_n(a)}+{_n(b - a)}*{progress})"

    zoom = piecewise(lambda m, p: f"max(1,{lerp(m.zoom_from, m.zoom_to, p)})")
    x = piecewise(lambda m, p: f"max(0,min(iw-iw/zoom,{lerp(m.x_from, m.x_to, p)}*iw-iw/zoom/2))")
    y = piecewise(lambda m, p: f"max(0,min(ih-ih/zoom,{lerp(m.y_from, m.y_to, p)}*ih-ih/zoom/2))")
    return f"zoompan=z='{zoom}':x='{x}':y='{y}':d={sum(frames)}:s={plan.width}x{plan.height}:fps={plan.fps}"


# ---------------------------------------------------------------- reframing


def _reframe(
    mode: str, info: MediaInfo, width: int, height: int, *,
    src: str, head: list[str], tail: list[str], dst: str, tag: str, flags: str,
) -> str:
    """Graph text from [src] to [dst]: head filters, the picture fitted to width x height, tail filters.

    Sizes come from the display dimensions in MediaInfo (rotation and pixel
    aspect applied), so a rotated or anamorphic source keeps its shape; the
    explicit scale sizes make square pixels whatever the stored pixel shape.
    """
    fit = _fit_size(info, width, height)
    if mode == FILL or fit == (width, height):
        return _chain(src, [*head, *_cover(info, width, height, flags), *tail], dst)
    if mode == LETTERBOX:
        x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
        scale = f"scale={fit[0]}:{fit[1]}:flags={flags}"
        return _chain(src, [*head, scale, f"pad={width}:{height}:{x}:{y}:black", *tail], dst)
    if mode == BLUR:
        return _blurred_fit(info, width, height, fit, src=src, head=head, tail=tail, dst=dst, tag=tag, flags=flags)
    raise ValueError(f"unknown reframe mode {mode!r}")


def _cover(info: MediaInfo, width: int, height: int, flags: str) -> list[str]:
    """Crop the centre to the output's shape, then scale: cheaper than scaling up and cropping."""
    source = _aspect(info, width, height)
    target = width / height
    crop: list[str] = []
    if source > target * 1.002:
        crop = [f"crop=w=trunc(iw*{_n(target / source)}/2)*2:h=ih"]
    elif source < target / 1.002:
        crop = [f"crop=w=iw:h=trunc(ih*{_n(source / target)}/2)*2"]
    return [*crop, f"scale={width}:{height}:flags={flags}"]


def _blurred_fit(
    info: MediaInfo, width: int, height: int, fit: tuple[int, int], *,
    src: str, head: list[str], tail: list[str], dst: str, tag: str, flags: str,
) -> str:
    # The background is cut from the already-shrunk foreground, blurred at 1/8
    # size and scaled up: the source frame is scaled only once.
    small_w = _even(width / BLUR_DOWNSCALE)
    small_h = _even(height / BLUR_DOWNSCALE)
    radius = max(1, min(small_w, small_h) // 10)
    x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
    background = [
        *_cover(info, small_w, small_h, "fast_bilinear"),
        f"boxblur=luma_radius={radius}:luma_power=2",
        f"eq=brightness={_n(BLUR_DARKEN)}:saturation={_n(BLUR_SATURATION)}",
        f"scale={width}:{height}:flags=fast_bilinear",
    ]
    return ";".join(
        [
            _chain(
                src, [*head, f"scale={fit[0]}:{fit[1]}:flags={flags}", "setsar=1", "split"],
                _labels([f"{tag}f", f"{tag}b"]),
            ),
            _chain(f"{tag}b", background, f"{tag}bg"),
            f"[{tag}bg][{tag}f]overlay=x={x}:y={y}:shortest=1," + ",".join(["setsar=1", *tail]) + f"[{dst}]",
        ]
    )


def _aspect(info: MediaInfo, width: int, height: int) -> float:
    """The source's display aspect; the output's when the source's size is unknown."""
    if info.width > 0 and info.height > 0:
        return info.width / info.height
    return width / height


def _fit_size(info: MediaInfo, width: int, height: int) -> tuple[int, int]:
    """The largest even size with the source's shape that fits in width x height."""
    aspect = _aspect(info, width, height)
    if aspect >= width / height:
        return width, min(height, _even(width / aspect))
    return min(width, _even(height * aspect)), height


# ---------------------------------------------------------------- joining and finishing


def _join_graph(plan: Plan, timings: tuple[SegmentTiming, ...], dst: str) -> str:
    """All segments in order, each transition made from just the overlapping frames.

    A segment with transitions is cut (segment filter) into head | body | tail.
    Every output frame comes from the main lane, one concat of body 0, tail 0,
    body 1, ... Crossfades and dips are drawn by a single blend of the main lane
    with an over lane that holds the incoming heads (or a black or white frame
    for a dip) during transitions and a repeated filler frame elsewhere; sendcmd
    sets the blend's opacity frame by frame and the blend is off between
    transitions, so the main lane's frames pass through untouched. Other
    transitions are one xfade each, on the main lane.
    Slides are the over lane's heads moved in over the main lane by one overlay.
    """
    parts: list[str] = []
    main: list[str] = []
    over = _OverLane()
    previous_tail = ""
    for i, timing in enumerate(timings):
        outgoing = timings[i + 1].overlap if i + 1 < len(timings) else 0
        head, body, tail = _cut_segment(i, timing, outgoing, parts)
        name = _transition_name(plan.segments[i].transition, timing.overlap)
        if head and (name in CROSSFADES or name in SLIDES):
            main.append(previous_tail)
            over.add(timing.first_frame, head, timing.overlap, slide=SLIDES.get(name), eased=name in _EASED)
        elif head and name in DIPS:
            out_frames = timing.overlap // 2
            parts.append(_chain(previous_tail, [f"trim=end_frame={out_frames}"], f"x{i}o"))
            parts.append(_chain(head, [f"trim=start_frame={out_frames}", "setpts=PTS-STARTPTS"], f"x{i}i"))
            main += [f"x{i}o", f"x{i}i"]
            over.add_dip(timing.first_frame, DIPS[name], timing.overlap, out_frames)
        elif head:
            parts.append(_xfade(name, previous_tail, head, timing.overlap, plan.fps, f"x{i}"))
            main.append(f"x{i}")
        if body:
            main.append(body)
        previous_tail = tail
    # Renumbering after concat makes every timestamp exactly frame / fps.
    renumber = f"settb=1/{plan.fps},setpts=N"
    lane = "joined_main" if over.used else dst
    parts.append("".join(f"[{label}]" for label in main) + f"concat=n={len(main)}:v=1:a=0,{renumber}[{lane}]")
    if over.used:
        parts += over.graph(plan, output_frames(plan), renumber, main=lane, dst=dst)
    return ";".join(parts)


# Transitions done without xfade. ffmpeg 5.1 keeps every filter's frame buffers
# until the render ends, so a filter per transition costs memory per transition:
# an xfade about 21 MB (it has no 4:2:0 mode, so both sides go to 4:4:4 and back),
# an alpha-fade-and-overlay crossfade about 10 MB. Crossfades and dips instead
# share one blend for the whole edit (see _OverLane), a fixed cost of about
# 8 MB, and 8 ms of CPU per transition frame (nothing between transitions).
# "dissolve" is done as the soft cross-dissolve editors mean by it (and the styles'
# descriptions promise), not xfade's pixel-noise dissolve, which is 20 times dearer.
CROSSFADES = frozenset({"fade", "dissolve"})
MIN_XFADE_FRAMES = 4

# Slides: the incoming picture moves in over the outgoing one from a side, by one
# overlay for the whole edit (the same fixed cost as the blend, no 4:4:4 round
# trip). The value is (x, y) of the picture's starting offset in frame widths
# and heights. xfade's smooth* wipes are drawn as eased slides.
SLIDES: dict[str, tuple[int, int]] = {
    "slideleft": (1, 0), "slideright": (-1, 0), "slideup": (0, 1), "slidedown": (0, -1),
    "smoothleft": (1, 0), "smoothright": (-1, 0), "smoothup": (0, 1), "smoothdown": (0, -1),
}
_EASED = frozenset({"smoothleft", "smoothright", "smoothup", "smoothdown"})

DIPS = {"fadeblack": "black", "fadewhite": "white"}

# The blend that draws crossfades and dips, named so sendcmd reaches only it.
_JOIN_BLEND = "blend@join"


def _transition_name(name: str, frames: int) -> str:
    """The transition actually drawn: one only a few frames long is shown as a crossfade.

    Over two or three frames a wipe, zoom or blur cannot be told from a quick
    blend, and each xfade costs far more memory than a crossfade.
    """
    return "fade" if frames < MIN_XFADE_FRAMES and name not in DIPS else name


@dataclass(frozen=True)
class _Window:
    """Output frames [first, first + frames) where the over lane is drawn onto the main lane."""

    first: int
    frames: int
    opacity: str = ""  # blend: the main lane's opacity as an expression of F, the frame's number in the window
    slide: tuple[int, int] = (0, 0)  # overlay: where the incoming picture starts, in frame widths and heights
    eased: bool = False


class _OverLane:
    """The second lane of the join: incoming heads, a colour for dips, a filler frame elsewhere.

    Fillers and dip colours are one frame each, repeated by loop, so the lane
    costs three frames of memory however many transitions the edit has.
    """

    def __init__(self) -> None:
        self.pieces: list[tuple[str, int]] = []  # (label or =colour, frames), in output order
        self.blends: list[_Window] = []
        self.slides: list[_Window] = []
        self._at = 0  # output frames the lane covers so far

    @property
    def used(self) -> bool:
        return bool(self.blends or self.slides)

    def add(self, first: int, head: str, frames: int, *, slide: tuple[int, int] | None = None,
            eased: bool = False) -> None:
        """A crossfade (or a slide): on the window's first frame the head does not show yet, as in xfade."""
        self._fill(first)
        self.pieces.append((head, frames))
        self._at += frames
        if slide is None:
            self.blends.append(_Window(first, frames, opacity=f"1-F/{frames}"))
        else:
            self.slides.append(_Window(first, frames, slide=slide, eased=eased))

    def add_dip(self, first: int, colour: str, frames: int, out_frames: int) -> None:
        """A dip: the outgoing picture fades to `colour` over out_frames, then the incoming one from it."""
        self._fill(first)
        self.pieces.append((f"={colour}", frames))
        self._at += frames
        in_frames = frames - out_frames
        if out_frames:
            self.blends.append(_Window(first, out_frames, opacity=f"1-(F+1)/{out_frames}"))
        self.blends.append(_Window(first + out_frames, in_frames, opacity=f"(F+1)/{in_frames}"))

    def _fill(self, until: int) -> None:
        if until > self._at:
            self.pieces.append(("=black", until - self._at))
            self._at = until

    def graph(self, plan: Plan, total: int, renumber: str, *, main: str, dst: str) -> list[str]:
        """Graph parts that build the lane and draw it onto [main], ending in [dst]."""
        self._fill(total)
        parts: list[str] = []
        for colour in sorted({p for p, _ in self.pieces if p.startswith("=")}):
            uses = [k for k, (p, _) in enumerate(self.pieces) if p == colour]
            copies = [f"over{k}c" for k in uses]
            source = f"color=c={colour[1:]}:s={plan.width}x{plan.height}:r={plan.fps}"
            parts.append(f"{source},format=yuv420p,setsar=1,trim=end_frame=1,split={len(copies)}[{_labels(copies)}]")
            for k, copy in zip(uses, copies):
                parts.append(_chain(copy, [f"loop=loop={self.pieces[k][1] - 1}:size=1"], f"over{k}"))
        labels = [f"over{k}" if piece.startswith("=") else piece for k, (piece, _) in enumerate(self.pieces)]
        lanes = ["over"] if not (self.blends and self.slides) else ["overb", "overs"]
        fanout = f",split=2[{_labels(lanes)}]" if len(lanes) == 2 else f"[{lanes[0]}]"
        parts.append("".join(f"[{label}]" for label in labels) + f"concat=n={len(labels)}:v=1:a=0,{renumber}{fanout}")
        current = main
        if self.blends:
            out = dst if not self.slides else f"{main}b"
            parts.append(
                f"[{current}]sendcmd=c='{self._commands(plan.fps)}'[{current}c];"
                f"[{current}c][{lanes[0]}]{_JOIN_BLEND}=all_mode=normal:enable='{_enable(self.blends, plan.fps)}'"
                f",format=yuv420p[{out}]"
            )
            current = out
        if self.slides:
            x, y = self._position("W", 0, plan.fps), self._position("H", 1, plan.fps)
            parts.append(
                f"[{current}][{lanes[-1]}]overlay=x='{x}':y='{y}':eval=frame:enable='{_enable(self.slides, plan.fps)}'"
                f",format=yuv420p[{dst}]"
            )
        return parts

    def _commands(self, fps: int) -> str:
        # Each window's interval runs from half a frame before its first frame to
        # half a frame before the frame after it: exactly its frames, whatever the
        # float rounding. F is the frame's number within the window. The opacity is
        # set per plane: blend 5.1 ignores an all_opacity of exactly 1.
        intervals = []
        for w in self.blends:
            opacity = w.opacity.replace("F", f"(T*{fps}-{w.first})")
            commands = ", ".join(f"[expr] {_JOIN_BLEND} c{plane}_opacity {opacity}" for plane in range(3))
            intervals.append(f"{_t((w.first - 0.5) / fps)}-{_t((w.first + w.frames - 0.5) / fps)} {commands}")
        return ";".join(intervals)

    def _position(self, size: str, axis: int, fps: int) -> str:
        """The overlay's x (or y) for every slide window: from size * start to 0, eased or not."""
        terms = []
        for w in self.slides:
            if w.slide[axis] == 0:
                continue
            progress = f"(t*{fps}-{w.first})/{w.frames}"
            if w.eased:
                progress = f"({progress}*{progress}*(3-2*{progress}))"
            terms.append(f"{_within(w, fps)}*{w.slide[axis]}*{size}*(1-{progress})")
        return "+".join(terms) or "0"


# Windows are told by the frame's time, not by n: in a filter that syncs two
# inputs (blend, overlay), n counts the frames it has taken in, which can be one
# ahead of the frame being drawn. Half a frame either side absorbs float rounding.
def _within(w: _Window, fps: int) -> str:
    return f"between(t,{_t((w.first - 0.5) / fps)},{_t((w.first + w.frames - 0.5) / fps)})"


def _enable(windows: list[_Window], fps: int) -> str:
    return "+".join(_within(w, fps) for w in windows)


def _xfade(name: str, tail: str, head: str, frames: int, fps: int, tag: str) -> str:
    """Any other transition, by xfade over just the overlapping frames.

    xfade has no 4:2:0 mode in ffmpeg 5.1: both sides are converted to 4:4:4 and
    back, and those conversions keep about 21 MB of frame buffers per transition
    to the end of the render. (Sharing one conversion between transitions was
    tried: a converted lane must see the next transition's first frame before it
    can end this one's piece, which drags a whole segment body into memory.)
    """
    return f"[{tail}][{head}]xfade=transition={name}:duration={_t(frames / fps)}:offset=0,format=yuv420p[{tag}]"


def _cut_segment(i: int, timing: SegmentTiming, outgoing: int, parts: list[str]) -> tuple[str, str, str]:
    """Labels of segment i's head, body and tail ("" when empty); appends the segment filter if needed."""
    sizes = {"h": timing.overlap, "b": timing.frames - timing.overlap - outgoing, "t": outgoing}
    kept = [name for name, size in sizes.items() if size > 0]
    if kept == ["b"]:
        return "", f"s{i}", ""
    bounds, at = [], 0
    for name in kept[:-1]:
        at += sizes[name]
        bounds.append(str(at))
    labels = {name: f"s{i}{name}" for name in kept}
    if len(kept) == 1:
        # Only a head, or only a tail: the whole segment is that piece.
        labels = {kept[0]: f"s{i}"}
    else:
        parts.append(f"[s{i}]segment=frames={'|'.join(bounds)}" + "".join(f"[{labels[n]}]" for n in kept))
    return labels.get("h", ""), labels.get("b", ""), labels.get("t", "")


def _finish_video(plan: Plan, style: Style, src: str, dst: str) -> str:
    if is_neutral(style.grade):
        return f"[{src}]format=yuv420p[{dst}]"
    graded = f"{dst}_graded"
    return ";".join(
        [
            grade_graph(style.grade, src, graded, width=plan.width, height=plan.height, fps=plan.fps),
            f"[{graded}]format=yuv420p[{dst}]",
        ]
    )


# ---------------------------------------------------------------- audio


def _audio_graph(
    plan: Plan, audio: AudioTreatment, timings: tuple[SegmentTiming, ...], inputs: _Inputs, dst: str
) -> str:
    """Music, loudness-normalised, with the clips' own sound under it if the style asks, faded, cut to the picture."""
    samples = round(output_duration(plan) * SAMPLE_RATE)
    seconds = samples / SAMPLE_RATE
    shape = [f for f in (_lowpass(audio), _bass(audio)) if f]
    music = [
        _STEREO_48K, f"atrim=end_sample={samples}", "asetpts=PTS-STARTPTS", *shape,
        *_level(plan, audio),
        _STEREO_48K,
        f"apad=whole_len={samples}",
    ]
    parts = [_chain(f"{inputs.music}:a", music, "music")]
    mixed = "music"
    if inputs.sound:
        parts.append(_clip_track(plan, timings, inputs, audio.clip_volume, "clips"))
        # The clips' sound goes under the already-normalised music (so the look-ahead
        # of loudnorm never pulls clip sound early); a limiter keeps the sum's peaks in.
        parts.append(
            f"[music][clips]amix=inputs=2:normalize=0:duration=first,"
            f"alimiter=limit={_n(10 ** (TRUE_PEAK_DB / 20))}:level=0[mixed]"
        )
        mixed = "mixed"
    finish: list[str] = []
    if audio.fade_in > 0:
        finish.append(f"afade=t=in:st=0:d={_t(min(audio.fade_in, seconds))}")
    if audio.fade_out > 0:
        fade = min(audio.fade_out, seconds)
        finish.append(f"afade=t=out:st={_t(seconds - fade)}:d={_t(fade)}")
    finish += [f"apad=whole_len={samples}", f"atrim=end_sample={samples}", "asetpts=PTS-STARTPTS"]
    parts.append(_chain(mixed, finish, dst))
    return ";".join(parts)


def _level(plan: Plan, audio: AudioTreatment) -> list[str]:
    """Filters bringing the music to the style's loudness: the measured gain and a peak limiter."""
    if plan.music_gain_db is not None:
        return [f"volume={_n(plan.music_gain_db)}dB", f"alimiter=limit={_n(10 ** (TRUE_PEAK_DB / 20))}:level=0"]
    # Not measured: loudnorm levels it in one pass (and holds about 50 MB doing so).
    return [
        f"loudnorm=I={_n(audio.loudness)}:TP={_n(TRUE_PEAK_DB)}:LRA={LOUDNESS_RANGE}",
        # loudnorm works at 192 kHz and hands out its 3 s look-ahead as single huge
        # frames; resampling those costs about 55 MB, in 0.1 s pieces almost nothing.
        "asetnsamples=n=19200:p=0",
        f"aresample={SAMPLE_RATE}",
    ]


def _clip_track(plan: Plan, timings: tuple[SegmentTiming, ...], inputs: _Inputs, volume: float, dst: str) -> str:
    """The clips' own sound as one track: each segment's sound from its cut to the next, in order.

    Cutting the sound at the perceived cut (the middle of a transition) and
    concatenating keeps it in step with the pictures, so nothing is read early.
    Photos and silent clips contribute silence.
    """
    cuts = [0] + [t.first_frame + t.overlap // 2 for t in timings[1:]] + [output_frames(plan)]
    edges = [round(c / plan.fps * SAMPLE_RATE) for c in cuts]
    sources = {i: (index, run) for index, run in inputs.runs for i in run.segments}
    splits: dict[int, list[str]] = {}  # sound input -> its per-segment labels
    pieces: list[str] = []
    parts: list[str] = []
    for i, seg in enumerate(plan.segments):
        length = edges[i + 1] - edges[i]
        label = f"c{i}"
        pieces.append(label)
        index, run = sources.get(i, (-1, None))
        if run is None or index not in inputs.sound:
            parts.append(f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={length}[{label}]")
            continue
        copy = f"a{inputs.sound[index]}c{i}"
        splits.setdefault(inputs.sound[index], []).append(copy)
        start = _span(plan, run, i)[0] + (cuts[i] - timings[i].first_frame) / plan.fps * seg.speed
        parts.append(_chain(copy, _clip_sound(seg.speed, start, length), label))
    for index, copies in splits.items():
        parts.append(_chain(f"{index}:a", [_STEREO_48K, f"asplit={len(copies)}"], _labels(copies)))
    inputs_text = "".join(f"[{p}]" for p in pieces)
    parts.append(f"{inputs_text}concat=n={len(pieces)}:v=0:a=1,volume={_n(volume)}[{dst}]")
    return ";".join(parts)


def _clip_sound(speed: float, start: float, samples: int) -> list[str]:
    """Filters cutting `samples` of a clip's sound from `start` (input seconds), retimed like its picture."""
    fade = _t(min(_CLIP_FADE, samples / SAMPLE_RATE / 2))
    seconds = samples / SAMPLE_RATE
    return [
        f"atrim=start={_t(start)}",
        "asetpts=PTS-STARTPTS",
        *([f"atempo={_n(speed)}"] if speed != 1 else []),
        f"apad=whole_len={samples}",
        f"atrim=end_sample={samples}",
        # Short fades at both ends: a cut in the middle of a waveform clicks.
        f"afade=t=in:st=0:d={fade}",
        f"afade=t=out:st={_t(max(0.0, seconds - float(fade)))}:d={fade}",
    ]


def _lowpass(audio: AudioTreatment) -> str:
    return f"lowpass=f={audio.lowpass_hz}" if audio.lowpass_hz > 0 else ""


def _bass(audio: AudioTreatment) -> str:
    return f"bass=g={_n(audio.bass_gain_db)}:f=100" if audio.bass_gain_db else ""


# ---------------------------------------------------------------- text helpers


def _chain(src: str, filters: list[str], dst: str) -> str:
    return f"[{src}]{','.join(filters) or 'null'}[{dst}]"


def _labels(names: list[str]) -> str:
    """Several output labels as one `dst` for _chain (which adds the outer brackets)."""
    return "][".join(names)


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _n(value: float) -> str:
    """A number for filter text: up to 6 decimals, no exponent."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _t(seconds: float) -> str:
    """A time for an option value, in seconds with microsecond precision."""
    return f"{seconds:.6f}"
