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

The graph is built from nodes (filtertext.Graph): each step takes streams and
returns streams, and the pad labels are written only when the command is.
Timing works in whole output frames (timing.py); joining, in join.py; what the
output file is, in output.py. Most choices here are about ffmpeg 5.1's memory:
it keeps every filter's and decoder's frame buffers until the render ends, so
the graph opens as few of them as it can (figures: benchmarks/README.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from . import ffmpeg
from . import filtertext as ft
from .facts import MediaInfo
from .filtertext import Stream
from .geometry import crop_share, display_aspect
from .grade import grade_graph, is_neutral, picture_filters
from .hdr import tone_map_filters
from .join import TRANSITIONS, join_segments
from .loudness import TRUE_PEAK_DB
from .output import OUTPUT
from .plan import BLUR, CUT, FILL, LETTERBOX, Motion, Plan, Segment
from .style import AudioTreatment, Style, get_style

# frame_count, output_duration and segment_timings are re-exported: callers know them as graph's.
from .timing import SegmentTiming, frame_count, output_duration, output_frames, segment_timings  # noqa: F401

# x264's tuning: how the file is encoded (what it is, output.py says).
X264_PRESET = "veryfast"
# x264 keeps every look-ahead frame at full size with its analysis planes: half of
# veryfast's 10 costs no quality or speed measurably, and saves memory.
X264_LOOKAHEAD = 5
# No B-frame pyramid: a referenced B-frame costs every frame thread another full
# picture, for a quality gain too small to see at the output's bitrate.
X264_PARAMS = f"rc-lookahead={X264_LOOKAHEAD}:b-pyramid=none"

SAMPLE_RATE = OUTPUT.sample_rate  # the sound is cut and mixed in samples of the output's rate

# loudnorm's loudness range, for plans whose music gain was not measured.
LOUDNESS_RANGE = 11

# Extra source frames decoded past a run's last out point: covers rounding to the
# frame grid and the fps filter's look-ahead, at the cost of a few frames' decoding.
SEEK_MARGIN_FRAMES = 3

# Each video input's decoder runs single-threaded: x264 already keeps both cores
# busy, and every decoder thread holds its own full-size frames.
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

# Every sound is brought to the output's rate and layout before it is mixed.
_SOUND_FORMAT = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts={OUTPUT.channel_layout}"

# Each clip's sound fades in and out over this long at its cuts, so they never click.
_CLIP_FADE = 0.01


# x264's threads share each frame instead of each encoding frames of its own: the render's peak is about
# 46-49 MB lower at the same CPU and quality, but the encode uses 1.2 cores of 2 instead of 1.8, about 40%
# slower (benchmarks/README.md, "Phone footage"). Chosen per render (`low_memory`), off by default.
X264_LOW_MEMORY = "sliced-threads=1"


def encoder_args(fps: int, *, low_memory: bool = False) -> list[str]:
    """Video encoder options for the output spec (shared with the benchmark's baseline)."""
    params = f"{X264_PARAMS}:threads={_encoder_threads()}" + (f":{X264_LOW_MEMORY}" if low_memory else "")
    return [
        *OUTPUT.video_args(), "-preset", X264_PRESET,
        "-x264-params", params,
        "-r", str(fps), "-fps_mode", "cfr",
    ]


def _encoder_threads() -> int:
    # x264's default is 1.5 frame threads per core, each holding its own frames;
    # one per core the process may use encodes as fast here, with the filter graph
    # busy on the same cores.
    return max(1, len(os.sched_getaffinity(0)))


def audio_encoder_args() -> list[str]:
    """Audio encoder options for the output spec."""
    return OUTPUT.audio_args()


@dataclass(frozen=True)
class Tap:
    """A second output of the render: some of the finished frames, through `filters`, written raw to `path`.

    The sync check (sync.py) gets the few small grey frames it looks at this way:
    decoding them from the MP4 afterwards would cost about a whole decode of it.
    """

    filters: str  # e.g. "scale=64:114:flags=area,format=gray"
    path: str


def build_command(
    plan: Plan, output_path: str, *, style: Style | None = None, tap: Tap | None = None, low_memory: bool = False
) -> list[str]:
    """The full ffmpeg argument list (binary first) that renders `plan` to `output_path` as MP4.

    low_memory: x264's sliced threads (X264_LOW_MEMORY), less memory for a slower encode.
    """
    style = style or get_style(plan.style)
    _check_plan(plan)
    timings = segment_timings(plan)
    graph = ft.Graph()
    inputs = _Inputs.open(graph, plan, with_clip_audio=style.audio.clip_volume > 0)
    picture = _picture_grade(plan, style)
    joined = join_segments(plan, timings, _segments(plan, timings, inputs, picture))
    video = _finish_video(plan, style, joined, pictures_graded=bool(picture))
    outputs = {"vout": video}
    tap_output: list[str] = []
    if tap:
        outputs["vout"], tapped = video.fan("split=2", outputs=2)
        outputs["vtap"] = tapped.then(tap.filters)
        # The tap's frames are numbered as the video's: no frame rate of its own.
        tap_output = ["-map", "[vtap]", "-fps_mode", "passthrough", "-f", "rawvideo", tap.path]
    outputs["aout"] = _audio(plan, style.audio, timings, inputs)
    return [
        ffmpeg.FFMPEG, "-y", "-loglevel", "error",
        *graph.input_args(),
        "-filter_complex", graph.text(outputs),
        "-map", "[vout]", "-map", "[aout]",
        # Phone clips carry location and device tags: none of that goes into the edit.
        "-map_metadata", "-1", "-map_chapters", "-1",
        *encoder_args(plan.fps, low_memory=low_memory),
        *audio_encoder_args(),
        *OUTPUT.container_args(), output_path,
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
        ends = (seg.focus_x_to, seg.focus_y_to)
        if not all(0 <= f <= 1 for f in (seg.focus_x, seg.focus_y, *(e for e in ends if e is not None))):
            raise ValueError(f"segment {i} is framed outside its picture ({seg.focus_x}, {seg.focus_y}, to {ends})")


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Run:
    """One seeked input of a video clip, serving one or more of its segments in source order.

    Sharing an input between a clip's segments matters for memory: ffmpeg 5.1
    opens every input's decoder up front and keeps its frame buffers to the end,
    and the planner usually carries on through a clip from where its last
    segment stopped.
    """

    visual: int
    segments: tuple[int, ...]  # in output order, which is also source order
    start: float  # source seconds the input is seeked to
    end: float  # source seconds where the last segment's footage ends


@dataclass(frozen=True)
class _Inputs:
    """The command's inputs, by what they serve."""

    runs: tuple[tuple[ft.Input, _Run], ...]  # the video clips' inputs
    sound: dict[int, ft.Input]  # a run (its place in runs) -> the same window opened for its sound
    photo: dict[int, ft.Input]  # visual index -> its input (each photo decoded once)
    music: ft.Input

    @staticmethod
    def open(graph: ft.Graph, plan: Plan, *, with_clip_audio: bool) -> _Inputs:
        runs = plan_runs(plan)
        video = tuple((_run_input(graph, plan, run, ["-an", "-sn", "-dn", *DECODER_THREADS]), run) for run in runs)
        # A clip's sound is opened as its own input (-vn: its video packets are
        # dropped unread). Reading it from the video input would decode pictures
        # whenever the sound ran ahead, and park them in memory.
        sound = {
            k: _run_input(graph, plan, run, ["-vn", "-sn", "-dn"])
            for k, run in enumerate(runs)
            if with_clip_audio and plan.visuals[run.visual].has_audio
        }
        stills = sorted({seg.visual for seg in plan.segments if plan.visuals[seg.visual].is_still})
        photo = {v: graph.input(plan.visuals[v].path, ffmpeg.safe_input_args(ffmpeg.IMAGE_FORMATS)) for v in stills}
        window = max(plan.music_end - plan.music_start, output_duration(plan))
        # A song's cover art is a video stream: never decode it.
        skip = ["-vn", "-sn", "-dn"]
        music = _seeked_input(graph, plan.music.path, plan.music_start, window + 1.0, ffmpeg.AUDIO_FORMATS, skip)
        return _Inputs(video, sound, photo, music)


def _run_input(graph: ft.Graph, plan: Plan, run: _Run, streams: list[str]) -> ft.Input:
    length = run.end - run.start + SEEK_MARGIN_FRAMES / plan.fps
    return _seeked_input(graph, plan.visuals[run.visual].path, run.start, length, ffmpeg.VIDEO_FORMATS, streams)


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


def _seeked_input(
    graph: ft.Graph, path: str, start: float, seconds: float, formats: str, skip: list[str]
) -> ft.Input:
    # -ss/-t before -i: the demuxer seeks and ffmpeg trims exactly, decoding only this
    # window; `skip` drops the streams this input is not used for.
    options = ["-ss", ft.time(max(0.0, start)), "-t", ft.time(seconds), *skip, *ffmpeg.safe_input_args(formats)]
    return graph.input(path, options)


# ---------------------------------------------------------------- segments


def _segments(
    plan: Plan, timings: tuple[SegmentTiming, ...], inputs: _Inputs, picture: list[str]
) -> list[Stream]:
    """Every segment's frames, in output order, made per video run and per photo.

    picture: colour filters for each picture before it is framed (see _picture_grade).
    """
    made: dict[int, Stream] = {}
    for opened, run in inputs.runs:
        made.update(_run_segments(plan, run, opened.video, timings, picture))
    for visual, opened in inputs.photo.items():
        made.update(_photo_segments(plan, visual, opened.video, timings, picture))
    return [made[i] for i in range(len(plan.segments))]


def _picture_grade(plan: Plan, style: Style) -> list[str]:
    """The grade's colour filters when they must run on each picture before its letterbox bars are added.

    Graded after the join, the bars would take the grade's tint and lifted black
    (vintage's curves lift black towards purple); graded before, they stay black,
    and fewer pixels are graded. Vignette and grain stay on the whole frame.
    """
    if all(seg.reframe == LETTERBOX for seg in plan.segments):
        return picture_filters(style.grade)
    return []


def _run_segments(
    plan: Plan, run: _Run, source: Stream, timings: tuple[SegmentTiming, ...], picture: list[str]
) -> dict[int, Stream]:
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
        head.append(ft.f("select", "+".join(f"between(t,{ft.num(a)},{ft.num(b)})" for a, b in spans)))
    # An HDR clip is tone-mapped after select (frames no segment uses are skipped), and
    # after the reframe's scale when that leaves fewer pixels: the mapping costs per pixel.
    if _shrinks(first.reframe, info, plan.width, plan.height):
        picture = [*tone_map_filters(info, keep_depth=True), *picture]
    else:
        head += tone_map_filters(info)
    focus = _focus([plan.segments[i] for i in run.segments], spans, info, plan.width, plan.height)
    framed = _reframe(
        first.reframe, info, plan.width, plan.height, source.then(*head),
        flags=VIDEO_SCALE_FLAGS, picture=picture, focus=focus,
    )
    copies = framed.then("format=yuv420p", "setsar=1", _HOLD_LAST_FRAME).copies(len(run.segments))
    # At normal speed the head's fps filter already gives the output's frame grid.
    on_grid = slowest == 1
    return {
        i: copy.then(*_segment_frames(plan, i, timings[i], a, b, on_grid=on_grid))
        for copy, i, (a, b) in zip(copies, run.segments, spans)
    }


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
    its input end, and ffmpeg 5.1's fps then keeps its one or two buffered frames
    to the end of the render, for every segment.
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
    plan: Plan, visual: int, source: Stream, timings: tuple[SegmentTiming, ...], picture: list[str]
) -> dict[int, Stream]:
    """The photo's composition is built once per reframe mode; one zoompan (or loop) makes all its segments.

    One filter per photo and mode, not per segment, matters for memory: ffmpeg
    5.1 keeps each zoompan's frame buffers until the render ends. The frames come
    out in output order and a segment filter deals them to the segments, each
    taking them only when the join reaches it.
    """
    info = plan.visuals[visual]
    used = [i for i, seg in enumerate(plan.segments) if seg.visual == visual]
    modes = sorted({plan.segments[i].reframe for i in used})
    # trim=end_frame=1: an animated image contributes its first frame only.
    firsts = source.then("trim=end_frame=1").copies(len(modes))
    made: dict[int, Stream] = {}
    for first, mode in zip(firsts, modes):
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
        framed = _reframe(
            FILL if boxed else mode, info, width, height, first, flags=PHOTO_SCALE_FLAGS, picture=picture,
            focus=_focus([plan.segments[group[0]]], [(0.0, 0.0)], info, width, height),  # one picture: one focus
        )
        composed = framed.then("format=yuv420p", "setsar=1", *make, f"settb=1/{plan.fps}", "setpts=N")
        bounds = "|".join(str(b) for b in accumulate(frames[:-1]))
        pieces = composed.fan(f"segment=frames={bounds}", outputs=len(group)) if len(group) > 1 else [composed]
        made.update((i, piece.then(*_segment_tail(plan.fps))) for piece, i in zip(pieces, group))
    return made


def _max_zoom(seg: Segment) -> float:
    return max(seg.motion.zoom_from, seg.motion.zoom_to) if seg.motion else 1.0


def _ken_burns(segments: list[Segment], frames: list[int], plan: Plan, *, size: tuple[int, int]) -> str:
    """One zoompan making every segment's move in turn: each expression is piecewise over the output frame `on`.

    zoompan crops iw/zoom x ih/zoom around the moving centre and scales it to
    `size`, once per output frame. A segment without motion holds the whole
    composition still.
    """
    starts = [0, *accumulate(frames[:-1])]
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
    return ft.f("zoompan", z=zoom, x=x, y=y, d=sum(frames), s=f"{size[0]}x{size[1]}", fps=plan.fps)


# ---------------------------------------------------------------- reframing


def _reframe(
    mode: str, info: MediaInfo, width: int, height: int, source: Stream, *,
    flags: str, picture: list[str], focus: str = "",
) -> Stream:
    """The picture fitted to width x height.

    Sizes come from the display dimensions in MediaInfo (rotation and pixel
    aspect applied), so a rotated or anamorphic source keeps its shape; the
    explicit scale sizes make square pixels whatever the stored pixel shape.
    picture: filters for the scaled picture itself, before any bars are added.
    """
    fit = _fit_size(info, width, height)
    if mode == FILL or fit == (width, height):
        return source.then(*_cover(info, width, height, flags, focus), *picture)
    if mode == LETTERBOX:
        x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
        return source.then(f"scale={fit[0]}:{fit[1]}:flags={flags}", *picture, f"pad={width}:{height}:{x}:{y}:black")
    if mode == BLUR:
        return _blurred_fit(info, width, height, fit, source, flags=flags, picture=picture)
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
        at = {"x": f"max(0,min(iw-ow,({focus})*iw-ow/2))"} if focus else {}
        crop = [ft.f("crop", w=f"trunc(iw*{ft.num(share)}/2)*2", h="ih", **at)]
    elif axis == "y":
        at = {"y": f"max(0,min(ih-oh,({focus})*ih-oh/2))"} if focus else {}
        crop = [ft.f("crop", w="iw", h=f"trunc(ih*{ft.num(share)}/2)*2", **at)]
    return [*crop, f"scale={width}:{height}:flags={flags}"]


def _focus(
    segments: list[Segment], spans: list[tuple[float, float]], info: MediaInfo, width: int, height: int
) -> str:
    """The fill crop's centre as a piecewise expression of t: each segment's focus from its footage's start.

    spans: each segment's footage (start, end) in the input's time. A segment whose crop follows
    someone (focus_x_to / focus_y_to) moves evenly from its focus to that over its span.
    "" when every segment is centred, so the graph stays as it was.
    """
    axis, _ = crop_share(info, width, height)
    values = [_centre_over(seg, axis, span) for seg, span in zip(segments, spans)]
    if all(v == ft.num(0.5) for v in values):
        return ""
    text = values[-1]
    for (start, _), value in zip(reversed(spans[1:]), reversed(values[:-1])):
        text = f"if(lt(t,{ft.num(start)}),{value},{text})"
    return text


def _centre_over(seg: Segment, axis: str, span: tuple[float, float]) -> str:
    """One segment's crop centre: a number, or an even move over its span when it follows someone."""
    start, end = (seg.focus_x, seg.focus_x_to) if axis == "x" else (seg.focus_y, seg.focus_y_to)
    if end is None or abs(end - start) < 1e-4 or span[1] <= span[0]:
        return ft.num(start)
    return f"{ft.num(start)}+{ft.num(end - start)}*clip((t-{ft.num(span[0])})/{ft.num(span[1] - span[0])},0,1)"


def _blurred_fit(
    info: MediaInfo, width: int, height: int, fit: tuple[int, int], source: Stream, *, flags: str, picture: list[str]
) -> Stream:
    # The background is cut from the already-shrunk foreground, blurred at 1/8
    # size and scaled up: the source frame is scaled only once.
    small_w = ft.even(width / BLUR_DOWNSCALE)
    small_h = ft.even(height / BLUR_DOWNSCALE)
    radius = max(1, min(small_w, small_h) // 10)
    x, y = (width - fit[0]) // 2, (height - fit[1]) // 2
    front, back = source.fan(f"scale={fit[0]}:{fit[1]}:flags={flags}", *picture, "setsar=1", "split", outputs=2)
    background = back.then(
        *_cover(info, small_w, small_h, "fast_bilinear"),
        f"boxblur=luma_radius={radius}:luma_power=2",
        f"eq=brightness={ft.num(BLUR_DARKEN)}:saturation={ft.num(BLUR_SATURATION)}",
        f"scale={width}:{height}:flags=fast_bilinear",
    )
    return source.graph.join([background, front], ft.f("overlay", x=x, y=y, shortest=1, **ft.NO_REPEAT), "setsar=1")


def _fit_size(info: MediaInfo, width: int, height: int) -> tuple[int, int]:
    """The largest even size with the source's shape that fits in width x height."""
    aspect = display_aspect(info, width, height)
    if aspect >= width / height:
        return width, min(height, ft.even(width / aspect))
    return min(width, ft.even(height * aspect)), height


# ---------------------------------------------------------------- finishing


def _finish_video(plan: Plan, style: Style, joined: Stream, *, pictures_graded: bool) -> Stream:
    if is_neutral(style.grade):
        return joined.then("format=yuv420p")
    # grade.py writes its part of the graph as text, between the labels it is given.
    graded = joined.graph.subgraph(
        [joined],
        lambda sources, out: grade_graph(
            style.grade, sources[0], out,
            width=plan.width, height=plan.height, fps=plan.fps, pictures_graded=pictures_graded,
        ),
    )
    return graded.then("format=yuv420p")


# ---------------------------------------------------------------- audio


def _audio(plan: Plan, audio: AudioTreatment, timings: tuple[SegmentTiming, ...], inputs: _Inputs) -> Stream:
    """Music, loudness-normalised, with the clips' own sound under it if the style asks, faded, cut to the picture."""
    samples = round(output_duration(plan) * SAMPLE_RATE)
    seconds = samples / SAMPLE_RATE
    sound = inputs.music.audio.then(
        _SOUND_FORMAT, f"atrim=end_sample={samples}", "asetpts=PTS-STARTPTS", _lowpass(audio), _bass(audio),
        *_level(plan, audio),
        _SOUND_FORMAT,
        f"apad=whole_len={samples}",
    )
    if inputs.sound:
        # The clips' sound goes under the already-normalised music (so the look-ahead
        # of loudnorm never pulls clip sound early); a limiter keeps the sum's peaks in.
        sound = sound.graph.join(
            [sound, _clip_track(plan, timings, inputs, audio.clip_volume)],
            "amix=inputs=2:normalize=0:duration=first",
            f"alimiter=limit={ft.num(10 ** (TRUE_PEAK_DB / 20))}:level=0",
        )
    finish: list[str] = []
    if audio.fade_in > 0:
        finish.append(f"afade=t=in:st=0:d={ft.time(min(audio.fade_in, seconds))}")
    if audio.fade_out > 0:
        fade = min(audio.fade_out, seconds)
        finish.append(f"afade=t=out:st={ft.time(seconds - fade)}:d={ft.time(fade)}")
    return sound.then(*finish, f"apad=whole_len={samples}", f"atrim=end_sample={samples}", "asetpts=PTS-STARTPTS")


def _level(plan: Plan, audio: AudioTreatment) -> list[str]:
    """Filters bringing the music to the style's loudness: the measured gain and a peak limiter."""
    if plan.music_gain_db is not None:
        return [f"volume={ft.num(plan.music_gain_db)}dB", f"alimiter=limit={ft.num(10 ** (TRUE_PEAK_DB / 20))}:level=0"]
    # Not measured: loudnorm levels it in one pass (holding its look-ahead in memory).
    return [
        f"loudnorm=I={ft.num(audio.loudness)}:TP={ft.num(TRUE_PEAK_DB)}:LRA={LOUDNESS_RANGE}",
        # loudnorm works at 192 kHz and hands out its 3 s look-ahead as single huge
        # frames; resampling those whole holds them, in 0.1 s pieces almost nothing.
        "asetnsamples=n=19200:p=0",
        f"aresample={SAMPLE_RATE}",
    ]


def _clip_track(plan: Plan, timings: tuple[SegmentTiming, ...], inputs: _Inputs, volume: float) -> Stream:
    """The clips' own sound as one track: each segment's sound from its cut to the next, in order.

    Cutting the sound at the perceived cut (the middle of a transition) and
    concatenating keeps it in step with the pictures, so nothing is read early.
    Photos and silent clips contribute silence.
    """
    cuts = [0] + [t.first_frame + t.overlap // 2 for t in timings[1:]] + [output_frames(plan)]
    edges = [round(c / plan.fps * SAMPLE_RATE) for c in cuts]
    graph = inputs.music.graph
    # Each sound input gives one copy to every segment of its run.
    copies: dict[int, tuple[Stream, _Run]] = {}
    for k, sound in inputs.sound.items():
        run = inputs.runs[k][1]
        split = sound.audio.then(_SOUND_FORMAT).copies(len(run.segments), audio=True)
        copies.update((i, (copy, run)) for i, copy in zip(run.segments, split))
    pieces: list[Stream] = []
    for i, seg in enumerate(plan.segments):
        length = edges[i + 1] - edges[i]
        if i not in copies:
            pieces.append(graph.source(f"anullsrc=r={SAMPLE_RATE}:cl={OUTPUT.channel_layout}", f"atrim=end_sample={length}"))
            continue
        copy, run = copies[i]
        start = _span(plan, run, i)[0] + (cuts[i] - timings[i].first_frame) / plan.fps * seg.speed
        pieces.append(copy.then(*_clip_sound(seg.speed, start, length)))
    return graph.join(pieces, f"concat=n={len(pieces)}:v=0:a=1", f"volume={ft.num(volume)}")


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
