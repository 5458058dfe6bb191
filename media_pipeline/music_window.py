"""Which part of the song the edit plays: the busiest stretch of the requested length, starting on a bar.

A song with no beat starts on a section change or a strong event instead, when one opens a stretch
nearly as busy as the busiest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .facts import BeatGrid

GRID_STEP = 0.5  # seconds between candidate starts when the song has no beat
SOUND_LEVEL = 0.1  # onset strength (0..1) at which the music counts as started
STRONG_EVENT = 0.5  # an event at least this strong (0..1) may open the window of a song with no beat ...
NEAR_BEST = 0.95  # ... when its stretch holds at least this share of the most onset energy any start gets
# A seed other than 0 (a remix) may open on any start whose stretch holds this share of the best one's energy:
# the song's other choruses, not its quiet intro.
SEED_NEAR_BEST = 0.9
_EPS = 1e-6


def mean_energy(grid: BeatGrid, start: float, end: float) -> float:
    """Mean onset strength of the song from `start` to `end` seconds; 0 where the envelope has no data."""
    rate = grid.envelope_rate
    if rate <= 0 or not grid.envelope or end <= start:
        return 0.0
    first = max(0, round(start * rate))
    last = max(first + 1, round(end * rate))
    # Divide by the span asked for, not the samples held, so missing data counts as silence.
    return sum(grid.envelope[first:last]) / (last - first)


def choose_window(grid: BeatGrid, duration: float, *, seed: int = 0) -> tuple[float, float]:
    """(start, end) in song seconds of the `duration`-long stretch with the most onset energy.

    Starts are tried on downbeats, else beats, else every GRID_STEP seconds, and
    not before the music starts when that can be avoided. Ties go to the earliest.
    Without a beat, a section change (else a STRONG_EVENT) whose stretch has NEAR_BEST
    of that energy is taken instead. A song no longer than `duration` is used whole.
    A `seed` other than 0 picks, the same way for the same seed, among the starts (on the same
    downbeats, beats or grid) whose stretch holds SEED_NEAR_BEST of the chosen one's energy.
    """
    if grid.duration <= duration + _EPS:
        return 0.0, grid.duration
    latest = grid.duration - duration

    def energy(start: float) -> float:
        return mean_energy(grid, start, start + duration)

    best = max(_candidate_starts(grid, latest), key=lambda s: (energy(s), -s))
    if not grid.has_beat and (change := _on_a_change(grid, latest, energy, NEAR_BEST * energy(best))) is not None:
        best = change
    if seed:
        enough = SEED_NEAR_BEST * energy(best) - _EPS
        near = sorted({best, *(s for s in _candidate_starts(grid, latest) if energy(s) >= enough)})
        best = random.Random(f"window:{seed}").choice(near)
    return best, best + duration


def _candidate_starts(grid: BeatGrid, latest: float) -> list[float]:
    starts = (_fitting(grid.downbeats, latest) or _fitting(grid.beats, latest)) if grid.has_beat else []
    if not starts:
        starts = [i * GRID_STEP for i in range(int(latest / GRID_STEP + _EPS) + 1)]
    sound = _music_starts(grid)
    # Opening on the silence before the first note wastes the viewer's first second.
    return [s for s in starts if s >= sound - _EPS] or starts


def _on_a_change(
    grid: BeatGrid, latest: float, energy: Callable[[float], float], enough: float
) -> float | None:
    """The busiest start on a section change, else on a strong event, with at least `enough` energy."""
    strong = [t for t, s in zip(grid.events, grid.event_strengths, strict=False) if s >= STRONG_EVENT]
    sound = _music_starts(grid)
    for times in (grid.sections, strong):
        starts = [s for s in _fitting(times, latest) if s >= sound - _EPS and energy(s) >= enough - _EPS]
        if starts:
            return max(starts, key=lambda s: (energy(s), -s))
    return None


def _fitting(times: Sequence[float], latest: float) -> list[float]:
    return [min(t, latest) for t in times if 0 <= t <= latest + _EPS]


def _music_starts(grid: BeatGrid) -> float:
    """Seconds until the envelope first reaches SOUND_LEVEL; 0 when it never does."""
    if grid.envelope_rate <= 0:
        return 0.0
    for i, value in enumerate(grid.envelope):
        if value >= SOUND_LEVEL:
            return i / grid.envelope_rate
    return 0.0
