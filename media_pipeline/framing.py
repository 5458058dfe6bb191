"""Framing: where a fill crop sits, and where a photo's Ken Burns move goes, from people and what stands out.

A fill crop keeps a fixed share of the picture (a 16:9 clip in a 9:16 frame keeps
a third of its width); centred, it often keeps a lamp post and loses the cyclist
beside it, or half a face. People come first: where look.py's samples of a
segment's footage show faces or people (people.py, confirmed by a second
sample), the crop holds the subject whole (a person's body, or the face of a
close shot), still when one window holds it all along, else moving evenly
from where it is at the segment's start to where it is at its end (a straight
line fitted through the samples follows someone walking). Two people too far
apart for one window: the crop holds the larger (the one it held before, when
similar). With nobody there, the crop moves off centre only when the window
there holds clearly more of what stands out than the centred one, so a shot
where nothing does stays centred.

Measured like the music's loudness, after planning and before rendering:
`with_focus(plan)` returns the plan with each segment's focus set. Framing never
fails a job: a visual that cannot be sampled keeps its centred crop.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from .errors import MediaError
from .facts import MediaInfo
from .geometry import crop_share
from .look import SAMPLE_TIMEOUT, Look, Sample, sample_visual
from .people import FACE, Box, persistent
from .plan import BLUR, FILL, Motion, Plan, Segment
from .style import reframe_for

# A window leaves the centre only when it holds this much more of what stands out than
# the centred one, and STANDS_OUT times what it would hold were it spread evenly: above
# what pure grain reaches, below real subjects (set on grain and the shared clips and photos:
# benchmarks/README.md, "Framing thresholds").
CLEARLY_BETTER = 1.15
STANDS_OUT = 1.5
# A close-up never leaves out a spot that stands out this strongly: a tenth of the axis
# holding this many times its even share of the squared map (set between a grainy ground and
# the subjects of the shared photos: same section).
SPOT = 0.1
SPOT_STANDS_OUT = 3.0
# Samples this far outside a segment's footage still count for it (keyframes can be sparse).
NEARBY = 2.0
# ... and this far for its people, when just one sample NEARBY shows them.
FOLLOW = 4.0
# A face's box (the cascade's: brows to mouth) grown to the head a crop must keep, as shares of its
# size: hair and ears at the sides, forehead above, chin below (measured on the astronaut photo's box).
HEAD_SIDES = 0.25
HEAD_ABOVE = 0.45
HEAD_BELOW = 0.3
# A crop still when it holds every sample's subject: it moves only when the subject leaves a window
# this much smaller than the crop (a margin for the frames between samples).
STILL_MARGIN = 0.9
# A second subject is chosen over the one held in the previous sample only when this much larger.
SWITCH = 2.0


def with_focus(plan: Plan, survey: Sequence[Look] | None = None, *, timeout: float = SAMPLE_TIMEOUT) -> Plan:
    """The plan with each segment's reframe fitted to the output (style.reframe_for), its fill crops holding
    the people in them (or centred on what stands out), and its photos' moves going towards them.

    survey: look.survey's look at each visual, when the caller has it; otherwise
    just the footage the plan uses is sampled here.
    """
    segments = [_fitted(seg, plan) for seg in plan.segments]
    for visual, info in enumerate(plan.visuals):
        used = [i for i, seg in enumerate(segments) if seg.visual == visual and _needs_focus(seg, info, plan)]
        if not used:
            continue
        if survey is not None:
            samples = survey[visual].samples
        else:
            try:
                samples = _sample(info, [segments[i] for i in used], timeout)
            except MediaError:
                continue  # a visual that cannot be sampled keeps the planner's framing
        for i in used:
            segments[i] = _framed(segments[i], info, plan, samples)
    return dataclasses.replace(plan, segments=tuple(segments))


def _fitted(seg: Segment, plan: Plan) -> Segment:
    """The segment with its style's reframe fitted to the output's shape (style.reframe_for: no bars on a phone)."""
    mode = reframe_for(seg.reframe, plan.visuals[seg.visual], plan.width, plan.height)
    return seg if mode == seg.reframe else dataclasses.replace(seg, reframe=mode)


def best_centre(profile: np.ndarray, share: float, peaks: np.ndarray | None = None) -> float | None:
    """Centre (0..1) of the window of `share` of the axis holding most of `profile`.

    None when no window holds CLEARLY_BETTER times what the centred one does, or when
    nothing stands out (the best window holds under STANDS_OUT times an even share).
    peaks: the same profile of the squared map, if given, places the window once it
    is known to move: centred on the strongest spot rather than on the most texture.
    """
    bins = len(profile)
    size = max(1, min(bins, int(round(share * bins))))
    if size >= bins or not profile.any():
        return None
    # What sits at a window's edges counts a quarter: a subject should end up well inside the frame.
    sums = np.convolve(profile, _taper(size, edge=0.25), mode="valid")  # sums[k]: bins k .. k+size-1
    centred = sums[(bins - size) // 2]
    best = int(np.argmax(sums))
    even = float(profile.sum()) * float(_taper(size, edge=0.25).sum()) / bins
    if sums[best] < CLEARLY_BETTER * centred or sums[best] < STANDS_OUT * even:
        return None
    if peaks is not None and peaks.any():
        best = int(np.argmax(np.convolve(peaks, _taper(size, edge=0.0), mode="valid")))
    centre = min(max((best + size / 2) / bins, share / 2), 1.0 - share / 2)
    # Four decimals for the plan's JSON, rounded towards the middle so the window stays inside.
    return math.floor(centre * 1e4) / 1e4 if centre > 0.5 else math.ceil(centre * 1e4) / 1e4


def _taper(size: int, *, edge: float) -> np.ndarray:
    """Window weights: 1 in the middle, `edge` at either end."""
    return 1.0 - (1.0 - edge) * np.abs(np.linspace(-1.0, 1.0, size))


# ---------------------------------------------------------------- each segment


def _needs_focus(seg: Segment, info: MediaInfo, plan: Plan) -> bool:
    """A fill crop that cuts part of the picture away, or a photo's move."""
    crops = seg.reframe == FILL and crop_share(info, plan.width, plan.height)[0] != ""
    return crops or (info.is_still and seg.motion is not None)


def _framed(seg: Segment, info: MediaInfo, plan: Plan, samples: Sequence[Sample]) -> Segment:
    axis, share = crop_share(info, plan.width, plan.height)
    people = _people_for(seg, info, samples)
    if seg.reframe == FILL and axis:
        held = hold_people(people, axis, share, seg.source_in, seg.source_out)
        if held is not None:
            start, end = held
            if axis == "x":
                seg = dataclasses.replace(seg, focus_x=start, focus_y=0.5, focus_x_to=end)
            else:
                seg = dataclasses.replace(seg, focus_x=0.5, focus_y=start, focus_y_to=end)
            if seg.motion is None:
                return seg
    seen = [boxes for _, boxes in people if boxes]
    if info.is_still and seg.motion is not None and seen:
        # A photo's close-up goes to its people, whatever stands out besides them.
        composition = _composition(seg.reframe, info, plan, seg.focus_x, seg.focus_y)
        return dataclasses.replace(seg, motion=_on_people(seg.motion, seen[0], composition))
    weights = _weights_for(seg, info, samples)
    if weights is None:
        return seg
    focus_x, focus_y = 0.5, 0.5
    if seg.reframe == FILL and axis:
        centre = best_centre(_profile(weights, axis), share, _profile(weights**2, axis))
        if centre is not None:
            focus_x, focus_y = (centre, 0.5) if axis == "x" else (0.5, centre)
    motion = seg.motion
    if motion is not None:
        framed = (focus_x, focus_y) != (0.5, 0.5)
        motion = _towards(motion, weights, _composition(seg.reframe, info, plan, focus_x, focus_y), framed=framed)
    return dataclasses.replace(seg, focus_x=focus_x, focus_y=focus_y, motion=motion)


# ---------------------------------------------------------------- people


def hold_people(
    found: Sequence[tuple[float, Sequence[Box]]], axis: str, share: float, start: float, end: float
) -> tuple[float, float | None] | None:
    """Where a crop keeping `share` of the axis is centred to hold the people found, at `start` and `end`.

    found: (time, boxes) of the samples around the footage, already confirmed (people.persistent).
    Returns (centre, None) for a still crop, (centre at start, centre at end) for one that moves
    evenly, or None when nobody was found (the caller falls back to what stands out).
    """
    spans: list[tuple[float, tuple[float, float]]] = []
    held: tuple[float, float] | None = None
    for time, boxes in sorted(found, key=lambda f: f[0]):
        if boxes:
            held = _subject(boxes, axis, share, held)
            spans.append((time, held))
    if not spans:
        return None
    times = np.array([t for t, _ in spans])
    centres = np.array([(a + b) / 2 for _, (a, b) in spans])
    if len(spans) == 1 or np.ptp(times) < 1e-6:
        lo, hi = min(s[0] for _, s in spans), max(s[1] for _, s in spans)
        return _inside((lo + hi) / 2, share), None
    # Where the subject is over the segment: a straight line through its centres (which follows
    # someone walking, past the last sample that saw them), at the ends and at the samples between.
    slope, intercept = np.polyfit(times, centres, 1)
    half = float(np.median([(b - a) / 2 for _, (a, b) in spans]))
    ends = [(slope * t + intercept - half, slope * t + intercept + half) for t in (start, end)]
    over = [s for t, s in spans if start <= t <= end] + ends
    lo, hi = min(a for a, _ in over), max(b for _, b in over)
    if hi - lo <= share * STILL_MARGIN:
        return _inside((lo + hi) / 2, share), None
    at_start = _inside(float(slope * start + intercept), share)
    at_end = _inside(float(slope * end + intercept), share)
    if abs(at_end - at_start) < 1e-3:
        return at_start, None
    return at_start, at_end


def _subject(
    boxes: Sequence[Box], axis: str, share: float, before: tuple[float, float] | None
) -> tuple[float, float]:
    """The span along the axis that one sample's crop must hold.

    Everyone, when they fit in one window; otherwise one of them: the one held before unless
    another is SWITCH times larger, else the largest. A body wider (or taller) than the window
    gives way to its face, or to its head end.
    """
    spans = [_keep(box, axis, share, boxes) for box in boxes]
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    if hi - lo <= share * STILL_MARGIN:
        return lo, hi
    size = [(b.w * b.h) for b in boxes]
    largest = int(np.argmax(size))
    if before is not None:
        centre = (before[0] + before[1]) / 2
        nearest = min(range(len(spans)), key=lambda k: abs((spans[k][0] + spans[k][1]) / 2 - centre))
        if size[largest] < SWITCH * size[nearest]:
            return spans[nearest]
    return spans[largest]


def _keep(box: Box, axis: str, share: float, boxes: Sequence[Box]) -> tuple[float, float]:
    """What of one face or person must stay inside the crop, along the axis."""
    if box.kind == FACE:
        if axis == "x":
            return box.x - HEAD_SIDES * box.w, box.right + HEAD_SIDES * box.w
        return box.y - HEAD_ABOVE * box.h, box.bottom + HEAD_BELOW * box.h
    lo, hi = box.span(axis)
    if hi - lo <= share * STILL_MARGIN:
        return lo, hi
    faces = [f for f in boxes if f.kind == FACE and f.x >= box.x and f.right <= box.right
             and f.y >= box.y and f.bottom <= box.bottom]
    if faces:
        return _keep(faces[0], axis, share, ())
    if axis == "y":  # a standing body taller than the window: its head and shoulders
        return lo, lo + share * STILL_MARGIN
    return lo, hi


def _on_people(
    motion: Motion, boxes: Sequence[Box], composition: tuple[tuple[float, float], tuple[float, float]]
) -> Motion:
    """The move with its close-up (the zoomed end) centred on the people of a photo, its wide end centred."""
    zoom = max(motion.zoom_from, motion.zoom_to)
    if zoom <= 1.0:
        return motion
    close = []
    for axis, (lo, hi) in zip(("x", "y"), composition):
        share = (hi - lo) / zoom  # the close-up's window, in shares of the photo
        a, b = _subject(boxes, axis, share, None)
        close.append(_inside(((a + b) / 2 - lo) / (hi - lo), 1.0 / zoom))
    if motion.zoom_to >= motion.zoom_from:
        return dataclasses.replace(motion, x_from=0.5, y_from=0.5, x_to=close[0], y_to=close[1])
    return dataclasses.replace(motion, x_from=close[0], y_from=close[1], x_to=0.5, y_to=0.5)


def _inside(centre: float, share: float) -> float:
    """A centre moved just enough for the window to stay inside the picture, rounded for the plan's JSON."""
    centre = min(max(centre, share / 2), 1.0 - share / 2)
    return math.floor(centre * 1e4) / 1e4 if centre > 0.5 else math.ceil(centre * 1e4) / 1e4


def _people_for(seg: Segment, info: MediaInfo, samples: Sequence[Sample]) -> list[tuple[float, tuple[Box, ...]]]:
    """Confirmed faces and people of the samples in (or NEARBY) the segment's footage."""
    confirmed = persistent([(s.time, s.people) for s in samples])
    if info.is_still:
        return confirmed[:1]
    near = [(t, boxes) for t, boxes in confirmed if seg.source_in - NEARBY <= t <= seg.source_out + NEARBY]
    if sum(1 for _, boxes in near if boxes) != 1:
        return near  # seen often enough to place, or nobody there
    # Seen once close by (someone leaving the frame is seldom detected on the way out): the samples
    # further off say where they were heading.
    return [(t, boxes) for t, boxes in confirmed if seg.source_in - FOLLOW <= t <= seg.source_out + FOLLOW]


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

    Fill: the crop window. Letterbox: the photo itself (it moves inside fixed
    bars). Blur: the whole photo plus the margins the fit leaves (beyond 0..1),
    where the move would show only background.
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
    if mode != BLUR or not axis:
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
    share = 1.0 / zoom
    # A close-up is about one thing: the strongest spot counts for far more than the rest.
    peak = weights**2
    profiles = [_on_composition(_profile(peak, axis), span) for axis, span in zip(("x", "y"), composition)]
    target = [_axis_target(profile, share) for profile in profiles]
    zooming_in = motion.zoom_to >= motion.zoom_from
    if target == [None, None] and not framed:
        # The planner's move stays, unless its close-up would leave out a spot that stands out.
        planned = (motion.x_to, motion.y_to) if zooming_in else (motion.x_from, motion.y_from)
        close_x, close_y = (_keep_spot(profile, share, c) for profile, c in zip(profiles, planned))
        if (close_x, close_y) == planned:
            return motion
        if zooming_in:
            return dataclasses.replace(motion, x_to=close_x, y_to=close_y)
        return dataclasses.replace(motion, x_from=close_x, y_from=close_y)
    close_x, close_y = (
        t if t is not None else _keep_spot(profile, share, 0.5) for t, profile in zip(target, profiles)
    )
    if zooming_in:
        return dataclasses.replace(motion, x_from=0.5, y_from=0.5, x_to=close_x, y_to=close_y)
    return dataclasses.replace(motion, x_from=close_x, y_from=close_y, x_to=0.5, y_to=0.5)


def _on_composition(profile: np.ndarray, span: tuple[float, float]) -> np.ndarray:
    """The photo's profile laid out over the composition's axis (zero in its margins)."""
    lo, hi = span
    bins = len(profile)
    positions = lo + (np.arange(bins * 2) + 0.5) / (bins * 2) * (hi - lo)  # composition bins, in photo units
    inside = (positions >= 0) & (positions < 1)
    resampled = np.zeros(len(positions))
    resampled[inside] = profile[np.minimum((positions[inside] * bins).astype(int), bins - 1)]
    return resampled


def _axis_target(profile: np.ndarray, share: float) -> float | None:
    """Where on the composition's axis (0..1 of it) a window of `share` of it holds most of the profile."""
    centre = best_centre(profile, share)
    if centre is None:
        return None
    reach = share / 2  # the window must stay inside the composition
    return round(min(max(centre, reach), 1.0 - reach), 4)


def _keep_spot(profile: np.ndarray, share: float, centre: float) -> float:
    """`centre`, moved just enough that a window of `share` keeps the axis's standout spot well inside.

    Unchanged when no spot stands out (SPOT_STANDS_OUT) or the window already holds it.
    """
    bins = len(profile)
    size = max(1, round(SPOT * bins))
    if size >= bins or not profile.any():
        return centre
    sums = np.convolve(profile, np.ones(size), mode="valid")
    k = int(np.argmax(sums))
    # The even share is over the photo only: the composition's margins hold nothing.
    if sums[k] < SPOT_STANDS_OUT * float(profile.sum()) * size / np.count_nonzero(profile):
        return centre
    reach, pad = share / 2, share / 10
    spot_lo, spot_hi = k / bins, (k + size) / bins
    lowest, highest = spot_hi + pad - reach, spot_lo - pad + reach
    moved = (spot_lo + spot_hi) / 2 if lowest > highest else min(max(centre, lowest), highest)
    moved = min(max(moved, reach), 1.0 - reach)
    return centre if abs(moved - centre) < 1e-4 else round(moved, 4)


# ---------------------------------------------------------------- sampling


def _sample(info: MediaInfo, segments: Sequence[Segment], timeout: float) -> tuple[Sample, ...]:
    """Samples of just the footage these segments use (and NEARBY around it)."""
    if info.is_still:
        return sample_visual(info, timeout=timeout)
    start = max(0.0, min(seg.source_in for seg in segments) - NEARBY)
    end = max(seg.source_out for seg in segments) + NEARBY
    return sample_visual(info, start=start, end=end, timeout=timeout)
