"""The render plan: everything the renderer needs, as plain JSON-serialisable data.

Timeline convention: a segment's `start`/`end` are on the output timeline and
include the overlap of its incoming transition. For segment i > 0 the cut the
viewer perceives (the beat it lands on) is `start + transition_duration / 2`,
and the previous segment ends at `cut + transition_duration / 2`. The source
footage used is `source_out - source_in == (end - start) * speed`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .facts import MediaInfo
from .limits import DEFAULT_ASPECT

PLAN_VERSION = 1

CUT = "cut"  # a hard cut: no xfade

# What a plan's cuts land on (Plan.cut_basis): the song's beats; without a steady beat, the
# song's own events (strong onsets, section changes); or, when it has too few of those, an even clock.
BEATS = "beats"
EVENTS = "events"
EVEN = "even"
CUT_BASES = (BEATS, EVENTS, EVEN)

FILL = "fill"  # crop to fill the frame, centred
BLUR = "blur"  # fit over a blurred, darkened copy of the same picture
LETTERBOX = "letterbox"  # fit over black bars
REFRAME_MODES = (FILL, BLUR, LETTERBOX)



@dataclass(frozen=True)
class Motion:
    """A Ken Burns move for a photo: zoom and the crop centre (fractions 0..1) over the segment."""

    zoom_from: float
    zoom_to: float
    x_from: float = 0.5
    y_from: float = 0.5
    x_to: float = 0.5
    y_to: float = 0.5


@dataclass(frozen=True)
class Segment:
    visual: int  # index into Plan.visuals
    source_in: float  # seconds into the visual (0 for photos)
    source_out: float
    speed: float  # 1.0 = real time; 0.5 = half speed (never lower)
    start: float  # output timeline, seconds
    end: float
    transition: str  # transition *into* this segment: CUT or an xfade name
    transition_duration: float  # seconds; 0 for CUT
    reframe: str  # FILL, BLUR or LETTERBOX
    motion: Motion | None = None  # photos only
    # Where a fill crop is centred, as fractions of the visual's display picture
    # (framing.py moves it onto what stands out; 0.5 is the middle).
    focus_x: float = 0.5
    focus_y: float = 0.5

    @property
    def cut(self) -> float:
        """The moment the viewer perceives the change: centred in the transition."""
        return self.start + self.transition_duration / 2

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Plan:
    style: str
    width: int
    height: int
    fps: int
    duration: float  # the output's duration, seconds
    requested_duration: float
    visuals: tuple[MediaInfo, ...]
    music: MediaInfo
    music_start: float  # the chosen window in the song
    music_end: float
    tempo: float
    beats: tuple[float, ...]  # on the output timeline
    beatless: bool  # True when the window has no steady beat to cut on (cut_basis says what was used)
    segments: tuple[Segment, ...]
    notes: tuple[str, ...] = ()  # decisions worth telling the user
    aspect_ratio: str = DEFAULT_ASPECT
    cut_basis: str = BEATS  # BEATS, EVENTS or EVEN
    # dB applied to the music to reach the style's loudness (loudness.with_music_gain);
    # None: not measured, the renderer levels it in one pass with loudnorm instead.
    music_gain_db: float | None = None
    version: int = PLAN_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cuts(self) -> tuple[float, ...]:
        """Output times of every segment boundary (excluding the first start)."""
        return tuple(s.cut for s in self.segments[1:])


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """Plain dict for JSON; tuples become lists."""
    return asdict(plan)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Inverse of plan_to_dict."""
    d = dict(data)
    d.pop("sync", None)  # a job's stored plan carries the render's sync report beside the plan itself
    d["visuals"] = tuple(MediaInfo(**v) for v in d["visuals"])
    d["music"] = MediaInfo(**d["music"])
    d["beats"] = tuple(d["beats"])
    d["notes"] = tuple(d.get("notes", ()))
    d["segments"] = tuple(
        Segment(**{**s, "motion": Motion(**s["motion"]) if s.get("motion") else None})
        for s in d["segments"]
    )
    d.setdefault("extra", {})
    # Plans stored before cut_basis existed cut on beats, or evenly when the song was beatless.
    d.setdefault("cut_basis", EVEN if d.get("beatless") else BEATS)
    return Plan(**d)
