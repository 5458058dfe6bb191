"""Style presets, kept as data: pacing, transitions, reframe, colour grade and audio treatment.

PRESETS ARE FILLED IN BY THE PLANNER WORK; the dataclasses below are the contract
that the planner (segment.py) and the renderer (graph.py) both read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .edit_plan import BLUR, CUT, FILL, LETTERBOX  # noqa: F401  (re-exported for presets)


@dataclass(frozen=True)
class Grade:
    """A colour grade built only from cheap filters (eq, lutyuv/curves, vignette, noise)."""

    temperature: float = 0.0  # -1 cool .. +1 warm (done with eq's per-channel gamma)
    saturation: float = 1.0  # eq saturation
    contrast: float = 1.0  # eq contrast
    brightness: float = 0.0  # eq brightness, -0.2..0.2
    gamma: float = 1.0  # eq gamma
    vignette: float = 0.0  # 0 = none; else the vignette filter's angle in radians (e.g. 0.5)
    grain: int = 0  # 0 = none; else noise strength (e.g. 8)
    curves: str = ""  # optional ffmpeg curves preset name ("vintage", "lighter", ...)


@dataclass(frozen=True)
class AudioTreatment:
    clip_volume: float = 0.0  # clips' own sound under the music; 0 = music only
    fade_in: float = 0.3  # seconds
    fade_out: float = 1.0  # seconds
    loudness: float = -14.0  # integrated LUFS target (loudnorm)
    lowpass_hz: int = 0  # 0 = off; e.g. 9000 for a lo-fi / vintage sound
    bass_gain_db: float = 0.0  # 0 = off; a low shelf boost, for club styles


@dataclass(frozen=True)
class Style:
    name: str  # e.g. "ENERGETIC_DANCE" (the API's value)
    label: str  # e.g. "Energetic Dance" (the UI's)
    description: str  # one line for the UI
    beats_per_cut: tuple[int, ...]  # pacing pattern, cycled (varied pacing)
    transitions: tuple[str, ...]  # CUT and/or xfade names, cycled or picked deterministically
    transition_beats: float  # transition length as a fraction of a beat (e.g. 0.5)
    reframe: str  # FILL, BLUR or LETTERBOX
    grade: Grade
    audio: AudioTreatment
    photo_zoom: float = 1.15  # Ken Burns end zoom for photos


STYLES: dict[str, Style] = {}


def get_style(name: str) -> Style:
    """The preset called `name`; KeyError lists the valid names."""
    try:
        return STYLES[name]
    except KeyError:
        raise KeyError(f"unknown style {name!r}; choose one of {', '.join(STYLES)}") from None
