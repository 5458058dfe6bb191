"""Looking at clips and photos: small samples of their pictures, what stands out in each, how much happens.

Each clip is sampled at its keyframes only, 64 pixels on the long side: a
keyframe costs about one frame's decoding and the frames between them nothing,
so a whole clip is looked at for the price of a few frames (timings:
benchmarks/README.md, "What the planning steps cost"). Photos give one sample.

What stands out in a sample comes from two cues: the spectral residual (what the
picture's own statistics do not predict, Hou and Zhang 2007) and what changed
since the previous keyframe of the same shot. How much changed is also the
sample's *activity*, from which the planner picks the liveliest stretch of a
clip. numpy's FFT does the little filtering needed.

The same keyframes are decoded a little larger (people.DETECT_SIDE, five times
SAMPLE_SIDE) for people.py to find faces and people in, which framing.py keeps
whole; the small samples are those averaged in 5 x 5 blocks, so each keyframe
is still decoded once.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import ffmpeg
from .errors import MediaError, RenderFailed
from .facts import VIDEO, Liveliness, MediaInfo
from .people import DETECT_SIDE, Box, detect

SAMPLE_SIDE = 64  # pixels on a sample's long side: what the spectral residual is tuned for
DETECT_FACTOR = DETECT_SIDE // SAMPLE_SIDE  # the detection samples are this many times larger
# Two samples differ by more than this (mean, 0..1) when they are different shots: no change cue.
SHOT_CHANGE = 0.12
SAMPLE_TIMEOUT = 60.0
SURVEY_TIMEOUT = 600.0  # the whole survey in its own process: five visuals, imports included
SURVEY_PROCESSES = 2
# Bytes of decoded picture above which a clip's decoder is heavy: a 4K 10-bit HEVC clip's keyframes
# alone hold about 400 MB in ffmpeg 5.1, a 4K 8-bit clip's about 120 MB (benchmarks/README.md, "Phone footage").
HEAVY_DECODE = 12_000_000
MAX_CUTS = 60  # shot changes located per clip; a clip cut faster than this is a montage, not footage
SPARSE = 2.0  # seconds: keyframes further apart than this on average are too few to sample a clip by
# Pixels (of all frames) a clip with sparse keyframes may have to be decoded whole: 50 s of
# 1080p30 or 12 s of 4K, a few seconds of decoding; a longer clip makes do with its keyframes.
EVERY_FRAME_BUDGET = 3e9
EVERY_FRAME_STEP = 0.5  # seconds between the samples of a clip decoded whole

_log = logging.getLogger(__name__)
_PTS_TIME = re.compile(r"pts_time:\s*(-?[\d.]+)")


@dataclass(frozen=True)
class Look:
    """What looking at one visual found: its samples and, for a clip, where one shot cuts to another."""

    samples: tuple[Sample, ...] = ()
    cuts: tuple[float, ...] = ()  # seconds into the clip: the first frame of each new shot


@dataclass(frozen=True)
class Sample:
    """One sampled picture: what stands out in it (a map summing to 1, rows x columns) and how much changed."""

    time: float  # seconds into the visual
    weights: np.ndarray
    activity: float = 0.0  # mean change (0..1) since the previous keyframe of the same shot
    picture: np.ndarray | None = field(default=None, repr=False, compare=False)  # the grey sample itself
    people: tuple[Box, ...] = ()  # faces and people found in it (people.detect), largest first


def heavy_to_decode(info: MediaInfo) -> bool:
    """A clip whose decoder alone holds hundreds of megabytes (4K at 10 bits): looked at on its own."""
    return info.kind == VIDEO and info.width * info.height * (2 if info.hdr else 1) > HEAVY_DECODE


def survey(
    visuals: Sequence[MediaInfo], *, timeout: float = SAMPLE_TIMEOUT, processes: int = SURVEY_PROCESSES
) -> tuple[Look, ...]:
    """A look at every visual, whole; a visual that cannot be read gets an empty one (and is framed centred).

    Two visuals are decoded at a time, one single-threaded ffmpeg per core: ffmpeg's
    own threads only slow a single keyframe down (benchmarks/README.md, "What the
    planning steps cost").
    """

    def whole(info: MediaInfo) -> Look:
        try:
            return look_at(info, timeout=timeout)
        except MediaError:
            return Look()

    with ThreadPoolExecutor(max_workers=processes) as pool:
        return tuple(pool.map(whole, visuals))


def survey_apart(
    visuals: Sequence[MediaInfo], *, processes: int = SURVEY_PROCESSES, timeout: float = SURVEY_TIMEOUT
) -> tuple[Look, ...]:
    """survey in a short-lived Python process: the caller never loads OpenCV.

    The people detection (people.py) imports OpenCV, and a render worker that ran
    it itself would carry that memory through the render after it,
    beside ffmpeg (benchmarks/README.md, "Phone footage"). The visuals go to the
    process and the looks come back as pickles in a temporary folder of our own.
    As survey does for one visual, a process that fails or runs out of time gives
    empty looks: the edit is then framed centred, not lost.
    """
    with tempfile.TemporaryDirectory(prefix="cutline-look-") as folder:
        asked, answer = os.path.join(folder, "visuals.pickle"), os.path.join(folder, "looks.pickle")
        with open(asked, "wb") as file:
            pickle.dump((tuple(visuals), processes), file)
        try:
            ffmpeg.run_module("media_pipeline.look", [asked, answer], timeout=timeout)
            with open(answer, "rb") as file:
                return pickle.load(file)
        except (RenderFailed, OSError, pickle.UnpicklingError, EOFError) as exc:
            _log.warning("looking at the clips failed, framing them centred: %s", exc)
            return tuple(Look() for _ in visuals)


def main(argv: list[str] | None = None) -> int:
    """`python -m media_pipeline.look VISUALS ANSWER`: survey_apart's process (pickles in, pickles out)."""
    asked, answer = argv if argv is not None else sys.argv[1:]
    with open(asked, "rb") as file:
        visuals, processes = pickle.load(file)
    looks = survey(visuals, processes=processes)
    with open(answer + ".partial", "wb") as file:
        pickle.dump(looks, file)
    os.replace(answer + ".partial", answer)
    return 0


def look_at(info: MediaInfo, *, timeout: float = SAMPLE_TIMEOUT) -> Look:
    """Samples of all of a visual and, for a clip, the exact times its shots change.

    A change of shot shows as two unlike keyframes; the frames between just those two
    are then decoded (small) to find the frame where it happens. A cut after the last
    keyframe, or a second cut between the same two keyframes, goes unseen. A clip
    with keyframes too far apart to sample (fewer than one every SPARSE seconds) is
    decoded whole when that is cheap (EVERY_FRAME_BUDGET), and sampled every
    EVERY_FRAME_STEP seconds.
    """
    samples = sample_visual(info, timeout=timeout)
    if info.is_still:
        return Look(samples)
    if len(samples) < info.duration / SPARSE and _cheap_to_decode(info):
        return _look_at_every_frame(info, timeout)
    cuts = []
    for before, after in zip(samples, samples[1:]):
        if len(cuts) < MAX_CUTS and _differ(before, after):
            cut = _cut_between(info, before.time, after.time, timeout)
            if cut is not None:
                cuts.append(cut)
    return Look(samples, tuple(cuts))


def sample_visual(
    info: MediaInfo, *, start: float = 0.0, end: float | None = None, timeout: float = SAMPLE_TIMEOUT
) -> tuple[Sample, ...]:
    """Samples of a photo (one) or of a clip's keyframes from `start` to `end` seconds (all of it by default)."""
    width, height = _sample_size(info)
    if info.is_still:
        frames, _, large = _decode(info.path, [], width, height, ["-frames:v", "1"], timeout, detail=True)
        return (Sample(0.0, saliency(frames[0]), people=detect(large[0], photo=True)),) if frames else ()
    if heavy_to_decode(info):
        return _samples(*_decode_keyframes_apart(info.path, max(0.0, start), end, width, height, timeout))
    seek = ["-ss", f"{max(0.0, start):.6f}"] + (["-t", f"{end - max(0.0, start):.6f}"] if end is not None else [])
    frames, times, large = _decode(info.path, [*seek, "-skip_frame", "nokey"], width, height,
                                   ["-fps_mode", "passthrough"], timeout, detail=True)
    return _samples(frames, [max(0.0, start) + t for t in times], large)


def _decode_keyframes_apart(
    path: str, start: float, end: float | None, width: int, height: int, timeout: float
) -> tuple[list[np.ndarray], list[float], list[np.ndarray]]:
    """The keyframes from `start` to `end`, each decoded by an ffmpeg of its own seeking straight to it.

    For clips heavy_to_decode: ffmpeg 5.1's HEVC decoder holds about 420 MB for a 4K 10-bit clip whenever
    it skips frames (`-skip_frame nokey`, or a stream of keyframes alone), even for the first one, and
    about 180-270 MB for a frame it seeks to; one process per keyframe costs about 0.4 s of CPU each
    (measured on the phone reference's HEVC HLG clip: benchmarks/README.md, "Phone footage").
    """
    frames: list[np.ndarray] = []
    times: list[float] = []
    large: list[np.ndarray] = []
    for moment in _keyframe_times(path, start, end, timeout):
        picture, _, detail = _decode(path, ["-ss", f"{moment:.6f}"], width, height, ["-frames:v", "1"], timeout,
                                     detail=True)
        if picture:
            frames.append(picture[0])
            times.append(moment)
            large.append(detail[0])
    return frames, times, large


def _keyframe_times(path: str, start: float, end: float | None, timeout: float) -> list[float]:
    """Where the video stream's keyframes are, from start to end, read from the packets (nothing decoded)."""
    interval = f"{start:.6f}%" + (f"{end:.6f}" if end is not None else "")
    listing = ffmpeg.run(
        [
            ffmpeg.FFPROBE, "-v", "error", *ffmpeg.safe_input_args(), "-select_streams", "v:0",
            "-read_intervals", interval, "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", "-i", path,
        ],
        timeout=timeout,
    ).stdout
    moments = set()
    for line in listing.splitlines():
        moment, _, flags = line.partition(",")
        try:
            if "K" in flags and start <= float(moment) and (end is None or float(moment) < end):
                moments.add(round(float(moment), 6))
        except ValueError:  # "N/A": a packet without a time
            continue
    return sorted(moments)


def _samples(
    frames: Sequence[np.ndarray], times: Sequence[float], large: Sequence[np.ndarray] = ()
) -> tuple[Sample, ...]:
    samples = []
    for k, (picture, time) in enumerate(zip(frames, times)):
        weights = saliency(picture)
        changed = change(frames[k - 1], picture) if k else None
        activity = 0.0
        if changed is not None:
            weights = (weights + changed) / 2
            activity = moved(frames[k - 1], picture)[1]
        found = detect(large[k]) if k < len(large) else ()
        samples.append(Sample(time, weights, activity, picture, found))
    return tuple(samples)


def _cheap_to_decode(info: MediaInfo) -> bool:
    return info.duration * info.fps * info.width * info.height <= EVERY_FRAME_BUDGET


def _look_at_every_frame(info: MediaInfo, timeout: float) -> Look:
    width, height = _sample_size(info)
    frames, times, large = _decode_every_frame(info.path, width, height, timeout)
    steps = _steps(frames)
    cuts = tuple(round(times[k + 1], 4) for k, step in enumerate(steps) if step > SHOT_CHANGE)[:MAX_CUTS]
    picked, next_time = [], 0.0
    for k, time in enumerate(times):
        if time >= next_time - 1e-6:
            picked.append(k)
            next_time = time + EVERY_FRAME_STEP
    if len(large) != len(picked):
        large = []  # ffmpeg's pick and ours disagree (frames before 0 s): no detections rather than wrong ones
    return Look(_samples([frames[k] for k in picked], [times[k] for k in picked], large), cuts)


def _decode_every_frame(
    path: str, width: int, height: int, timeout: float
) -> tuple[list[np.ndarray], list[float], list[np.ndarray]]:
    """Every frame small (0..1 floats) and their times, and the frames _look_at_every_frame picks
    (one each EVERY_FRAME_STEP s, chosen by ffmpeg's select the same way) DETECT_FACTOR times larger.

    One decode: the larger frames go to a file of their own, so only those few are ever held at that
    size (all of 50 s of 1080p30 at 320 px would be 86 MB).
    """
    factor = DETECT_FACTOR
    pick = f"isnan(prev_selected_t)+gte(t-prev_selected_t,{EVERY_FRAME_STEP - 1e-6:.6f})"
    graph = (
        f"[0:v]split=2[a][b];[a]scale={width}:{height}:flags=area,format=gray,showinfo[small];"
        f"[b]select='{pick}',scale={width * factor}:{height * factor}:flags=area,format=gray[large]"
    )
    with tempfile.TemporaryDirectory(prefix="cutline-look-") as folder:
        detail = os.path.join(folder, "detail.gray")
        out, err = ffmpeg.run_binary(
            [
                ffmpeg.FFMPEG, "-loglevel", "info", "-nostats", "-skip_loop_filter", "all", "-threads", "1",
                "-an", "-sn", "-dn", *ffmpeg.safe_input_args(), "-i", path, "-filter_complex", graph,
                "-map", "[small]", "-fps_mode", "passthrough", "-f", "rawvideo", "pipe:1",
                "-map", "[large]", "-fps_mode", "passthrough", "-f", "rawvideo", "-y", detail,
            ],
            timeout=timeout,
        )
        pixels = np.fromfile(detail, dtype=np.uint8)
    size = width * height
    count = len(out) // size
    small = np.frombuffer(out[: count * size], dtype=np.uint8).reshape(count, height, width)
    times = [float(t) for t in _PTS_TIME.findall(err)]
    count = min(count, len(times))
    big = width * height * factor * factor
    large = pixels[: len(pixels) // big * big].reshape(-1, height * factor, width * factor)
    return [frame.astype(np.float32) / 255.0 for frame in small[:count]], times[:count], list(large)


def liveliness(look: Look) -> Liveliness | None:
    """How much happens along a clip (each change between keyframes, at the time between them), and its cuts."""
    samples = look.samples
    if len(samples) < 3:
        return Liveliness((), (), look.cuts) if look.cuts else None
    times = tuple(round((a.time + b.time) / 2, 4) for a, b in zip(samples, samples[1:]))
    return Liveliness(times=times, levels=tuple(round(s.activity, 5) for s in samples[1:]), cuts=look.cuts)


def saliency(picture: np.ndarray) -> np.ndarray:
    """The spectral residual of a small grey picture (0..1 floats): a map of what stands out, summing to 1."""
    # Mirrored edges: the transform treats the picture as a tile, and a tile's seams
    # would stand out more than anything in it.
    pad = SAMPLE_SIDE // 8
    mirrored = np.pad(picture - picture.mean(), pad, mode="symmetric")
    spectrum = np.fft.fft2(mirrored)
    log_amplitude = np.log(np.abs(spectrum) + 1e-8)
    residual = log_amplitude - _box3(log_amplitude)
    detail = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    detail = _blur(detail, sigma=2.5)[pad:-pad, pad:-pad]
    # Squared: the few things that stand out count for more than a busy texture spread everywhere.
    return _normalised(detail**2)


def change(before: np.ndarray, after: np.ndarray) -> np.ndarray | None:
    """Where two samples of the same shot differ once the camera's own move is taken out, summing to 1.

    None across a change of shot, or when nothing moved.
    """
    difference, mean = moved(before, after)
    if mean > SHOT_CHANGE or mean < 1e-4:
        return None
    return _normalised(_blur(difference, sigma=2.0))


def moved(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, float]:
    """How two samples differ after lining up what the whole picture did (a pan, a shake): map and mean.

    The camera's shift comes from phase correlation; where the pictures no longer
    overlap the map is 0 and the mean leaves it out. What is left is what moved
    in the scene, so a shaky or panning camera does not pass for action.
    """
    rows, cols = after.shape
    dy, dx = camera_shift(before, after)
    if abs(dy) > rows // 3 or abs(dx) > cols // 3:
        dy, dx = 0, 0  # no shift that large is believable between two samples: compare as they are
    out = np.zeros_like(after)
    ys, xs = slice(max(dy, 0), rows + min(dy, 0)), slice(max(dx, 0), cols + min(dx, 0))
    ys0, xs0 = slice(max(-dy, 0), rows + min(-dy, 0)), slice(max(-dx, 0), cols + min(-dx, 0))
    out[ys, xs] = np.abs(after[ys, xs] - before[ys0, xs0])
    return out, float(out[ys, xs].mean())


def camera_shift(before: np.ndarray, after: np.ndarray) -> tuple[int, int]:
    """How far the whole picture moved from one sample to the next, in sample pixels (rows, columns)."""
    cross = np.fft.fft2(after - after.mean()) * np.conj(np.fft.fft2(before - before.mean()))
    peak = np.real(np.fft.ifft2(cross / (np.abs(cross) + 1e-9)))
    dy, dx = (int(v) for v in np.unravel_index(int(np.argmax(peak)), peak.shape))
    rows, cols = peak.shape
    return (dy - rows if dy > rows // 2 else dy), (dx - cols if dx > cols // 2 else dx)


# ---------------------------------------------------------------- shot changes


def _differ(before: Sample, after: Sample) -> bool:
    """Two keyframe samples so unlike that a shot change lies somewhere between them."""
    if before.picture is None or after.picture is None:
        return False
    return moved(before.picture, after.picture)[1] > SHOT_CHANGE


def _cut_between(info: MediaInfo, start: float, end: float, timeout: float) -> float | None:
    """The time of the first frame of the new shot between two keyframes, from every frame between them, small."""
    width, height = _sample_size(info)
    frame = 1.0 / max(info.fps, 1.0)
    seek = ["-ss", f"{start:.6f}", "-t", f"{end - start + frame:.6f}", "-skip_loop_filter", "all"]
    frames, times, _ = _decode(info.path, seek, width, height, ["-fps_mode", "passthrough"], timeout)
    if len(frames) < 2:
        return None
    steps = _steps(frames)
    k = int(np.argmax(steps))
    if steps[k] <= SHOT_CHANGE:
        return None  # a gradual change (a pan, a dissolve): no single frame to avoid
    return round(start + times[k + 1], 4)


def _steps(frames: Sequence[np.ndarray]) -> list[float]:
    """How much the picture changes from each frame to the next (mean, 0..1).

    Frame to frame a camera moves a fraction of a sample pixel, so no lining up is needed.
    """
    return [float(np.abs(b - a).mean()) for a, b in zip(frames, frames[1:])]


# ---------------------------------------------------------------- decoding


def _sample_size(info: MediaInfo) -> tuple[int, int]:
    width, height = max(info.width, 1), max(info.height, 1)
    if width >= height:
        return SAMPLE_SIDE, max(8, int(round(SAMPLE_SIDE * height / width / 2)) * 2)
    return max(8, int(round(SAMPLE_SIDE * width / height / 2)) * 2), SAMPLE_SIDE


def _decode(
    path: str, before: list[str], width: int, height: int, after: list[str], timeout: float, *, detail: bool = False
) -> tuple[list[np.ndarray], list[float], list[np.ndarray]]:
    """Grey frames of width x height (display shape, square pixels, 0..1 floats) and their times, from ffmpeg.

    detail: also the same frames DETECT_FACTOR times larger (uint8), for people.detect; the small
    frames are then their block means, so each frame is decoded and scaled once.
    """
    factor = DETECT_FACTOR if detail else 1
    out, err = ffmpeg.run_binary(
        [
            ffmpeg.FFMPEG, "-loglevel", "info", "-nostats", *before, "-threads", "1", "-an", "-sn", "-dn",
            *ffmpeg.safe_input_args(), "-i", path,
            "-vf", f"scale={width * factor}:{height * factor}:flags=area,format=gray,showinfo", *after,
            "-f", "rawvideo", "pipe:1",
        ],
        timeout=timeout,
    )
    size = width * height * factor * factor
    count = len(out) // size
    pixels = np.frombuffer(out[: count * size], dtype=np.uint8).reshape(count, height * factor, width * factor)
    times = [float(t) for t in _PTS_TIME.findall(err)]
    count = min(count, len(times))
    if factor == 1:
        small = [frame.astype(np.float32) / 255.0 for frame in pixels[:count]]
        return small, times[:count], list(pixels[:count]) if detail else []
    frames = [
        frame.reshape(height, factor, width, factor).mean(axis=(1, 3), dtype=np.float32) / 255.0
        for frame in pixels[:count]
    ]
    return frames, times[:count], list(pixels[:count])


# ---------------------------------------------------------------- small numpy helpers


def _normalised(values: np.ndarray) -> np.ndarray:
    total = float(values.sum())
    return values / total if total > 0 else np.full(values.shape, 1.0 / values.size)


def _box3(values: np.ndarray) -> np.ndarray:
    """3x3 mean with wrap-around (the spectrum is periodic)."""
    total = sum(np.roll(np.roll(values, dy, axis=0), dx, axis=1) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    return total / 9.0


def _blur(values: np.ndarray, *, sigma: float) -> np.ndarray:
    """Gaussian blur through the spectrum: no SciPy or OpenCV to load into the worker."""
    rows, cols = values.shape
    fy = np.fft.fftfreq(rows)[:, None]
    fx = np.fft.fftfreq(cols)[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    return np.abs(np.fft.ifft2(np.fft.fft2(values) * kernel))


if __name__ == "__main__":
    # Run as media_pipeline.look, not __main__: the looks are pickled with their classes' module names.
    from media_pipeline.look import main as survey_main

    sys.exit(survey_main())
