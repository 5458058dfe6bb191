"""The edit planner: media facts, the song's beats and a style in; a beat-synced Plan out.

A window without a steady beat is cut on the song's own events instead (its section
changes and strongest onsets), and on an even clock when it has too few of those.

Pure and deterministic: no I/O, no ffmpeg. A `seed` other than 0 (a remix) picks another of the
equally good edits (another order of the visuals, phase of the style's pacing and transitions, trims,
and music window where the song offers one) from a generator seeded with it, so the same seed gives
the same plan; seed 0 is the planner's own first choice. Internally every time
is a whole output frame, so each segment is a whole number of frames and a
rendered chain of crossfades cannot drift off the beat; a cut therefore sits on
the frame nearest its beat (within half a frame).
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
import zlib
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import PurePath

import numpy as np

from .errors import PlanError
from .facts import IMAGE, VIDEO, BeatGrid, Liveliness, MediaInfo
from .limits import (
    ASPECTS,
    DEFAULT_ASPECT,
    DEFAULT_DURATION,
    FPS,
    MAX_DURATION,
    MAX_VISUALS,
    MIN_CLIP,
    MIN_DURATION,
    MIN_SONG,
)
from .music_window import choose_window, mean_energy
from .plan import BEATS, CUT, EVEN, EVENTS, Motion, Plan, Segment
from .style import Style

MIN_GAP = 0.4  # seconds: cuts closer than this read as a glitch
MIN_SPEED = 0.5  # slower than this looks broken rather than slow-motion
MIN_WINDOW_BEATS = 4  # fewer beats than this in the window: treat the song as beatless
BEATLESS_SLOT = 2.5  # seconds per cut when there is no beat to cut on
BEATLESS_BEAT = 0.75  # seconds: what "a beat" of transition means without a beat
# Without a beat, cuts go on the song's events (its onsets and section changes), paced as the style
# paces beats with a beat counted as EVENT_BEAT (CLEAN_VLOG's cuts then come every BEATLESS_SLOT on average).
EVENT_BEAT = 1.0
EVENT_REACH = 1.5  # a slot may be this much shorter or longer than the pacing asks, to end on a strong event
PACE_WEIGHT = 2.0  # an event's strength (0..1) is weighed against this times the log of how far off it is
SECTION_SPACING = 1.25  # seconds: a section change this close to the last one or to either end isn't cut on
SECTION_SNAP = 0.3  # seconds: a section change is cut on the strongest event this near it (changes are coarse)
OFF_EVENT_SHARE = 0.25  # more of the cuts than this off every event (too few events): cut evenly instead
LOUD = 1.3  # local energy / window energy above which cuts come twice as fast
QUIET = 0.7  # ... and below which they come half as fast
MAX_SLOWED_BEATS = 8  # quiet passages slow the pacing down to at most this
LONG_BEATS = 4  # segments this long (in beats) start on a downbeat
DOWNBEAT_REACH = 2  # beats a cut may move to land on a downbeat
TRANSITION_SHARE = 0.45  # a transition takes at most this share of either neighbouring slot
LIVELY_FROM, LIVELY_TO = 0.10, 0.20  # first use of a long clip starts this far in (the intro is often dull)
# ... unless the clip's liveliness (look.py) shows a stretch this much livelier than that one.
LIVELIER = 1.25
LIVELY_STEP = 0.25  # seconds between the trims compared
# A repeat never shows again footage from a clip's last this many segments (when it can be helped).
RECENT_USES = 3
_SLIVER = 1e-3  # seconds: float noise, not footage

# A seeded trim may start on any stretch this close to the liveliest one's activity.
SEED_LIVELY = 0.85
CUT_SLACK = 0.04  # a clip's own cut this close to a segment's edge (about a frame) is at the edge
_PANS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1))

BEATLESS_NOTE = "No steady beat was found in the music, so the cuts are evenly spaced."
EVENTS_NOTE = "No steady beat was found in the music, so the cuts follow its strongest accents and changes."
OFF_BEAT_NOTE = "A few cuts fall between beats so that every clip fits."
OFF_EVENT_NOTE = "A few cuts fall between the music's accents, where it has none or so that every clip fits."


@dataclass(frozen=True)
class _Rhythm:
    """The output timeline in frames: its length, beats and downbeats.

    Without a beat, `beats` holds the frames of the song's events (the cuts may land on any).
    """

    fps: int
    frames: int
    beats: tuple[int, ...]  # ascending, unique, all < frames
    downbeats: frozenset[int]  # a subset of beats
    gap: int  # MIN_GAP in frames


def plan_edit(
    visuals: Sequence[MediaInfo],
    music: MediaInfo,
    grid: BeatGrid,
    style: Style,
    *,
    duration: float = DEFAULT_DURATION,
    aspect: str = DEFAULT_ASPECT,
    fps: int = FPS,
    size: tuple[int, int] | None = None,
    liveliness: Sequence[Liveliness | None] = (),
    seed: int = 0,
) -> Plan:
    """Plan a beat-synced edit of `visuals` (1..5 clips or photos) to `music`.

    `size` overrides the frame size ASPECTS gives `aspect` (for small test renders).
    `liveliness` (one per visual, from look.py) lets each clip's first trim start where the most happens.
    `seed`: 0 for the planner's first choice, another number for another edit of the same files.
    Raises PlanError (a ValueError), with a message fit for the creator, on a request it can't plan.
    """
    width, height = _check_request(visuals, duration, aspect, fps, size)
    song = _song_length(music, grid)
    frames = math.floor(min(duration, song) * fps + 1e-6)
    length = frames / fps
    music_start, _ = choose_window(grid, length, seed=seed)
    given = tuple(visuals)
    order = _order(len(given), seed)
    visuals = [given[i] for i in order]
    liveliness = [liveliness[i] if i < len(liveliness) else None for i in order]
    style = _phased(style, seed)
    beats = _beats_in_window(grid.beats, music_start, length)
    beatless = not grid.has_beat or len(beats) < MIN_WINDOW_BEATS
    level = _loudness(grid, music_start, length, fps)
    notes = [_short_song_note(song, length, duration)] if song < duration - 1e-6 else []
    rhythm, bounds, basis, off_beat = _slot_bounds(
        grid, beats, beatless, music_start, fps, frames, style, visuals, level
    )
    if basis == EVEN:
        notes.append(BEATLESS_NOTE)
    elif basis == EVENTS:
        notes.append(EVENTS_NOTE)
    if off_beat:
        notes.append(OFF_EVENT_NOTE if basis == EVENTS else OFF_BEAT_NOTE)
    beat = BEATLESS_BEAT if beatless else _beat_length(beats)
    transitions = _transitions(rhythm, bounds, visuals, style, beat)
    lively = [liveliness[i] if i < len(liveliness) else None for i in range(len(visuals))]
    segments = _segments(rhythm, bounds, transitions, visuals, style, lively, seed)
    # Segments were planned on the visuals in `order`; they name them by the creator's numbering.
    segments = tuple(dataclasses.replace(seg, visual=order[seg.visual]) for seg in segments)
    notes += _slow_motion_notes(segments, given)
    return Plan(
        style=style.name,
        width=width,
        height=height,
        fps=fps,
        duration=length,
        requested_duration=float(duration),
        visuals=given,
        music=music,
        music_start=music_start,
        music_end=music_start + length,
        tempo=grid.tempo,
        beats=beats,
        beatless=beatless,
        segments=segments,
        notes=tuple(notes),
        aspect_ratio=aspect,
        cut_basis=basis,
    )


# --- another edit of the same files (a seed) -----------------------------------------------------


def _seeded(seed: int, purpose: str) -> random.Random:
    """A generator for one decision: the same seed gives the same choices, whatever else changes."""
    return random.Random(f"{purpose}:{seed}")


def _order(count: int, seed: int) -> list[int]:
    """The order the visuals take turns in: the creator's for seed 0, a shuffle of it otherwise."""
    order = list(range(count))
    if seed:
        _seeded(seed, "order").shuffle(order)
    return order


def _phased(style: Style, seed: int) -> Style:
    """The style with its pacing pattern and transitions starting at another place in their cycles."""
    if not seed:
        return style
    rng = _seeded(seed, "phase")

    def rotated(items: tuple) -> tuple:
        shift = rng.randrange(len(items)) if items else 0
        return tuple(items[shift:]) + tuple(items[:shift])

    return dataclasses.replace(
        style, beats_per_cut=rotated(style.beats_per_cut), transitions=rotated(style.transitions)
    )


# --- the request ---------------------------------------------------------------------------------


def _check_request(
    visuals: Sequence[MediaInfo], duration: float, aspect: str, fps: int, size: tuple[int, int] | None
) -> tuple[int, int]:
    """The output frame size; PlanError if anything asked for can't be planned."""
    if not 1 <= len(visuals) <= MAX_VISUALS:
        raise PlanError(f"Choose between 1 and {MAX_VISUALS} clips or photos (got {len(visuals)}).")
    for number, info in enumerate(visuals, start=1):
        if info.kind not in (VIDEO, IMAGE):
            raise PlanError(f"Item {number} is {info.kind or 'unknown'}, not a video clip or a photo.")
        if info.kind == VIDEO and not info.duration >= MIN_CLIP:
            raise PlanError(f"Clip {number} is {info.duration:.2f} s long; clips need at least {MIN_CLIP:g} s.")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise PlanError(
            f"The video can be {MIN_DURATION:g} to {MAX_DURATION:g} seconds long (asked for {duration:g})."
        )
    if aspect not in ASPECTS:
        raise PlanError(f"Unknown aspect ratio {aspect!r}; choose one of {', '.join(ASPECTS)}.")
    if not isinstance(fps, int) or not 1 <= fps <= 120:
        raise PlanError(f"The frame rate must be a whole number from 1 to 120 (got {fps!r}).")
    if size is None:
        return ASPECTS[aspect]
    width, height = size
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise PlanError(f"The frame size must be two positive even numbers (got {width}x{height}).")
    return width, height


def _song_length(music: MediaInfo, grid: BeatGrid) -> float:
    """The shorter of what ffprobe and the beat analysis say, so the window never runs off the end."""
    known = [d for d in (grid.duration, music.duration) if d > 0]
    song = min(known, default=0.0)
    if song < MIN_SONG:
        raise PlanError(f"The song is {song:.1f} s long; choose a song of at least {MIN_SONG:g} seconds.")
    return song


def _short_song_note(song: float, length: float, requested: float) -> str:
    return f"The song is only {song:.1f} s long, so the video is {length:.1f} s instead of {requested:g} s."


# --- the rhythm ----------------------------------------------------------------------------------


def _beats_in_window(beats: Sequence[float], start: float, length: float) -> tuple[float, ...]:
    """The song's beats inside the window, in seconds on the output timeline."""
    return tuple(round(max(0.0, b - start), 6) for b in beats if start - 1e-6 <= b < start + length)


def _rhythm(grid: BeatGrid, beats: Sequence[float], start: float, fps: int, frames: int) -> _Rhythm:
    beat_frames = tuple(sorted({f for b in beats if (f := round(b * fps)) < frames}))
    downbeats = set()
    for d in grid.downbeats:
        if beat_frames and 0 <= d - start < frames / fps:
            nearest = _nearest(beat_frames, (d - start) * fps)
            # Trust a downbeat only when the beat tracker also called it a beat.
            if abs(nearest - (d - start) * fps) <= 2:
                downbeats.add(nearest)
    return _Rhythm(fps, frames, beat_frames, frozenset(downbeats), math.ceil(MIN_GAP * fps - 1e-9))


def _nearest(frames: Sequence[int], at: float) -> int:
    i = bisect_left(frames, at)
    return min(frames[max(0, i - 1) : i + 1], key=lambda f: (abs(f - at), f))


def _beat_length(beats: Sequence[float]) -> float:
    """Seconds per beat in the window: the median gap, robust to a few missed or extra beats."""
    return statistics.median(b - a for a, b in pairwise(beats))


def _loudness(grid: BeatGrid, start: float, length: float, fps: int) -> Callable[[int, int], float]:
    """Energy between two output frames relative to the whole window's: above 1 is busier than usual."""
    overall = mean_energy(grid, start, start + length)

    def level(first: int, last: int) -> float:
        if overall <= 0:
            return 1.0
        return mean_energy(grid, start + first / fps, start + last / fps) / overall

    return level


# --- where the cuts go ---------------------------------------------------------------------------
# `bounds` is the ascending list of slot boundaries in frames: 0, every cut, the last frame.


def _slot_bounds(
    grid: BeatGrid,
    beats: Sequence[float],
    beatless: bool,
    start: float,
    fps: int,
    frames: int,
    style: Style,
    visuals: Sequence[MediaInfo],
    level: Callable[[int, int], float],
) -> tuple[_Rhythm, list[int], str, bool]:
    """The rhythm cut on, where the cuts go, what they land on (cut_basis), and whether some had to
    leave the beats (or events) so every visual fits."""
    pattern = style.beats_per_cut or (LONG_BEATS,)
    off = False
    if not beatless:
        r, basis = _rhythm(grid, beats, start, fps, frames), BEATS
        bounds = _paced_bounds(r, pattern, level)
    elif (on_events := _event_bounds(grid, start, fps, frames, pattern, level)) is not None:
        (r, bounds, off), basis = on_events, EVENTS
    else:
        r, basis = _rhythm(grid, (), start, fps, frames), EVEN
        bounds = _even_bounds(r.frames, max(len(visuals), round(r.frames / r.fps / BEATLESS_SLOT)))
    bounds, squeezed = _split_for_everyone(r, bounds, len(visuals))
    bounds, trimmed = _fit_clips(r, bounds, visuals)
    return r, bounds, basis, (off or squeezed or trimmed) and basis != EVEN


def _even_bounds(frames: int, count: int) -> list[int]:
    return [round(i * frames / count) for i in range(count + 1)]


def _paced_bounds(r: _Rhythm, pattern: Sequence[int], level: Callable[[int, int], float]) -> list[int]:
    """Cuts on beats following the style's pattern, faster where the music is busier, slower where calm."""
    bounds = [0]
    count = _beats_per_cut(r, pattern, 0, 0, level)
    while (i := _next_cut(r, bounds[-1], count)) is not None:
        count = _beats_per_cut(r, pattern, len(bounds), i, level)
        if count >= LONG_BEATS:
            i = _snap_to_downbeat(r, bounds[-1], i)
        bounds.append(r.beats[i])
    bounds.append(r.frames)
    return bounds


def _event_bounds(
    grid: BeatGrid, start: float, fps: int, frames: int, pattern: Sequence[int], level: Callable[[int, int], float]
) -> tuple[_Rhythm, list[int], bool] | None:
    """Cuts on the song's events for a window with no beat: (rhythm, bounds, whether a cut missed every event).

    Every section change is cut on (unless within SECTION_SPACING of the last one or of either
    end); between them a walk paced as _paced_bounds is, with a beat counted as EVENT_BEAT,
    ends each slot on the strongest event near the length it wants. None when the window holds
    too few events to cut on (fewer than MIN_WINDOW_BEATS, or more than OFF_EVENT_SHARE of the
    cuts would miss every event): the even clock is used instead.
    """
    strengths = grid.event_strengths if len(grid.event_strengths) == len(grid.events) else ()
    salience: dict[int, float] = {}  # event frame -> its strength (the strongest of that frame's events)
    for k, t in enumerate(grid.events):
        f = round((t - start) * fps)
        if 0 < f < frames:
            salience[f] = max(salience.get(f, 0.0), min(1.0, max(0.0, strengths[k])) if strengths else 1.0)
    if len(salience) < MIN_WINDOW_BEATS:
        return None
    gap = math.ceil(MIN_GAP * fps - 1e-9)
    spacing = max(gap, round(SECTION_SPACING * fps))
    sections: list[int] = []
    snap = SECTION_SNAP * fps
    for t in sorted(grid.sections):
        f = round((t - start) * fps)
        f = max((e for e in salience if abs(e - f) <= snap), key=lambda e: (salience[e], -abs(e - f), -e), default=f)
        if (sections[-1] if sections else 0) + spacing <= f <= frames - spacing:
            sections.append(f)
    r = _Rhythm(fps, frames, tuple(sorted(set(salience) | set(sections))), frozenset(), gap)
    events = sorted(salience)
    bounds, missed = [0], 0
    for end in [*sections, frames]:
        while True:
            current = bounds[-1]
            slot = _event_slot(r, pattern, len(bounds) - 1, current, level)
            longest = _longest(slot, fps)
            if end - current <= longest:
                break  # the rest of this stretch is one slot
            latest = end - max(gap, math.ceil(slot / EVENT_REACH))  # the next slot's room before `end`
            if current + gap > latest:
                break
            cut = _strongest_event(events, salience, current, slot, fps, latest)
            if cut is None:  # no event anywhere near: cut where the pacing wants
                cut, missed = min(max(current + round(slot), current + gap), latest), missed + 1
            bounds.append(cut)
        if end < frames:
            bounds.append(end)
    bounds.append(frames)
    if missed > OFF_EVENT_SHARE * (len(bounds) - 2):
        return None
    return r, bounds, missed > 0


def _event_slot(r: _Rhythm, pattern: Sequence[int], n: int, at: int, level: Callable[[int, int], float]) -> float:
    """Frames wanted for slot `n` from frame `at` without a beat: _beats_per_cut's count of EVENT_BEATs."""
    base = max(1, pattern[n % len(pattern)])
    beat = EVENT_BEAT * r.fps
    return _paced(base, level(at, min(r.frames, at + round(max(base, 2) * beat)))) * beat


def _longest(slot: float, fps: int) -> float:
    """Frames a slot that wants `slot` may run to, to end on a stronger event: EVENT_REACH times as
    long, but no longer than MAX_SLOWED_BEATS of EVENT_BEAT unless it wants that already."""
    return min(EVENT_REACH * slot, max(slot, MAX_SLOWED_BEATS * EVENT_BEAT * fps))


def _strongest_event(
    events: Sequence[int], salience: dict[int, float], current: int, slot: float, fps: int, latest: int
) -> int | None:
    """The event to end a slot on that starts at frame `current` and wants `slot` frames; never after `latest`.

    From 1/EVENT_REACH of `slot` to _longest, the event with the most strength less PACE_WEIGHT
    times the log of how far off the length is; else the nearest by that ratio from MIN_GAP to
    twice `slot` (no longer than MAX_SLOWED_BEATS of EVENT_BEAT, unless _longest is); else None.
    """
    gap = math.ceil(MIN_GAP * fps - 1e-9)

    def off(f: int) -> float:
        return PACE_WEIGHT * abs(math.log((f - current) / slot))

    def between(first: float, last: float) -> list[int]:
        return list(events[bisect_left(events, first) : bisect_right(events, min(last, latest))])

    near = between(current + max(gap, slot / EVENT_REACH), current + _longest(slot, fps))
    if near:
        return max(near, key=lambda f: (salience[f] - off(f), -f))
    most = max(_longest(slot, fps), min(2 * slot, MAX_SLOWED_BEATS * EVENT_BEAT * fps))
    wider = between(current + gap, current + most)
    return min(wider, key=lambda f: (off(f), f), default=None)


def _beats_per_cut(
    r: _Rhythm, pattern: Sequence[int], n: int, beat: int, level: Callable[[int, int], float]
) -> int:
    """Beats for segment `n` starting at beat index `beat`: the pattern's, halved or doubled by the music."""
    base = max(1, pattern[n % len(pattern)])
    ahead = beat + max(base, 2)  # at least two beats, so one loud hit doesn't decide
    return _paced(base, level(r.beats[beat], r.beats[ahead] if ahead < len(r.beats) else r.frames))


def _paced(base: int, ratio: float) -> int:
    """`base` beats, halved where the music is `ratio` times busier than usual (LOUD), doubled where calm."""
    if ratio >= LOUD:
        return max(1, base // 2)
    if ratio <= QUIET:
        return max(base, min(2 * base, MAX_SLOWED_BEATS))
    return base


def _next_cut(r: _Rhythm, current: int, count: int) -> int | None:
    """Index of the beat `count` beats after `current`, pushed on past MIN_GAP; None if none fits."""
    i = bisect_right(r.beats, current) + count - 1
    while i < len(r.beats) and r.beats[i] - current < r.gap:
        i += 1
    if i >= len(r.beats) or r.beats[i] > r.frames - r.gap:
        return None
    return i


def _snap_to_downbeat(r: _Rhythm, current: int, i: int) -> int:
    """The downbeat nearest beat `i` (within DOWNBEAT_REACH beats) that keeps the gaps; else `i`."""
    near = [
        j
        for j in range(max(0, i - DOWNBEAT_REACH), min(len(r.beats), i + DOWNBEAT_REACH + 1))
        if r.beats[j] in r.downbeats and r.beats[j] - current >= r.gap and r.beats[j] <= r.frames - r.gap
    ]
    return min(near, key=lambda j: (abs(j - i), j), default=i)


def _beats_between(r: _Rhythm, first: int, last: int) -> int:
    return bisect_left(r.beats, last) - bisect_left(r.beats, first)


def _long_slots_on_downbeats(r: _Rhythm, bounds: list[int]) -> list[int]:
    """Split each slot of LONG_BEATS or more that starts off a downbeat at its first usable downbeat."""
    if not r.downbeats:
        return bounds
    result = [bounds[0]]
    for end in bounds[1:]:
        start = result[-1]
        if start not in r.downbeats and _beats_between(r, start, end) >= LONG_BEATS:
            split = next(
                (f for f in r.beats if f in r.downbeats and start + r.gap <= f <= end - r.gap), None
            )
            if split is not None:
                result.append(split)
        result.append(end)
    return result


def _split_for_everyone(r: _Rhythm, bounds: list[int], count: int) -> tuple[list[int], bool]:
    """At least `count` slots, splitting the longest on a beat near its middle; True if off a beat."""
    bounds = list(bounds)
    off_beat = False
    while len(bounds) - 1 < count:
        widest = sorted(range(len(bounds) - 1), key=lambda i: (bounds[i] - bounds[i + 1], i))
        split = next(
            (f for i in widest if (f := _beat_near_middle(r, bounds[i], bounds[i + 1])) is not None), None
        )
        if split is None:
            first, last = bounds[widest[0]], bounds[widest[0] + 1]
            if last - first < 2 * r.gap:
                return _even_bounds(r.frames, count), True
            split, off_beat = (first + last) // 2, True
        insort(bounds, split)
    return bounds, off_beat


def _beat_near_middle(r: _Rhythm, first: int, last: int) -> int | None:
    inside = [f for f in r.beats if first + r.gap <= f <= last - r.gap]
    return min(inside, key=lambda f: (abs(2 * f - first - last), f), default=None)


def _capacity(info: MediaInfo, fps: int) -> int | None:
    """The most frames a visual can fill: a clip at half speed; None for a photo (it can hold any length)."""
    if info.kind == IMAGE:
        return None
    return math.floor(info.duration / MIN_SPEED * fps + 1e-9)


def _fit_clips(r: _Rhythm, bounds: list[int], visuals: Sequence[MediaInfo]) -> tuple[list[int], bool]:
    """Split every slot its clip can't fill at half speed; the rest goes to the next visual in turn."""
    off_beat = False
    while True:
        bounds = _long_slots_on_downbeats(r, bounds)
        over = _first_overfull(r, bounds, visuals)
        if over is None:
            return bounds, off_beat
        first, last = bounds[over], bounds[over + 1]
        reach = first + (_capacity(visuals[over % len(visuals)], r.fps) or 0)
        reachable = [f for f in r.beats if first + r.gap <= f <= reach]
        if reachable and reachable[-1] <= last - r.gap:
            insort(bounds, reachable[-1])
        elif reachable and last < r.frames:
            # The beat is too near the next cut to split there: move that cut back onto it instead.
            bounds[over + 1] = reachable[-1]
        else:
            insort(bounds, max(first + r.gap, min(reach, last - r.gap)))
            off_beat = True


def _first_overfull(r: _Rhythm, bounds: list[int], visuals: Sequence[MediaInfo]) -> int | None:
    for i, (first, last) in enumerate(pairwise(bounds)):
        capacity = _capacity(visuals[i % len(visuals)], r.fps)
        if capacity is not None and last - first > capacity:
            return i
    return None


# --- transitions and segments --------------------------------------------------------------------


def _transitions(
    r: _Rhythm, bounds: list[int], visuals: Sequence[MediaInfo], style: Style, beat: float
) -> list[tuple[str, int]]:
    """(name, frames) of the transition into each slot. The first is a hard cut.

    A transition is an even number of frames, so its cut falls on a whole frame
    in its middle; it takes under half of either neighbouring slot and never
    pushes a clip below half speed.
    """
    slots = [last - first for first, last in pairwise(bounds)]
    spare = [_spare(visuals[i % len(visuals)], slot, r.fps) for i, slot in enumerate(slots)]
    wanted = math.floor(style.transition_beats * beat * r.fps / 2) * 2
    result = [(CUT, 0)]
    for k in range(1, len(slots)):
        name = style.transitions[(k - 1) % len(style.transitions)] if style.transitions else CUT
        cap = min(math.floor(TRANSITION_SHARE * min(slots[k - 1], slots[k])), spare[k - 1], spare[k])
        frames = min(wanted, cap - cap % 2)
        result.append((name, frames) if name != CUT and frames > 0 else (CUT, 0))
    return result


def _spare(info: MediaInfo, slot: int, fps: int) -> int:
    """Frames of transition a slot can add and still be filled by its visual at half speed."""
    capacity = _capacity(info, fps)
    return slot if capacity is None else max(0, capacity - slot)


def _segments(
    r: _Rhythm,
    bounds: list[int],
    transitions: list[tuple[str, int]],
    visuals: Sequence[MediaInfo],
    style: Style,
    liveliness: Sequence[Liveliness | None],
    seed: int = 0,
) -> tuple[Segment, ...]:
    used: dict[int, list[tuple[float, float]]] = {}  # per clip: source spans already shown
    segments = []
    for k, (first, last) in enumerate(pairwise(bounds)):
        name, into = transitions[k]
        out_of = transitions[k + 1][1] if k + 1 < len(transitions) else 0
        # The transition's frames sit half before the slot's first frame and half after it.
        first_frame, end_frame = first - into // 2, last + out_of // 2
        start, end = first_frame / r.fps, end_frame / r.fps
        which = k % len(visuals)
        info = visuals[which]
        if info.kind == IMAGE:
            source_in, source_out, speed = 0.0, end - start, 1.0
            motion = _ken_burns(k, k // len(visuals) + which, style.photo_zoom)
        else:
            spans = used.setdefault(which, [])
            source_in, source_out, speed = _clip_source(info, end - start, spans, liveliness[which], seed)
            spans.append((source_in, source_out))
            motion = None
        segments.append(
            Segment(
                visual=which,
                source_in=source_in,
                source_out=source_out,
                speed=speed,
                first_frame=first_frame,
                frames=end_frame - first_frame,
                overlap=into,
                fps=r.fps,
                transition=name,
                reframe=style.reframe,
                motion=motion,
            )
        )
    return tuple(segments)


def _clip_source(
    info: MediaInfo, length: float, used: Sequence[tuple[float, float]], lively: Liveliness | None, seed: int = 0
) -> tuple[float, float, float]:
    """(source_in, source_out, speed): a real-time trim if the clip is long enough, else the whole clip slowed."""
    if length <= info.duration:
        preferred = _lively_start(info, length, lively, seed)
        source_in = _least_overlap_start(info.duration, length, used, preferred)
        if lively is not None and lively.cuts:
            source_in = _within_one_shot(source_in, length, info.duration, lively.cuts, used)
        return source_in, source_in + length, 1.0
    speed = max(MIN_SPEED, info.duration / length)
    return 0.0, min(info.duration, length * speed), speed


def _within_one_shot(
    start: float, length: float, duration: float, cuts: Sequence[float], used: Sequence[tuple[float, float]]
) -> float:
    """`start`, or else the nearest start whose `length` seconds show one shot of the clip (repeating least).

    A clip's own change of shot inside a segment would be a cut off the beat. When
    every shot is shorter than the segment, `start` stands.
    """
    if not _straddles(start, length, cuts):
        return start
    latest = duration - length
    candidates = {min(max(c, 0.0), latest) for cut in cuts for c in (cut, cut - length)} | {0.0, latest}
    whole = [c for c in sorted(candidates) if not _straddles(c, length, cuts)]
    if not whole:
        return start
    return min(whole, key=lambda c: (_repeat_cost(c, c + length, used), abs(c - start)))


def _straddles(start: float, length: float, cuts: Sequence[float]) -> bool:
    return any(start + CUT_SLACK < cut < start + length - CUT_SLACK for cut in cuts)


def _lively_start(info: MediaInfo, length: float, lively: Liveliness | None = None, seed: int = 0) -> float:
    """Where a clip's first trim starts: on its liveliest stretch when one clearly stands out.

    Otherwise 10-20% in, past the usual dull start, fixed per file so the same
    inputs give the same plan. A seed other than 0 moves the usual start within that
    span, and takes any stretch nearly as lively (SEED_LIVELY) as the liveliest.
    """
    # Keyed on the file's name alone: a render host that copies the files to a scratch folder of each
    # job's own still gives the same files the same plan, on a retry and on another host.
    name = PurePath(info.path).name
    key = name if not seed else f"{name}:{seed}"
    share = LIVELY_FROM + (LIVELY_TO - LIVELY_FROM) * (zlib.crc32(key.encode()) % 1001) / 1000
    usual = min(share * info.duration, info.duration - length)
    if lively is None or len(lively.times) < 2:
        return usual
    starts = [k * LIVELY_STEP for k in range(int((info.duration - length) / LIVELY_STEP + 1e-9) + 1)]
    best = max(starts, key=lambda start: _activity(lively, start, length))  # the first of equals
    if _activity(lively, best, length) <= LIVELIER * _activity(lively, usual, length):
        return usual
    if seed:
        enough = SEED_LIVELY * _activity(lively, best, length)
        best = _seeded(seed, f"trim:{PurePath(info.path).name}").choice(
            [start for start in starts if _activity(lively, start, length) >= enough]
        )
    return best


def _activity(lively: Liveliness, start: float, length: float) -> float:
    """Mean liveliness over [start, start + length], read every tenth of a second between its samples."""
    at = np.linspace(start, start + length, max(1, int(length / 0.1)) + 1)
    return float(np.interp(at, lively.times, lively.levels).mean())


def _least_overlap_start(
    duration: float, length: float, used: Sequence[tuple[float, float]], preferred: float
) -> float:
    """Where to start `length` seconds of a clip to repeat as little as possible of what was shown.

    Once a short clip has been shown all but gaps shorter than the segment, it plays on from where it was, as a loop
    does, unless that would show again what its last few segments showed; then it goes round from
    what was shown longest ago. So footage seen seconds earlier is never shown again first, and the
    render reads the clip forward with one input rather than seeking back for every repeat.
    """
    latest = duration - length
    candidates = [used[-1][1] if used else preferred, preferred, 0.0, latest]
    candidates += [end for _, end in used] + [start for start, _ in used] + [start - length for start, _ in used]
    candidates = [min(max(c, 0.0), latest) for c in candidates]
    # min() keeps the first of equals: carrying on from the last use beats jumping around.
    best = min(candidates, key=lambda c: _repeat_cost(c, c + length, used))
    if _overlap(best, best + length, used) < _SLIVER:
        return best
    carrying_on = candidates[0]
    if _overlap(carrying_on, carrying_on + length, used[-RECENT_USES:]) < _SLIVER:
        return carrying_on
    return best


def _repeat_cost(first: float, last: float, used: Sequence[tuple[float, float]]) -> float:
    """Seconds of [first, last] already shown, each weighted by how recently: the latest use's fully, the first's least."""
    return sum((k + 1) / len(used) * _overlap(first, last, [span]) for k, span in enumerate(used))


def _overlap(first: float, last: float, spans: Sequence[tuple[float, float]]) -> float:
    return sum(max(0.0, min(last, end) - max(first, start)) for start, end in spans)


def _ken_burns(index: int, turn: int, zoom: float) -> Motion:
    """A slow zoom in (even `turn`) or out (odd) to `zoom`, panning in a direction set by `index`.

    The crop centre stays within 0.5/zoom of the picture's edges, so the crop never leaves it.
    """
    zoom = max(zoom, 1.0)
    dx, dy = _PANS[index % len(_PANS)]
    reach = 0.9 * (0.5 - 0.5 / zoom)
    x, y = 0.5 + dx * reach, 0.5 + dy * reach
    if turn % 2 == 0:
        return Motion(zoom_from=1.0, zoom_to=zoom, x_from=0.5, y_from=0.5, x_to=x, y_to=y)
    return Motion(zoom_from=zoom, zoom_to=1.0, x_from=x, y_from=y, x_to=0.5, y_to=0.5)


def _slow_motion_notes(segments: Sequence[Segment], visuals: Sequence[MediaInfo]) -> list[str]:
    slowed = sorted({s.visual for s in segments if s.speed < 1.0})
    return [
        f"Clip {i + 1} ({visuals[i].duration:.1f} s) is shorter than its moment, so it plays slowed down."
        for i in slowed
    ]
