"""Media facts: what probing a file and analysing a song tell us. Plain, frozen, JSON-friendly."""

from __future__ import annotations

from dataclasses import dataclass

VIDEO = "video"
IMAGE = "image"
AUDIO = "audio"


@dataclass(frozen=True)
class MediaInfo:
    """What ffprobe says about one input file.

    width/height are the *display* size: after rotation metadata and after
    non-square pixels are made square. rotation is the clockwise rotation the
    player applies; ffmpeg's autorotate applies it when decoding.
    """

    path: str
    kind: str  # VIDEO, IMAGE or AUDIO
    duration: float  # seconds; 0.0 for a still image
    width: int = 0
    height: int = 0
    fps: float = 0.0  # 0.0 for images and audio
    has_audio: bool = False
    codec: str = ""  # codec of the main stream (video for clips, audio for songs)
    format_name: str = ""  # container as ffprobe names it
    rotation: int = 0  # 0, 90, 180 or 270
    sample_aspect: float = 1.0  # stored pixel aspect (1.0 = square)
    hdr: str = ""  # "pq" or "hlg" for a high-dynamic-range clip (tone-mapped when rendered); "" for SDR

    @property
    def is_still(self) -> bool:
        return self.kind == IMAGE


@dataclass(frozen=True)
class BeatGrid:
    """The song's rhythm, in seconds from the start of the song."""

    duration: float
    tempo: float  # BPM; 0.0 when no beat could be found
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]  # a subset of beats (bar starts); may be empty
    envelope_rate: float  # samples per second of `envelope`
    envelope: tuple[float, ...]  # onset strength, normalised to 0..1
    meter: int = 4  # beats per bar: 2, 3 or 4 (downbeats fall every `meter` beats)
    # The song's own events, for cutting music with no steady beat (and for pacing any song):
    # the salient onsets (ascending seconds) with their strength (0..1, same order) ...
    events: tuple[float, ...] = ()
    event_strengths: tuple[float, ...] = ()
    # ... and where the music changes section (new instruments, harmony, loudness), ascending seconds.
    sections: tuple[float, ...] = ()

    @property
    def has_beat(self) -> bool:
        return self.tempo > 0 and len(self.beats) >= 4


@dataclass(frozen=True)
class Liveliness:
    """How much happens along a clip (look.py): a level (mean change, 0..1) at each time, in seconds."""

    times: tuple[float, ...]
    levels: tuple[float, ...]
    cuts: tuple[float, ...] = ()  # where the clip's own shots change: a trim should not straddle one
