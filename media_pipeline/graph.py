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
  the overlapping frames (the tail of one segment and the head of the next),
  drawn by one shared filter per kind of transition (see join.py);
- the colour grade, once, on the joined stream (see grade.py); a letterboxing
  style's colour filters run on each picture before its bars instead, so the
  bars stay black;
- music loudness-normalised (with the clips' sound mixed under it for some
  styles), faded, and cut to exactly the picture's length.

Timing works in whole output frames (timing.py); joining, in join.py.

Costs measured on the benchmark (see benchmarks/README.md) shaped most choices
here; the comments next to them give the numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from . import ffmpeg
from . import filtertext as ft
from .facts import MediaInfo
from .geometry import crop_share, display_aspect
from .grade import grade_graph, is_neutral, picture_filters
from .hdr import tone_map_filters
from .join import TRANSITIONS, join_graph
from .loudness import TRUE_PEAK_DB
from .plan import BLUR, CUT, FILL, LETTERBOX, Motion, Plan, Segment
from .style import AudioTreatment, Style, get_style

# frame_count, output_duration and segment_timings are re-exported: callers know them as graph's.
from .timing import SegmentTiming, frame_count, output_duration, output_frames, segment_timings  # noqa: F401

# The output spec: H.264 High at 5-8 Mb/s, AAC stereo 48 kHz.
X264_PRESET = "veryfast"
VIDEO_BITRATE = "6M"
VIDEO_MAXRATE = "8M"
VIDEO_BUFSIZE = "12M"
# x264 keeps every look-ahead frame at full size with its analysis planes: half
# of veryfast's 10 saves about 35 MB, with the same SSIM and speed on the benchmark.
X264_LOOKAHEAD = 5
# No B-frame pyramid: a referenced B-frame costs every frame thread another full
# picture, 23 MB at 1080x1920, for 0.2-0.3 dB (SSIM 0.9971 against 0.9972 on a real
# edit at 6 Mb/s) and no speed.
X264_PARAMS = f"rc-lookahead={X264_LOOKAHEAD}:b-pyramid=none"
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


def encoder_args(fps: int) -> list[str]:
    """Video encoder options for the output spec (shared with the benchmark's baseline)."""
    return [
        "-c:v", "libx264", "-preset", X264_PRESET, "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", VIDEO_BITRATE, "-maxrate", VIDEO_MAXRATE, "-bufsize", VIDEO_BUFSIZE,
        "-x264-params", f"{X264_PARAMS}:threads={_encoder_threads()}",
        "-r", str(fps), "-fps_mode", "cfr",
    ]


def _encoder_threads() -> int:
    # x264's default is 1.5 frame threads per core, each holding its own frames
    # (about 23 MB apiece at 1080x1920); one per core the process may use encodes
    # as fast here, with the filter graph busy on the same cores.
    return max(1, len(os.sched_getaffinity(0)))


def audio_encoder_args() -> list[str]:
    """Audio encoder options: AAC stereo 48 kHz."""
    return ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(SAMPLE_RATE), "-ac", "2"]


@dataclass(frozen=True)
class Tap:
    """A second output of the render: some of the finished frames, through `filters`, written raw to `path`.

    The sync check (sync.py) gets the few small grey frames it looks at this way:
    decoding them from the MP4 afterwards would cost about a whole decode of it.
    """

    filters: str  # e.g. "select='between(n,10,20)',scale=64:114:flags=area,format=gray"
    path: str


def build_command(
    plan: Plan, output_path: str, *, style: Style | None = None, tap: Tap | None = None
) -> list[str]:
    """The full ffmpeg argument list (binary first) that renders `plan` to `output_path` as MP4."""
    style = style or get_style(plan.style)
    _check_plan(plan)
    timings = segment_timings(plan)
    inputs = _Inputs.for_plan(plan, with_clip_audio=style.audio.clip_volume > 0)
    picture = _picture_grade(plan, style)
    finished = "vfinished" if tap else "vout"
    graph = ";".join(
        [
            *_segment_graphs(plan, timings, inputs, picture),
            join_graph(plan, timings, "joined"),
            _finish_video(plan, style, "joined", finished, pictures_graded=bool(picture)),
            *([f"[{finished}]split=2[vout][vtap_in]", ft.chain("vtap_in", [tap.filters], "vtap")] if tap else []),
            _audio_graph(plan, style.audio, timings, inputs, "aout"),
        ]
    )
    # The tap keeps only the frames its filters pass, numbered as the video's: no frame rate of its own.
    tap_output = ["-map", "[vtap]", "-fps_mode", "passthrough", "-f", "rawvideo", tap.path] if tap else []
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
        *tap_output,
    ]


def _check_plan(plan: Plan) -> None:
    for i, seg in enumerate(plan.segments):
        if not 0 <= seg.visual < len(plan.visuals):
            raise ValueError(f"segment {i} uses visual {seg.visual}, which the plan does not have")
        if seg.transition != CUT and seg.transition not in TRANSITIONS:
            raise ValueError(f"segment {i} has an unknown transition {seg.transition!r}")
        if seg.speed <= 0:
            raise ValueError(f"segment {i} has a speed of {seg.speed}")
        if not (0 <= seg.focus_x <= 1 and 0 <= seg.focus_y <= 1):
            raise ValueError(f"segment {i} is framed outside its picture ({seg.focus_x}, {seg.focus_y})")


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
        "-ss", ft.time(max(0.0, start)), "-t", ft.time(seconds), *skip,
        *ffmpeg.safe_input_args(formats), "-i", path,
    ]


# ---------------------------------------------------------------- segments


def _segment_graphs(
    plan: Plan, timings: tuple[SegmentTiming, ...], inputs: _Inputs, picture: list[str]
) -> list[str]:
    """One subgraph per video run and per photo; segment i's frames end in the label s<i>.

    picture: colour filters for each picture before it is framed (see _picture_grade).
    """
    parts = [_run_graph(plan, run, index, timings, picture) for index, run in inputs.runs]
    for visual, index in inputs.photo.items():
        parts += _photo_segments(plan, visual, index, timings, picture)
    return parts


def _picture_grade(plan: Plan, style: Style) -> list[str]:
    """The grade's colour filters when they must run on each picture before its letterbox bars are added.

    Graded after the join, the bars would take the grade's tint and lifted black
    (vintage's curves lift black towards purple); graded before, they stay black,
    and fewer pixels are graded. Vignette and grain stay on the whole frame.
    """
    if all(seg.reframe == LETTERBOX for seg in plan.segments):
        return picture_filters(style.grade)
    return []


def _run_graph(plan: Plan, run: _Run, index: int, timings: tuple[SegmentTiming, ...], picture: list[str]) -> str:
    """Decode once, keep only frames some segment uses, reframe them once, then cut each segment out.

    Reframing before the split means one scaler (and one set of frame buffers)
    per input rather than per segment; frames between segments are dropped
    before they are scaled.
    """
    first = plan.segments[run.segments[0]]
    info = plan.visuals[run.visual]
    slowest = min(plan.segments[i].speed for i in run.segments)
    head = [f"fps={ft.num(plan.fps / slowest)}"]  # slow motion needs the source's extra frames
    spans = [_span(plan, run, i) for i in run.segments]
    if len(spans) > 1:
        keep = "+".join(f"between(t,{ft.num(a)},{ft.num(b)})" for a, b in spans)
        head.append(f"select='{keep}'")
    # An HDR clip is tone-mapped after select (frames no segment uses are skipped), and
    # after the reframe's scale when that leaves fewer pixels: the mapping costs per pixel.
    if _shrinks(first.reframe, info, plan.width, plan.height):
        picture = [*tone_map_filters(info, keep_depth=True), *picture]
    else:
        head += tone_map_filters(info)
    copies = [f"v{index}c{i}" for i in run.segments]
    parts = [
        _reframe(
            first.reframe, info, plan.width, plan.height,
            src=f"{index}:v", head=head,
            tail=["format=yuv420p", "setsar=1", _HOLD_LAST_FRAME, f"split={len(copies)}"],
            dst=ft.labels(copies), tag=f"r{index}", flags=VIDEO_SCALE_FLAGS, picture=picture,
            focus=_focus([plan.segments[i] for i in run.segments], [a for a, _ in spans], info, plan.width, plan.height),
        )
    ]
    # At normal speed the head's fps filter already gives the output's frame grid.
    on_grid = slowest == 1
    for copy, i, (a, b) in zip(copies, run.segments, spans):
        parts.append(ft.chain(copy, _segment_frames(plan, i, timings[i], a, b, on_grid=on_grid), f"s{i}"))
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
    retime = "setpts=PTS-STARTPTS" if seg.speed == 1 else f"setpts=(PTS-STARTPTS)/{ft.num(seg.speed)}"
    cut = f"trim=start={ft.time(start)}:end={ft.time(end)}" if start > 0 else f"trim=end={ft.time(end)}"
    return [
        cut,
        retime,
        *([] if on_grid and seg.speed == 1 else [f"fps={plan.fps}"]),
        f"trim=end_frame={timing.frames}",
        *_segment_tail(plan.fps),
    ]


def _segment_tail(fps: int) -> list[str]:
    # What the join (concat, blend, xfade, ...) needs from every segment: same format, square pixels,
    # one timebase, timestamps counting frames from zero.
    return ["format=yuv420p", "setsar=1", f"settb=1/{fps}", "setpts=N"]


def _photo_segments(
    plan: Plan, visual: int, index: int, timings: tuple[SegmentTiming, ...], picture: list[str]
) -> list[str]:
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
    parts = [ft.chain(f"{index}:v", ["trim=end_frame=1", f"split={len(modes)}"], ft.labels(firsts))]
    for m, mode in enumerate(modes):
        group = [i for i in used if plan.segments[i].reframe == mode]
        zoom = max([1.0] + [_max_zoom(plan.segments[i]) for i in group])
        moving = any(plan.segments[i].motion is not None for i in group)
        scale = zoom * PHOTO_SUPERSAMPLE if moving else 1.0
        # Letterboxed, the photo moves inside fixed bars, as a film frame would; the
        # composition is the picture alone, and zoompan makes only its pixels.
        fit = _fit_size(info, plan.width, plan.height)
        boxed = moving and mode == LETTERBOX and fit != (plan.width, plan.height)
        shown = fit if boxed else (plan.width, plan.height)
        width, height = ft.even(shown[0] * scale), ft.even(shown[1] * scale)
        frames = [timings[i].frames for i in group]
        if moving:
            make = [
                _ken_burns([plan.segments[i] for i in group], frames, plan, size=shown),
                f"trim=end_frame={sum(frames)}",
            ]
            if boxed:
                x, y = (plan.width - shown[0]) // 2, (plan.height - shown[1]) // 2
                make.append(f"pad={plan.width}:{plan.height}:{x}:{y}:black")
        else:
            # Repeat the one composed frame: nothing is computed per frame.
            make = [f"loop=loop={sum(frames) - 1}:size=1"]
        pieces = [f"p{visual}c{m}s{i}" for i in group]
        split = f"segment=frames={'|'.join(str(b) for b in _cumulative(frames)[:-1])}" if len(group) > 1 else "null"
        parts.append(
            _reframe(
                FILL if boxed else mode, info, width, height,
                src=f"p{visual}m{m}", head=[],
                tail=["format=yuv420p", "setsar=1", *make, f"settb=1/{plan.fps}", "setpts=N", split],
                dst=ft.labels(pieces), tag=f"q{visual}m{m}", flags=PHOTO_SCALE_FLAGS, picture=picture,
                focus=_focus([plan.segments[group[0]]], [0.0], info, width, height),  # one picture: one focus
            )
        )
        parts += [ft.chain(piece, _segment_tail(plan.fps), f"s{i}") for piece, i in zip(pieces, group)]
    return parts


def _cumulative(values: list[int]) -> list[int]:
    totals, running = [], 0
    for value in values:
        running += value
        totals.append(running)
    return totals


def _max_zoom(seg: Segment) -> float:
    return max(seg.motion.zoom_from, seg.motion.zoom_to) if seg.motion else 1.0


def _ken_burns(segments: list[Segment], frames: list[int], plan: Plan, *, size: tuple[int, int]) -> str:
    """One zoompan making every segment's move in turn: each expression is piecewise over the output frame `on`.

    zoompan crops iw/zoom x ih/zoom around the moving centre and scales it to
    `size`, once per output frame. A segment without motion holds the whole
    composition still.
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
        return ft.num(a) if a == b else f"({ft.num(a)}+{ft.num(b - a)}*{progress})"

    zoom = piecewise(lambda m, p: f"max(1,{lerp(m.zoom_from, m.zoom_to, p)})")
    x = piecewise(lambda m, p: f"max(0,min(iw-iw/zoom,{lerp(m.x_from, m.x_to, p)}*iw-iw/zoom/2))")
    y = piecewise(lambda m, p: f"max(0,min(ih-ih/zoom,{lerp(m.y_from, m.y_to, p)}*ih-ih/zoom/2))")
    return f"zoompan=z='{zoom}':x='{x}':y='{y}':d={sum(frames)}:s={size[0]}x{size[1]}:fps={plan.fps}"


# ---------------------------------------------------------------- reframing


def _reframe(
    mode: str, info: MediaInfo, width: int, height: int, *,
    src: str, head: list[str], tail: list[str], dst: str, tag: str, flags: str, picture: list[str], focus: str = "",
) -> str:
    """Graph text from [src] to [dst]: head filters, the picture fitted to width x height, tail filters.

    Sizes come from the display dimensions in MediaInfo (rotation and pixel
    aspect applied), so a rotated or anamorphic source keeps its shape; the
    explicit scale sizes make square pixels whatever the stored pixel shape.
    picture: filters for the scaled picture itself, before any bars are added.
    """
    fit = _fit_size(info, width, height)
    if mode == FILL or fit == (width, height):
        return ft.chain(src, [*head, *_cover(info, width, height, flags, focus), *picture, *tail], dst)
    if mode == LETTERBOX:
        x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
        scale = f"scale={fit[0]}:{fit[1]}:flags={flags}"
        return ft.chain(src, [*head, scale, *picture, f"pad={width}:{height}:{x}:{y}:black", *tail], dst)
    if mode == BLUR:
        return _blurred_fit(
            info, width, height, fit, src=src, head=head, tail=tail, dst=dst, tag=tag, flags=flags, picture=picture
        )
    raise ValueError(f"unknown reframe mode {mode!r}")


def _shrinks(mode: str, info: MediaInfo, width: int, height: int) -> bool:
    """True when reframing to width x height leaves fewer pixels of the picture than the source has."""
    fit = _fit_size(info, width, height)
    shown = width * height if mode == FILL or fit == (width, height) else fit[0] * fit[1]
    return shown < info.width * info.height


def _cover(info: MediaInfo, width: int, height: int, flags: str, focus: str = "") -> list[str]:
    """Crop to the output's shape, then scale: cheaper than scaling up and cropping.

    focus: where the crop is centred along the axis it cuts, as an expression of
    the frame time giving a fraction of the picture (see _focus); "" for the middle.
    """
    axis, share = crop_share(info, width, height)
    crop: list[str] = []
    if axis == "x":
        at = f":x='max(0,min(iw-ow,({focus})*iw-ow/2))'" if focus else ""
        crop = [f"crop=w=trunc(iw*{ft.num(share)}/2)*2:h=ih{at}"]
    elif axis == "y":
        at = f":y='max(0,min(ih-oh,({focus})*ih-oh/2))'" if focus else ""
        crop = [f"crop=w=iw:h=trunc(ih*{ft.num(share)}/2)*2{at}"]
    return [*crop, f"scale={width}:{height}:flags={flags}"]


def _focus(segments: list[Segment], starts: list[float], info: MediaInfo, width: int, height: int) -> str:
    """The fill crop's centre as a piecewise expression of t: each segment's focus from its footage's start.

    "" when every segment is centred, so the graph stays as it was.
    """
    axis, _ = crop_share(info, width, height)
    values = [seg.focus_x if axis == "x" else seg.focus_y for seg in segments]
    if all(abs(v - 0.5) < 1e-6 for v in values):
        return ""
    text = ft.num(values[-1])
    for start, value in zip(reversed(starts[1:]), reversed(values[:-1])):
        text = f"if(lt(t,{ft.num(start)}),{ft.num(value)},{text})"
    return text


def _blurred_fit(
    info: MediaInfo, width: int, height: int, fit: tuple[int, int], *,
    src: str, head: list[str], tail: list[str], dst: str, tag: str, flags: str, picture: list[str],
) -> str:
    # The background is cut from the already-shrunk foreground, blurred at 1/8
    # size and scaled up: the source frame is scaled only once.
    small_w = ft.even(width / BLUR_DOWNSCALE)
    small_h = ft.even(height / BLUR_DOWNSCALE)
    radius = max(1, min(small_w, small_h) // 10)
    x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
    background = [
        *_cover(info, small_w, small_h, "fast_bilinear"),
        f"boxblur=luma_radius={radius}:luma_power=2",
        f"eq=brightness={ft.num(BLUR_DARKEN)}:saturation={ft.num(BLUR_SATURATION)}",
        f"scale={width}:{height}:flags=fast_bilinear",
    ]
    return ";".join(
        [
            ft.chain(
                src, [*head, f"scale={fit[0]}:{fit[1]}:flags={flags}", *picture, "setsar=1", "split"],
                ft.labels([f"{tag}f", f"{tag}b"]),
            ),
            ft.chain(f"{tag}b", background, f"{tag}bg"),
            f"[{tag}bg][{tag}f]overlay=x={x}:y={y}:shortest=1:{ft.NO_REPEAT},"
            + ",".join(["setsar=1", *tail])
            + f"[{dst}]",
        ]
    )


def _fit_size(info: MediaInfo, width: int, height: int) -> tuple[int, int]:
    """The largest even size with the source's shape that fits in width x height."""
    aspect = display_aspect(info, width, height)
    if aspect >= width / height:
        return width, min(height, ft.even(width / aspect))
    return min(width, ft.even(height * aspect)), height


# ---------------------------------------------------------------- finishing


def _finish_video(plan: Plan, style: Style, src: str, dst: str, *, pictures_graded: bool) -> str:
    if is_neutral(style.grade):
        return f"[{src}]format=yuv420p[{dst}]"
    graded = f"{dst}_graded"
    return ";".join(
        [
            grade_graph(
                style.grade, src, graded,
                width=plan.width, height=plan.height, fps=plan.fps, pictures_graded=pictures_graded,
            ),
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
    parts = [ft.chain(f"{inputs.music}:a", music, "music")]
    mixed = "music"
    if inputs.sound:
        parts.append(_clip_track(plan, timings, inputs, audio.clip_volume, "clips"))
        # The clips' sound goes under the already-normalised music (so the look-ahead
        # of loudnorm never pulls clip sound early); a limiter keeps the sum's peaks in.
        parts.append(
            f"[music][clips]amix=inputs=2:normalize=0:duration=first,"
            f"alimiter=limit={ft.num(10 ** (TRUE_PEAK_DB / 20))}:level=0[mixed]"
        )
        mixed = "mixed"
    finish: list[str] = []
    if audio.fade_in > 0:
        finish.append(f"afade=t=in:st=0:d={ft.time(min(audio.fade_in, seconds))}")
    if audio.fade_out > 0:
        fade = min(audio.fade_out, seconds)
        finish.append(f"afade=t=out:st={ft.time(seconds - fade)}:d={ft.time(fade)}")
    finish += [f"apad=whole_len={samples}", f"atrim=end_sample={samples}", "asetpts=PTS-STARTPTS"]
    parts.append(ft.chain(mixed, finish, dst))
    return ";".join(parts)


def _level(plan: Plan, audio: AudioTreatment) -> list[str]:
    """Filters bringing the music to the style's loudness: the measured gain and a peak limiter."""
    if plan.music_gain_db is not None:
        return [f"volume={ft.num(plan.music_gain_db)}dB", f"alimiter=limit={ft.num(10 ** (TRUE_PEAK_DB / 20))}:level=0"]
    # Not measured: loudnorm levels it in one pass (and holds about 50 MB doing so).
    return [
        f"loudnorm=I={ft.num(audio.loudness)}:TP={ft.num(TRUE_PEAK_DB)}:LRA={LOUDNESS_RANGE}",
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
        parts.append(ft.chain(copy, _clip_sound(seg.speed, start, length), label))
    for index, copies in splits.items():
        parts.append(ft.chain(f"{index}:a", [_STEREO_48K, f"asplit={len(copies)}"], ft.labels(copies)))
    inputs_text = "".join(f"[{p}]" for p in pieces)
    parts.append(f"{inputs_text}concat=n={len(pieces)}:v=0:a=1,volume={ft.num(volume)}[{dst}]")
    return ";".join(parts)


def _clip_sound(speed: float, start: float, samples: int) -> list[str]:
    """Filters cutting `samples` of a clip's sound from `start` (input seconds), retimed like its picture."""
    fade = ft.time(min(_CLIP_FADE, samples / SAMPLE_RATE / 2))
    seconds = samples / SAMPLE_RATE
    return [
        f"atrim=start={ft.time(start)}",
        "asetpts=PTS-STARTPTS",
        *([f"atempo={ft.num(speed)}"] if speed != 1 else []),
        f"apad=whole_len={samples}",
        f"atrim=end_sample={samples}",
        # Short fades at both ends: a cut in the middle of a waveform clicks.
        f"afade=t=in:st=0:d={fade}",
        f"afade=t=out:st={ft.time(max(0.0, seconds - float(fade)))}:d={fade}",
    ]


def _lowpass(audio: AudioTreatment) -> str:
    return f"lowpass=f={audio.lowpass_hz}" if audio.lowpass_hz > 0 else ""


def _bass(audio: AudioTreatment) -> str:
    return f"bass=g={ft.num(audio.bass_gain_db)}:f=100" if audio.bass_gain_db else ""
