"""Style presets, kept as data: pacing, transitions, reframe, colour grade and audio treatment.

The dataclasses are the contract that the planner (planner.py) and the renderer
(graph.py) both read; the presets below them are what a creator picks from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .facts import MediaInfo
from .geometry import crop_share
from .plan import BLUR, CUT, FILL, LETTERBOX  # noqa: F401  (re-exported for presets)

# Bars belong to a film look on a landscape screen. On a vertical or square output a letterboxed
# picture keeps its bars only when it nearly fits (it fills this share of the frame's height or
# width); otherwise it fills the frame, or is fitted over its blurred copy when a fill would keep
# less than MIN_FILL of it (a panorama): a 16:9 clip letterboxed in 9:16 is 68% black.
NEARLY_FITS = 0.85
MIN_FILL = 0.3


@dataclass(frozen=True)
class Grade:
    """A colour grade built only from cheap filters (eq, lutyuv/curves, vignette, noise)."""

    # -1 cool .. +1 warm: a chroma offset on the vignette's blend; without a vignette
    # (or on letterboxed pictures) eq's per-channel gamma, a per-pixel table on chroma.
    temperature: float = 0.0
    saturation: float = 1.0  # eq saturation
    contrast: float = 1.0  # eq contrast
    brightness: float = 0.0  # eq brightness, -0.2..0.2
    # eq gamma. Any gamma sends luma through a per-pixel table in C, several times the
    # cost of contrast and brightness (benchmarks/README.md, "The grade and the styles"),
    # so the presets shape their tone with contrast and brightness instead.
    gamma: float = 1.0
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


CLEAN_VLOG = Style(
    name="CLEAN_VLOG",
    label="Clean Vlog",
    description="Bright, true-to-life colour; steady two-beat cuts with a few slides; keeps your clips' sound low.",
    beats_per_cut=(2, 2, 4, 2),
    transitions=(CUT, CUT, "slideleft", CUT, "fade", CUT, "slideup"),
    transition_beats=0.5,
    reframe=FILL,
    grade=Grade(saturation=1.08, contrast=1.04, brightness=0.02),
    audio=AudioTreatment(clip_volume=0.25),
    photo_zoom=1.10,
)

ENERGETIC_DANCE = Style(
    name="ENERGETIC_DANCE",
    label="Energetic Dance",
    description="Cuts on nearly every beat, punchy saturated colour, zoom and whip transitions, extra bass.",
    beats_per_cut=(1, 1, 2, 1, 2),
    transitions=(CUT, CUT, "zoomin", CUT, "hblur", CUT, "slideup"),
    transition_beats=0.25,
    reframe=FILL,
    grade=Grade(saturation=1.35, contrast=1.15, brightness=0.02),
    audio=AudioTreatment(fade_in=0.05, fade_out=0.8, bass_gain_db=3.0),
    photo_zoom=1.25,
)

CINEMATIC_DRAMA = Style(
    name="CINEMATIC_DRAMA",
    label="Cinematic Drama",
    description="Long bar-length shots, slow crossfades and dips to black, a cool teal grade with a vignette.",
    beats_per_cut=(4, 4, 8),
    transitions=("fade", "fadeblack", "fade", CUT, "dissolve"),
    # Three quarters of a beat: slow, yet a fraction of a beat as every transition is,
    # and fewer blended frames for x264 than a whole beat (benchmarks/README.md, Session 6).
    transition_beats=0.75,
    reframe=BLUR,
    # Contrast and brightness are fitted to the earlier grade with a gamma: same look, no
    # per-pixel table (the earlier values: benchmarks/README.md, "The grade and the styles").
    grade=Grade(temperature=-0.25, saturation=0.85, contrast=1.17, brightness=-0.051, vignette=0.45),
    audio=AudioTreatment(fade_in=1.0, fade_out=2.5),
    photo_zoom=1.12,
)

CHILL_LOFI = Style(
    name="CHILL_LOFI",
    label="Chill Lo-fi",
    description="Relaxed pacing, soft dissolves and smooth slides, warm faded colour, a soft vignette, muffled highs.",
    beats_per_cut=(2, 4, 2, 4, 4),
    transitions=("fade", "smoothleft", "dissolve", "fade", "smoothup"),
    transition_beats=0.75,
    reframe=BLUR,
    # No grain: at 6 Mb/s x264 keeps little of a grain this fine, yet encoding it costs
    # much more (measured: benchmarks/README.md, Session 4). VINTAGE_FILM's heavier grain
    # survives. Contrast and brightness fitted to the earlier grade with a gamma, as above.
    grade=Grade(temperature=0.35, saturation=0.78, contrast=0.858, brightness=0.062, vignette=0.3),
    audio=AudioTreatment(fade_in=0.8, fade_out=2.0, loudness=-16.0, lowpass_hz=9000),
    photo_zoom=1.10,
)

VINTAGE_FILM = Style(
    name="VINTAGE_FILM",
    label="Vintage Film",
    description="Old-film look: washed-out warm tones, heavy grain and vignette, dips to black; letterboxed on"
    " landscape, full-screen on a phone.",
    beats_per_cut=(4, 2, 2, 4),
    transitions=(CUT, "fadeblack", CUT, "fadegrays", CUT, "fade"),
    transition_beats=0.5,
    reframe=LETTERBOX,
    grade=Grade(temperature=0.5, saturation=0.6, contrast=1.06, vignette=0.6, grain=14, curves="vintage"),
    audio=AudioTreatment(fade_in=0.5, fade_out=2.0, loudness=-16.0, lowpass_hz=7500),
    photo_zoom=1.15,
)

NEON_NIGHT = Style(
    name="NEON_NIGHT",
    label="Neon Night",
    description="Club energy: deep cool shadows, vivid colour, sliced, circle and radial wipes, a bass boost.",
    beats_per_cut=(2, 1, 1, 2, 4),
    transitions=(CUT, "hrslice", CUT, "circleopen", CUT, "radial"),
    transition_beats=0.5,
    reframe=FILL,
    # Contrast and brightness fitted to the earlier grade with a gamma, as CINEMATIC_DRAMA's.
    grade=Grade(temperature=-0.6, saturation=1.5, contrast=1.193, brightness=-0.072, vignette=0.5),
    audio=AudioTreatment(fade_in=0.2, fade_out=1.2, bass_gain_db=4.0),
    photo_zoom=1.20,
)

def reframe_for(mode: str, info: MediaInfo, width: int, height: int) -> str:
    """The reframe a style's `mode` becomes for this visual in a width x height output (see NEARLY_FITS)."""
    if mode != LETTERBOX or width > height:
        return mode
    axis, share = crop_share(info, width, height)
    if not axis or share >= NEARLY_FITS:
        return LETTERBOX
    return FILL if share >= MIN_FILL else BLUR


# Read-only, so no caller can change a preset for everyone else in the process.
STYLES: Mapping[str, Style] = MappingProxyType(
    {s.name: s for s in (CLEAN_VLOG, ENERGETIC_DANCE, CINEMATIC_DRAMA, CHILL_LOFI, VINTAGE_FILM, NEON_NIGHT)}
)
STYLE_NAMES: tuple[str, ...] = tuple(STYLES)  # the order the UI lists them in


def get_style(name: str) -> Style:
    """The preset called `name`; KeyError lists the valid names."""
    try:
        return STYLES[name]
    except KeyError:
        raise KeyError(f"unknown style {name!r}; choose one of {', '.join(STYLES)}") from None
