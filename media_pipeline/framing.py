"""Framing: where a fill crop sits, and where a photo's Ken Burns move goes, from what stands out.

A fill crop keeps a fixed share of the picture (a 16:9 clip in a 9:16 frame keeps
a third of its width); centred, it often keeps a lamp post and loses the cyclist
beside it. Here each shot's footage is sampled small (its keyframes, 64 pixels
on the long side: a keyframe costs about a frame's decoding, the frames between
them nothing), and what stands out in each sample is found from two cues: the
spectral residual (what the picture's own statistics do not predict, Hou and
Zhang 2007) and what changed since the previous keyframe of the same shot. The
crop moves off centre only when the window there holds clearly more of both, so
a shot where nothing stands out stays centred.

Measured like the music's loudness, after planning and before rendering:
`with_focus(plan)` returns the plan with each segment's focus set. Framing never
fails a job: a visual that cannot be sampled keeps its centred crop.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import ffmpeg
from .edit_plan import BLUR, FILL, LETTERBOX, Motion, Plan, Segment
from .errors import MediaError
from .facts import MediaInfo
from .graph import crop_share

SAMPLE_SIDE = 64  # pixels on a sample's long side: what the spectral residual is tuned for
# A window leaves the centre only when it holds this much more of what stands out.
CLEARLY_BETTER = 1.15
# Two samples differ by more than this (mean, 0..1) when they are different shots: no change cue.
SHOT_CHANGE = 0.12
# Samples this far outside a segment's footage still count for it (keyframes can be sparse).
NEARBY = 2.0
SAMPLE_TIMEOUT = 60.0

_PTS_TIME = re.compile(r"pts_time:\s*(-?[\d.]+)")


@dataclass(frozen=True)
class Sample:
    """What stands out in one sampled picture, as a map summing to 1 (rows x columns)."""

    time: float  # seconds into the visual
    weights: np.ndarray


def with_focus(plan: Plan, *, timeout: float = SAMPLE_TIMEOUT) -> Plan:
    """The plan with its fill crops centred on what stands out, and its photos' moves going towards it."""
    segments = list(plan.segments)
    for visual, info in enumerate(plan.visuals):
        used = [i for i, seg in enumerate(segments) if seg.visual == visual and _needs_focus(seg, info, plan)]
        if not used:
            continue
        try:
            samples = _sample(info, [segments[i] for i in used], timeout)
        except MediaError:
            continue  # a visual that cannot be sampled keeps the planner's framing
        for i in used:
            segments[i] = _framed(segments[i], info, plan, samples)
    return dataclasses.replace(plan, segments=tuple(segments))


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
    """Where two samples of the same shot differ, summing to 1; None across a change of shot or for no change."""
    difference = np.abs(after - before)
    mean = float(difference.mean())
    if mean > SHOT_CHANGE or mean < 1e-4:
        return None
    return _normalised(_blur(difference, sigma=2.0))


def best_centre(profile: np.ndarray, share: float) -> float | None:
    """Centre (0..1) of the window of `share` of the axis holding most of `profile`.

    None when no window holds CLEARLY_BETTER times what the centred one does.
    """
    bins = len(profile)
    size = max(1, min(bins, int(round(share * bins))))
    if size >= bins or not profile.any():
        return None
    # What sits at a window's edges counts a quarter: a subject should end up well inside the frame, not on its border.
    taper = 1.0 - 0.75 * np.abs(np.linspace(-1.0, 1.0, size))
    sums = np.convolve(profile, taper, mode="valid")  # sums[k]: bins k .. k+size-1
    centred = sums[(bins - size) // 2]
    best = int(np.argmax(sums))
    if sums[best] < CLEARLY_BETTER * centred:
        return None
    return min(max((best + size / 2) / bins, share / 2), 1.0 - share / 2)


# ---------------------------------------------------------------- planning


def _needs_focus(seg: Segment, info: MediaInfo, plan: Plan) -> bool:
    if info.is_still:
        return seg.motion is not None or (seg.reframe == FILL and crop_share(info, plan.width, plan.height)[0] != "")
    return seg.reframe == FILL and crop_share(info, plan.width, plan.height)[0] != ""


def _framed(seg: Segment, info: MediaInfo, plan: Plan, samples: Sequence[Sample]) -> Segment:
    weights = _weights_for(seg, info, samples)
    if weights is None:
        return seg
    focus_x, focus_y = 0.5, 0.5
    axis, share = crop_share(info, plan.width, plan.height)
    if seg.reframe == FILL and axis:
        centre = best_centre(_profile(weights, axis), share)
        if centre is not None:
            focus_x, focus_y = (centre, 0.5) if axis == "x" else (0.5, centre)
    motion = seg.motion
    if motion is not None:
        framed = (focus_x, focus_y) != (0.5, 0.5)
        motion = _towards(motion, weights, _composition(seg.reframe, info, plan, focus_x, focus_y), framed=framed)
    return dataclasses.replace(seg, focus_x=focus_x, focus_y=focus_y, motion=motion)


def _weights_for(seg: Segment, info: MediaInfo, samples: Sequence[Sample]) -> np.ndarray | None:
    """What stands out over the segment's footage: its samples' maps, or the nearest ones."""
    if not samples:
        return None
    if info.is_still:
        return samples[0].weights
    inside = [s for s in samples if seg.source_in - 1e-6 <= s.time <= seg.source_out + 1e-6]
    if not inside:
        distance = [max(seg.source_in - s.time, s.time - seg.source_out) for s in samples]
        nearest = min(distance)
        if nearest > NEARBY:
            return None
        inside = [s for s, d in zip(samples, distance) if d <= nearest + 1e-6]
    return sum(s.weights for s in inside) / len(inside)


def _profile(weights: np.ndarray, axis: str) -> np.ndarray:
    return weights.sum(axis=0) if axis == "x" else weights.sum(axis=1)


def _composition(
    mode: str, info: MediaInfo, plan: Plan, focus_x: float, focus_y: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The span of the photo (as fractions of it, x then y) that the Ken Burns composition shows.

    Fill: the crop window. Blur and letterbox: the whole photo plus the margins
    the fit leaves (beyond 0..1), where the move would show only background.
    """
    axis, share = crop_share(info, plan.width, plan.height)
    if mode == FILL:
        if axis == "x":
            lo = min(max(focus_x - share / 2, 0.0), 1.0 - share)
            return (lo, lo + share), (0.0, 1.0)
        if axis == "y":
            lo = min(max(focus_y - share / 2, 0.0), 1.0 - share)
            return (0.0, 1.0), (lo, lo + share)
        return (0.0, 1.0), (0.0, 1.0)
    if mode not in (BLUR, LETTERBOX) or not axis:
        return (0.0, 1.0), (0.0, 1.0)
    # Fitted: the photo fills one axis; on the other the frame is 1/share of it.
    margin = (1.0 / share - 1.0) / 2
    if axis == "x":  # a wide photo in a taller frame: margins above and below
        return (0.0, 1.0), (-margin, 1.0 + margin)
    return (-margin, 1.0 + margin), (0.0, 1.0)


def _towards(
    motion: Motion,
    weights: np.ndarray,
    composition: tuple[tuple[float, float], tuple[float, float]],
    *,
    framed: bool,
) -> Motion:
    """The move re-aimed so that its close-up (the zoomed end) is on what stands out.

    framed: the crop already sits on a subject, so the close-up stays on it rather
    than drifting off. Where nothing stands out the planner's move is kept: its
    pans vary from shot to shot.
    """
    zoom = max(motion.zoom_from, motion.zoom_to)
    if zoom <= 1.0:
        return motion
    # A close-up is about one thing: the strongest spot counts for far more than the rest.
    peak = weights**2
    target = [_axis_target(_profile(peak, axis), span, 1.0 / zoom) for axis, span in zip(("x", "y"), composition)]
    if target == [None, None] and not framed:
        return motion
    close_x = target[0] if target[0] is not None else 0.5
    close_y = target[1] if target[1] is not None else 0.5
    if motion.zoom_to >= motion.zoom_from:
        return dataclasses.replace(motion, x_from=0.5, y_from=0.5, x_to=close_x, y_to=close_y)
    return dataclasses.replace(motion, x_from=close_x, y_from=close_y, x_to=0.5, y_to=0.5)


def _axis_target(profile: np.ndarray, span: tuple[float, float], share: float) -> float | None:
    """Where on the composition's axis (0..1 of it) a window of `share` of it holds most of the profile."""
    lo, hi = span
    bins = len(profile)
    positions = lo + (np.arange(bins * 2) + 0.5) / (bins * 2) * (hi - lo)  # composition bins, in photo units
    inside = (positions >= 0) & (positions < 1)
    resampled = np.zeros(len(positions))
    resampled[inside] = profile[np.minimum((positions[inside] * bins).astype(int), bins - 1)]
    centre = best_centre(resampled, share)
    if centre is None:
        return None
    reach = share / 2  # the window must stay inside the composition
    return min(max(centre, reach), 1.0 - reach)


# ---------------------------------------------------------------- sampling


def _sample(info: MediaInfo, segments: Sequence[Segment], timeout: float) -> list[Sample]:
    width, height = _sample_size(info)
    if info.is_still:
        frames, times = _decode(info.path, [], width, height, ["-frames:v", "1"], timeout)
        return [Sample(0.0, saliency(frames[0]))] if frames else []
    start = max(0.0, min(seg.source_in for seg in segments) - NEARBY)
    end = max(seg.source_out for seg in segments) + NEARBY
    seek = ["-ss", f"{start:.6f}", "-t", f"{end - start:.6f}", "-skip_frame", "nokey"]
    frames, times = _decode(info.path, seek, width, height, ["-fps_mode", "passthrough"], timeout)
    samples = []
    for k, (picture, time) in enumerate(zip(frames, times)):
        weights = saliency(picture)
        moved = change(frames[k - 1], picture) if k else None
        if moved is not None:
            weights = (weights + moved) / 2
        samples.append(Sample(start + time, weights))
    return samples


def _sample_size(info: MediaInfo) -> tuple[int, int]:
    width, height = max(info.width, 1), max(info.height, 1)
    if width >= height:
        return SAMPLE_SIDE, max(8, int(round(SAMPLE_SIDE * height / width / 2)) * 2)
    return max(8, int(round(SAMPLE_SIDE * width / height / 2)) * 2), SAMPLE_SIDE


def _decode(
    path: str, before: list[str], width: int, height: int, after: list[str], timeout: float
) -> tuple[list[np.ndarray], list[float]]:
    """Grey frames of width x height (display shape, square pixels) and their times, from ffmpeg."""
    out, err = ffmpeg.run_binary(
        [
            ffmpeg.FFMPEG, "-loglevel", "info", "-nostats", *before, "-an", "-sn", "-dn",
            *ffmpeg.safe_input_args(), "-i", path,
            "-vf", f"scale={width}:{height}:flags=area,format=gray,showinfo", *after, "-f", "rawvideo", "pipe:1",
        ],
        timeout=timeout,
    )
    size = width * height
    count = len(out) // size
    pixels = np.frombuffer(out[: count * size], dtype=np.uint8).reshape(count, height, width)
    times = [float(t) for t in _PTS_TIME.findall(err)]
    frames = [frame.astype(np.float32) / 255.0 for frame in pixels]
    return frames[: len(times)], times[: len(frames)]


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
