"""The render plan: everything the renderer needs, as plain JSON-serialisable data.

The cut is one number: a segment sits on the output's frame grid as whole frames (`first_frame`,
`frames`, `overlap`), decided once by the planner and read as they are by the renderer and the sync
check; seconds are derived from them (and written beside them in the JSON, for people and clients).
Segment i covers output frames [first_frame, first_frame + frames). Its first `overlap` frames are
the transition from segment i - 1, which ends exactly where that overlap ends; a hard cut has no
overlap. The cut the viewer perceives (the beat it lands on) is in the middle of the overlap. The
source footage used is `source_out - source_in == length * speed` seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .facts import MediaInfo
from .frame_grid import frame_count, grid_spans
from .limits import DEFAULT_ASPECT

PLAN_VERSION = 2  # 2: segments in whole frames (1: in seconds, converted on load)

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
    first_frame: int  # output frame where the segment starts, its incoming transition included
    frames: int  # output frames it covers
    overlap: int  # its first frames shared with the previous segment by the transition; 0 for CUT
    fps: int  # of the output frame grid (the plan's)
    transition: str  # transition *into* this segment: CUT or an xfade name
    reframe: str  # FILL, BLUR or LETTERBOX
    motion: Motion | None = None  # photos only
    # Where a fill crop is centred, as fractions of the visual's display picture
    # (framing.py moves it onto what stands out; 0.5 is the middle).
    focus_x: float = 0.5
    focus_y: float = 0.5
    # Where it is centred on the segment's last frame when the crop follows someone who moves
    # (framing.py); None: it stays put. The centre moves evenly from focus_x/focus_y to these.
    focus_x_to: float | None = None
    focus_y_to: float | None = None

    @property
    def end_frame(self) -> int:
        return self.first_frame + self.frames

    @property
    def start(self) -> float:
        """Output seconds where the segment starts (its incoming transition included)."""
        return self.first_frame / self.fps

    @property
    def end(self) -> float:
        return self.end_frame / self.fps

    @property
    def length(self) -> float:
        return self.frames / self.fps

    @property
    def transition_duration(self) -> float:
        return self.overlap / self.fps

    @property
    def cut(self) -> float:
        """The moment the viewer perceives the change: centred in the transition."""
        return (self.first_frame + self.overlap / 2) / self.fps


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


# Written beside each segment's frames for people and API clients; derived, so ignored on load.
_SECONDS = ("start", "end", "transition_duration")


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """Plain dict for JSON; tuples become lists, and each segment also says its times in seconds."""
    data = asdict(plan)
    for seg, stored in zip(plan.segments, data["segments"]):
        stored.update({name: getattr(seg, name) for name in _SECONDS})
    return data


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Inverse of plan_to_dict; also reads plans stored before segments were in frames."""
    d = dict(data)
    d.pop("sync", None)  # a job's stored plan carries the render's sync report beside the plan itself
    d["visuals"] = tuple(MediaInfo(**v) for v in d["visuals"])
    d["music"] = MediaInfo(**d["music"])
    d["beats"] = tuple(d["beats"])
    d["notes"] = tuple(d.get("notes", ()))
    stored = [dict(s) for s in d["segments"]]
    if stored and "first_frame" not in stored[0]:
        _seconds_to_frames(stored, d["fps"], frame_count(d["duration"], d["fps"]))
    d["segments"] = tuple(
        Segment(**{
            **{key: value for key, value in s.items() if key not in _SECONDS},
            "motion": Motion(**s["motion"]) if s.get("motion") else None,
        })
        for s in stored
    )
    d.setdefault("extra", {})
    # Plans stored before cut_basis existed cut on beats, or evenly when the song was beatless.
    d.setdefault("cut_basis", EVEN if d.get("beatless") else BEATS)
    d["version"] = PLAN_VERSION
    return Plan(**d)


def _seconds_to_frames(stored: list[dict[str, Any]], fps: int, total: int) -> None:
    """A version 1 plan's segments (start, end and transition in seconds) placed on the frame grid."""
    spans = grid_spans(
        [frame_count(s["start"], fps) for s in stored],
        [frame_count(s["end"], fps) for s in stored],
        [s["transition"] == CUT for s in stored],
        total,
    )
    for s, (first, frames, overlap) in zip(stored, spans):
        s.update(first_frame=first, frames=frames, overlap=overlap, fps=fps, transition=s["transition"])
        if overlap == 0:
            s["transition"] = CUT
