"""Where the cuts really are: every planned cut found in the rendered pictures and measured against its beat.

Only a few frames around each planned cut are looked at, small and grey (64 x
114 for 9:16: the long side 114 pixels). The render's own ffmpeg run writes them
beside the video as it encodes it (`Samples`, graph.Tap), which costs next to
nothing; `read_frames` decodes the same frames from a finished MP4 instead, for
about the price of decoding all of it. The plan only says where to look and what
kind of change to expect; where the picture changes is found from the pictures:

- a hard cut is the step into the frame where the picture jumps far more than
  it moves around it (the one at the planned frame if there is one: a clip that
  is itself an edit may hold cuts of its own nearby);
- a crossfade, a dip, a fade through grey or a zoom or blur transition: the
  middle of the n-frame stretch holding the most change above the shots'
  ordinary movement (a matched filter as long as the transition, so it follows
  where the change starts and ends, not its shape: a crossfade into a dark shot
  that the grade clips to black early still comes out at its middle), checked
  against the moment half the picture has turned into the next shot (each pixel
  counted by which shot it is nearer to), or for a dip its darkest moment;
- a wipe: the moment half the picture has turned, checked against the centroid
  of the change. When half of it has turned also depends on the wipe's shape and
  on where the two shots differ, so a wipe has WIPE_SLACK more tolerance;
- a slide: when the incoming picture's edge is half-way across, from all its
  frames fitted at once as the last shot with the next moved in.

Two measures that fail in different ways must agree within a frame. Frames are
compared after lining up what the whole picture did (phase correlation), so a
pan or a shake does not pass for a change. A cut whose change cannot be told
from the shots' own movement (two shots that look alike, a long crossfade
between two busy ones) is reported as not seen rather than guessed, and only
cuts that were seen count against the render. Times are the plan's: a hard cut
at the new shot's first frame, a transition at its middle (between two frames
when its length is odd).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import ffmpeg
from .plan import BEATS, CUT, EVEN, EVENTS, Plan
from .timing import output_frames

# Frames looked at either side of a cut's planned change.
MARGIN_FRAMES = 4
# The samples' long side in pixels: enough to tell shots apart, small enough to cost nothing.
SAMPLE_LONG_SIDE = 114
# A hard cut changes the mean grey level by at least this much (0..255) ...
MIN_CUT_CHANGE = 4.0
# ... and by this many times more than any other frame-to-frame change around it.
CUT_STANDS_OUT = 2.0
# A transition's change above the shots' ordinary movement, per frame of it, in units of that movement.
TRANSITION_STANDS_OUT = 1.5
# Ordinary movement is taken as at least this (grey levels): compression noise on a still shot.
MOTION_FLOOR = 0.5
# Transitions that reveal the next shot region by region.
_WIPE_WORDS = ("circle", "radial", "vert", "horz", "diag", "wipe", "slice", "rectcrop")
# A pixel tells the two shots of a transition apart when they differ by this many grey levels there ...
HALF_WAY_CONTRAST = 12.0
# ... and at least this share of the picture must do so.
HALF_WAY_SHARE = 0.05
# The largest whole-picture shift (sample pixels) lined up before frames are compared.
MAX_SHIFT = 8
# A slide's best fit must explain its frames this much better than one starting two frames off.
SLIDE_CLEAR = 1.15
# A cut seen more than this many frames from its plan fails the render ...
TOLERANCE_FRAMES = 1.0
# ... and a wipe this share of its length more: when half the picture has turned depends on the
# wipe's shape and on where the two shots differ (set on rendered wipes: benchmarks/README.md,
# sync_bench.py).
WIPE_SLACK = 0.25
_EPSILON = 1e-6

DIPS = frozenset({"fadeblack", "fadewhite"})
# A slide's incoming picture starts one frame width (or height) off to this side: (x, y).
_SLIDE_FROM = {"left": (1, 0), "right": (-1, 0), "up": (0, 1), "down": (0, -1)}

@dataclass(frozen=True)
class CutSync:
    """One cut: where it was planned, where the picture changes, and how far that is from its beat (seconds)."""

    segment: int  # the shot the cut leads into
    transition: str
    planned: float
    measured: float | None  # None: the change could not be told from the shots' own movement
    tolerance: float  # how far from the plan (and from its beat) it may be seen and still count as on it
    off_plan: float | None  # measured - planned
    beat: float | None  # the nearest beat to the cut (None when the plan has no beats)
    off_beat: float | None  # measured - beat


@dataclass(frozen=True)
class SyncReport:
    """Every cut of a render, measured; plain data (`as_dict` is JSON-ready)."""

    fps: int
    basis: str  # what the cuts follow: "beats", "events" (the music's own accents) or "even"
    cuts: tuple[CutSync, ...]
    seen: int  # cuts found in the picture
    on_beat: int | None  # seen cuts within a frame of a beat; None when the plan has no beats
    summary: str  # in words, e.g. "24 of 24 cuts on the beat"

    @property
    def misplaced(self) -> tuple[CutSync, ...]:
        """Seen cuts further from where they were planned than their tolerance."""
        return tuple(c for c in self.cuts if c.off_plan is not None and abs(c.off_plan) > c.tolerance + _EPSILON)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Samples:
    """Which output frames the check looks at, and at what size."""

    frames: tuple[int, ...]  # output frame numbers, ascending
    width: int
    height: int

    def select(self) -> str:
        """An ffmpeg select expression passing exactly these frames (by their number n)."""
        return "+".join(f"between(n,{a},{b})" for a, b in _runs(self.frames)) or "0"

    def filters(self) -> str:
        """The filters that turn the picture into these samples: select, shrink, grey."""
        return f"select='{self.select()}',{self.shrink()}"

    def shrink(self) -> str:
        """The filters that turn every frame into a small grey one (what the render's tap writes).

        The tap keeps every frame rather than selecting: an output that passes nothing for seconds
        at a time makes ffmpeg 5.1 pull the graph for it while the video's own frames pile up
        (about 300 MB and 8 CPU-s on the 1080p reference; benchmarks/README.md, "Phone footage").
        """
        return f"scale={self.width}:{self.height}:flags=area,format=gray"


def samples_for(plan: Plan) -> Samples:
    """The frames around every planned cut, at the sample size for the plan's shape."""
    frames = sorted({f for w in _windows(plan) for f in range(w.first, w.last + 1)})
    width, height = _sample_size(plan.width, plan.height)
    return Samples(tuple(frames), width, height)


def read_frames(path: str, samples: Samples, *, timeout: float = 120.0) -> np.ndarray:
    """Decode just `samples` from a rendered MP4: (frames, height, width) grey levels.

    ffmpeg has to decode from the keyframe before each frame, and x264 puts one only
    at a clear change of scene at least 25 frames after the last, so this costs about
    a whole decode of the video (see benchmarks/README.md); the render hands the same
    samples over from its own run instead.
    """
    data, _ = ffmpeg.run_binary(
        [
            ffmpeg.FFMPEG, "-loglevel", "error", "-an", "-sn", "-dn",
            *ffmpeg.safe_input_args("mov,mp4,m4a,3gp,3g2,mj2"), "-i", path,
            "-vf", samples.filters(), "-fps_mode", "passthrough",
            "-frames:v", str(len(samples.frames)), "-f", "rawvideo", "pipe:1",
        ],
        timeout=timeout,
    )
    return frames_from_bytes(data, samples)


def frames_from_bytes(data: bytes, samples: Samples) -> np.ndarray:
    """Raw grey samples (as ffmpeg writes them) as an array; ValueError when they are not all there."""
    size = samples.width * samples.height
    if len(data) != size * len(samples.frames):
        raise ValueError(f"{len(data) // max(size, 1)} of the {len(samples.frames)} sampled frames came back")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, samples.height, samples.width).astype(np.float32)


def samples_from_every_frame(data: bytes, samples: Samples, total: int) -> np.ndarray:
    """The samples picked out of every frame of the video, shrunk (the tap's file); ValueError when short."""
    size = samples.width * samples.height
    if len(data) != size * total:
        raise ValueError(f"{len(data) // max(size, 1)} of the video's {total} frames came back")
    every = np.frombuffer(data, dtype=np.uint8).reshape(-1, samples.height, samples.width)
    return every[list(samples.frames)].astype(np.float32)


def measure_sync(plan: Plan, samples: Samples, frames: np.ndarray) -> SyncReport:
    """Find every planned cut in `frames` (the pictures of `samples`) and measure it against the plan and the beats."""
    if len(frames) != len(samples.frames):
        raise ValueError(f"{len(frames)} pictures for {len(samples.frames)} sampled frames")
    pictures = dict(zip(samples.frames, frames))
    basis = cut_basis(plan)
    beats = tuple(plan.beats) if basis == BEATS else ()
    cuts = []
    for window in _windows(plan):
        stack = np.stack([pictures[f] for f in range(window.first, window.last + 1)])
        found = _find_change(window, stack)
        measured = None if found is None else found / plan.fps
        moment = measured if measured is not None else window.planned
        beat = min(beats, key=lambda b: abs(b - moment)) if beats else None
        cuts.append(CutSync(
            segment=window.segment,
            transition=window.transition,
            planned=_round(window.planned),
            measured=_round(measured),
            tolerance=_round(window.tolerance / plan.fps),
            off_plan=_round(None if measured is None else measured - window.planned),
            beat=_round(beat),
            off_beat=_round(None if measured is None or beat is None else measured - beat),
        ))
    seen = sum(c.measured is not None for c in cuts)
    on_beat = None
    if beats:
        on_beat = sum(c.off_beat is not None and abs(c.off_beat) <= c.tolerance + _EPSILON for c in cuts)
    return SyncReport(
        fps=plan.fps, basis=basis, cuts=tuple(cuts), seen=seen, on_beat=on_beat,
        summary=_summary(basis, len(cuts), seen, on_beat),
    )


def measure_file(path: str, plan: Plan, *, timeout: float = 120.0) -> SyncReport:
    """measure_sync on the pictures decoded from a rendered MP4."""
    samples = samples_for(plan)
    return measure_sync(plan, samples, read_frames(path, samples, timeout=timeout))


def cut_basis(plan: Plan | dict) -> str:
    """What the plan's cuts follow: BEATS, EVENTS (the music's own accents) or EVEN (no steady beat)."""
    if isinstance(plan, dict):
        basis, beatless = plan.get("cut_basis"), bool(plan.get("beatless"))
    else:
        basis, beatless = getattr(plan, "cut_basis", None), plan.beatless
    return basis or (EVEN if beatless else BEATS)


# ---------------------------------------------------------------- where to look


@dataclass(frozen=True)
class _Window:
    segment: int
    transition: str  # CUT when it is drawn as one
    planned: float  # seconds
    centre: float  # the same, in output frames
    change_first: int  # the frame where the change planned for this cut may start ...
    change_last: int  # ... and the last frame it may reach
    length: int  # the transition's frames; 0 for a hard cut
    tolerance: float  # frames
    first: int  # frames looked at
    last: int


def _windows(plan: Plan) -> list[_Window]:
    total = output_frames(plan)
    spans = []
    for i, seg in enumerate(plan.segments[1:], 1):
        centre = seg.first_frame + seg.overlap / 2
        length = seg.overlap if seg.transition != CUT else 0
        half = length / 2
        a, b = math.floor(centre - half + _EPSILON), math.ceil(centre + half - _EPSILON)
        spans.append((i, seg, centre, length, a, b))
    windows = []
    for k, (i, seg, centre, length, a, b) in enumerate(spans):
        first, last = max(0, a - MARGIN_FRAMES), min(total - 1, b + MARGIN_FRAMES)
        # Never into a neighbouring cut's change: stop half-way to it.
        if k > 0:
            first = max(first, (spans[k - 1][5] + a) // 2 + 1)
        if k + 1 < len(spans):
            last = min(last, (b + spans[k + 1][4]) // 2)
        transition = seg.transition if length else CUT
        tolerance = TOLERANCE_FRAMES + (length * WIPE_SLACK if _is_wipe(transition) else 0.0)
        windows.append(_Window(i, transition, seg.cut, centre, a, b, length, tolerance, first, max(first + 1, last)))
    return windows


def _sample_size(width: int, height: int) -> tuple[int, int]:
    scale = SAMPLE_LONG_SIDE / max(width, height, 1)
    return max(8, round(width * scale / 2) * 2), max(8, round(height * scale / 2) * 2)


def _runs(frames: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], f)
        else:
            runs.append((f, f))
    return runs


# ---------------------------------------------------------------- finding the change


def _find_change(window: _Window, frames: np.ndarray) -> float | None:
    """Where the change is, in output frames (a hard cut: the new shot's first frame); None if not seen."""
    if len(frames) < 2:
        return None
    if window.length == 0:
        return _hard_cut(window, _steps(frames))
    if _is_slide(window.transition):
        return _slide(window, frames)
    steps = _steps(frames)
    if _is_wipe(window.transition):
        first, second = _half_way(window, frames), _centroid(window, steps)
    elif window.transition in DIPS:
        first, second = _stretch(window, steps), _darkest(window, frames)
    else:
        first, second = _stretch(window, steps), _half_way(window, frames)
    # Two measures that fail in different ways must agree, or the cut is not seen.
    if first is None or second is None or abs(first - second) > TOLERANCE_FRAMES:
        return None
    return (first + second) / 2


def _hard_cut(window: _Window, steps: np.ndarray) -> float | None:
    """The step that stands out as a cut: the one at the planned frame if there is one, else the only clear one.

    Footage may hold cuts of its own (a clip that is itself an edit): one near the
    planned cut does not hide it, and is not taken for it.
    """
    ordinary = max(float(np.median(steps)), MOTION_FLOOR)
    cuts = np.flatnonzero((steps >= MIN_CUT_CHANGE) & (steps >= CUT_STANDS_OUT * ordinary))
    planned = round(window.centre) - window.first - 1  # the step into the new shot's planned first frame
    near = [int(k) for k in cuts if abs(k - planned) <= 1]
    if near:
        k = max(near, key=lambda j: steps[j])
    else:
        k = int(np.argmax(steps))
        rival = float(np.max(np.delete(steps, k))) if len(steps) > 1 else 0.0
        if k not in cuts or steps[k] < CUT_STANDS_OUT * rival:
            return None
    return float(window.first + k + 1)  # step k leads into frame first + k + 1


def _stretch(window: _Window, steps: np.ndarray) -> float | None:
    """The middle of the `length`-step stretch holding the most change above the shots' ordinary movement.

    A matched filter as long as the transition: it follows where the change starts
    and ends, whatever its shape in between. Where stretches starting two or more
    steps apart explain the change about as well, the cut is not seen.
    """
    excess, motion = _excess(_without_footage_cuts(window, steps))
    n = window.length
    if len(excess) < n or not _stands_out(excess, motion, n):
        return None
    sums = np.convolve(excess, np.ones(n), mode="valid")
    best = np.flatnonzero(sums >= sums.max() - motion)
    if best[-1] - best[0] > 1:
        return None
    # Step k sits between frames first + k and first + k + 1: a stretch from step j is centred on first + j + n/2.
    return float(window.first + np.mean(best) + n / 2)


def _half_way(window: _Window, frames: np.ndarray) -> float | None:
    """When half the picture has become the next shot: each pixel counted by which shot it is nearer to.

    Only pixels where the two shots differ clearly take part (letterbox bars do not).
    A crossfade turns every pixel at its middle, a wipe turns half the picture there.
    """
    telling = np.abs(frames[-1] - frames[0]) > HALF_WAY_CONTRAST
    if telling.mean() < HALF_WAY_SHARE:
        return None
    share = [
        float((np.abs(frame - after) < np.abs(frame - before))[telling].mean())
        for frame, (before, after) in zip(frames, _shots(frames))
    ]
    crossing = _crossing(share)
    return None if crossing is None else window.first + crossing


def _centroid(window: _Window, steps: np.ndarray) -> float | None:
    """The centre of the change above the shots' ordinary movement."""
    excess, motion = _excess(_without_footage_cuts(window, steps))
    if not _stands_out(excess, motion, window.length):
        return None
    places = window.first + np.arange(len(steps)) + 0.5
    return float((excess * places).sum() / excess.sum())


def _darkest(window: _Window, frames: np.ndarray) -> float | None:
    """A dip's turning point: its darkest (fadewhite: brightest) moment, between frames by a parabola."""
    level = frames.mean(axis=(1, 2)) * (1 if window.transition == "fadeblack" else -1)
    k = int(np.argmin(level))
    if not 0 < k < len(level) - 1 or min(level[0], level[-1]) - level[k] < MIN_CUT_CHANGE:
        return None
    a, b, c = level[k - 1], level[k], level[k + 1]
    bend = a - 2 * b + c
    return float(window.first + k + (0.5 * (a - c) / bend if bend > 0 else 0.0))


def _without_footage_cuts(window: _Window, steps: np.ndarray) -> np.ndarray:
    """Steps with the footage's own cuts outside the planned change left out (set to their neighbours' level).

    A transition's change is spread over its frames; a lone jump several times its
    neighbours outside the planned stretch is a cut inside a clip, not part of it.
    """
    out = steps.copy()
    lo, hi = window.change_first - window.first - 1, window.change_last - window.first
    for k in range(len(steps)):
        if lo <= k <= hi:
            continue
        around = [steps[j] for j in (k - 1, k + 1) if 0 <= j < len(steps)]
        if steps[k] >= MIN_CUT_CHANGE and steps[k] >= 3 * max(around, default=0.0):
            out[k] = max(around, default=0.0)
    return out


def _excess(steps: np.ndarray) -> tuple[np.ndarray, float]:
    """Each step's change above the shots' ordinary movement (the larger of its level before and after)."""
    side = max(1, min(MARGIN_FRAMES - 1, len(steps) // 4))
    motion = max(float(np.median(steps[:side])), float(np.median(steps[-side:])), MOTION_FLOOR)
    return np.maximum(0.0, steps - motion), motion


def _stands_out(excess: np.ndarray, motion: float, frames: int) -> bool:
    return float(excess.sum()) >= TRANSITION_STANDS_OUT * motion * max(frames, 1)


def _is_wipe(name: str) -> bool:
    return any(word in name for word in _WIPE_WORDS)


def _is_slide(name: str) -> bool:
    return name.startswith(("slide", "smooth")) and name.removeprefix("slide").removeprefix("smooth") in _SLIDE_FROM


def _slide(window: _Window, frames: np.ndarray) -> float | None:
    """When the incoming picture's edge is half-way across, from the whole slide fitted at once.

    Every frame is compared with the last shot with the next one moved in as far as
    the slide would have it (linearly, or eased for smooth*), for each start of the
    slide in quarter frames; the start that explains the frames best wins, if it
    explains them clearly better than starts two frames either side (a next shot
    that looks the same moved along, such as vertical stripes sliding up, does not).
    """
    dx, dy = _SLIDE_FROM[window.transition.removeprefix("slide").removeprefix("smooth")]
    extent = frames.shape[2] if dx else frames.shape[1]
    eased = window.transition.startswith("smooth")
    n = window.length
    positions = np.arange(0, extent + 1, 2)  # the edge, every 2 sample pixels
    errors = np.array([
        [float(np.abs(frame - _slid(before, after, int(p), dx, dy)).mean()) for p in positions]
        for frame, (before, after) in zip(frames, _shots(frames))
    ])
    planned_start = window.change_first - window.first
    starts = np.arange(planned_start - MARGIN_FRAMES, planned_start + MARGIN_FRAMES + 0.01, 0.25)
    frame_numbers = np.arange(len(frames))

    def cost(start: float) -> float:
        x = np.clip((frame_numbers - start) / n, 0.0, 1.0)
        covered = x * x * (3 - 2 * x) if eased else x
        index = np.clip(np.round(covered * extent / 2).astype(int), 0, len(positions) - 1)
        return float(errors[frame_numbers, index].sum())

    costs = np.array([cost(t) for t in starts])
    best = int(np.argmin(costs))
    step = round(2 / 0.25)  # two frames
    rivals = [costs[k] for k in (best - step, best + step) if 0 <= k < len(costs)]
    if not rivals or min(rivals) < SLIDE_CLEAR * costs[best]:
        return None
    return float(window.first + starts[best] + n / 2)


def _shots(frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Both shots as they would stand at each frame: the window's first and last frames moved along by
    each shot's own pan, if it has one (a panning shot would otherwise seem to turn into the other early)."""
    last = len(frames) - 1
    span = max(1, min(MARGIN_FRAMES - 1, last // 2))
    outgoing, incoming = _drift(frames[0], frames[span]) / span, _drift(frames[last - span], frames[last]) / span
    return [(_moved(frames[0], outgoing * j), _moved(frames[last], incoming * (j - last))) for j in range(last + 1)]


def _drift(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """How far the whole picture moved from `earlier` to `later` (rows, columns); 0 when not believable."""
    shift = _shift(*np.fft.rfft2(_tapered(np.stack([later, earlier]))), earlier.shape)
    return np.array(shift if max(abs(shift[0]), abs(shift[1])) <= MAX_SHIFT else (0, 0), dtype=float)


def _moved(picture: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """`picture` moved by (rows, columns), its edge pixels repeated into the gap."""
    dy, dx = (int(round(v)) for v in shift)
    if not (dy or dx):
        return picture
    rows, cols = picture.shape
    ys = np.clip(np.arange(rows) - dy, 0, rows - 1)
    xs = np.clip(np.arange(cols) - dx, 0, cols - 1)
    return picture[np.ix_(ys, xs)]


def _slid(before: np.ndarray, after: np.ndarray, covered: int, dx: int, dy: int) -> np.ndarray:
    """`before` with the first `covered` columns (rows) of `after` moved in from the side the slide starts at."""
    out = before.copy()
    if covered == 0:
        return out
    if dx > 0:
        out[:, -covered:] = after[:, :covered]
    elif dx < 0:
        out[:, :covered] = after[:, -covered:]
    elif dy > 0:
        out[-covered:, :] = after[:covered, :]
    else:
        out[:covered, :] = after[-covered:, :]
    return out


def _crossing(progress: Sequence[float]) -> float | None:
    """Where a rising sequence first reaches 0.5, interpolated between its frames."""
    for k in range(1, len(progress)):
        a, b = progress[k - 1], progress[k]
        if a < 0.5 <= b:
            return k - 1 + (0.5 - a) / (b - a)
    return None


def _tapered(frames: np.ndarray) -> np.ndarray:
    """Frames less their mean, faded out towards their edges (for phase correlation)."""
    rows, cols = frames.shape[1:]
    return (frames - frames.mean(axis=(1, 2), keepdims=True)) * np.outer(np.hanning(rows), np.hanning(cols))


def _shift(later: np.ndarray, earlier: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int]:
    """The whole-picture shift (rows, columns) from one frame's spectrum to another's, by phase correlation."""
    cross = later * np.conj(earlier)
    peak = np.fft.irfft2(cross / (np.abs(cross) + 1e-9), s=shape)
    dy, dx = (int(v) for v in np.unravel_index(int(np.argmax(peak)), peak.shape))
    rows, cols = shape
    return (dy - rows if dy > rows // 2 else dy), (dx - cols if dx > cols // 2 else dx)


def _steps(frames: np.ndarray) -> np.ndarray:
    """Mean grey-level change from each frame to the next, after lining up any whole-picture shift."""
    rows, cols = frames.shape[1:]
    spectra = np.fft.rfft2(_tapered(frames))
    steps = []
    for k in range(1, len(frames)):
        plain = float(np.abs(frames[k] - frames[k - 1]).mean())
        dy, dx = _shift(spectra[k], spectra[k - 1], (rows, cols))
        if (dy or dx) and abs(dy) <= MAX_SHIFT and abs(dx) <= MAX_SHIFT:
            later = frames[k][max(dy, 0): rows + min(dy, 0), max(dx, 0): cols + min(dx, 0)]
            earlier = frames[k - 1][max(-dy, 0): rows + min(-dy, 0), max(-dx, 0): cols + min(-dx, 0)]
            plain = min(plain, float(np.abs(later - earlier).mean()))
        steps.append(plain)
    return np.array(steps)


# ---------------------------------------------------------------- in words


def _summary(basis: str, cuts: int, seen: int, on_beat: int | None) -> str:
    noun = "cut" if cuts == 1 else "cuts"
    if cuts == 0:
        return "one shot, no cuts"
    if basis == BEATS and on_beat is not None:
        text = f"{on_beat} of {cuts} {noun} on the beat"
    elif basis == EVENTS:
        text = f"{cuts} {noun} on the music's own accents"
    elif basis == EVEN:
        text = f"{cuts} {noun} evenly spaced, as the song has no steady beat"
    else:
        text = f"{cuts} {noun}"
    if seen < cuts:
        text += f" ({cuts - seen} could not be told from the shots' own movement)"
    return text


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
