"""What a rendered video is: the one description that the encoder's options and the check of the result both read.

An MP4 (fast-start) holding H.264 High 4:2:0 video at a capped average bitrate,
and AAC stereo sound at 48 kHz. The frame size and rate are the plan's, chosen
from limits.py. graph.py turns this into ffmpeg's output options; render.py
checks the written file against it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputSpec:
    # Video: what players everywhere decode in hardware.
    video_codec: str  # as ffprobe names it
    video_encoder: str  # the ffmpeg encoder that writes it
    profile: str
    pixel_format: str
    video_bitrate: str  # average; the rate control keeps to maxrate over a bufsize window
    maxrate: str
    bufsize: str
    # Sound.
    audio_codec: str  # as ffprobe names it; ffmpeg's native encoder has the same name
    sample_rate: int  # Hz
    channels: int
    audio_bitrate: str
    audio_frame_samples: int  # an AAC frame: the sound may end up to one of these from the picture
    # The container: an MP4 whose index comes first, so a browser plays it while it downloads.
    container: str  # ffmpeg's muxer
    probe_formats: str  # the demuxer names the file may be read back with
    movflags: str

    def video_args(self) -> list[str]:
        """ffmpeg's options for the video stream's format (the encoder's tuning is graph.py's)."""
        return [
            "-c:v", self.video_encoder, "-profile:v", self.profile, "-pix_fmt", self.pixel_format,
            "-b:v", self.video_bitrate, "-maxrate", self.maxrate, "-bufsize", self.bufsize,
        ]

    def audio_args(self) -> list[str]:
        return [
            "-c:a", self.audio_codec, "-b:a", self.audio_bitrate,
            "-ar", str(self.sample_rate), "-ac", str(self.channels),
        ]

    def container_args(self) -> list[str]:
        return ["-movflags", self.movflags, "-f", self.container]

    @property
    def channel_layout(self) -> str:
        return {1: "mono", 2: "stereo"}[self.channels]


OUTPUT = OutputSpec(
    video_codec="h264",
    video_encoder="libx264",
    profile="high",
    pixel_format="yuv420p",
    video_bitrate="6M",
    maxrate="8M",
    bufsize="12M",
    audio_codec="aac",
    sample_rate=48000,
    channels=2,
    audio_bitrate="192k",
    audio_frame_samples=1024,
    container="mp4",
    probe_formats="mov,mp4,m4a,3gp,3g2,mj2",
    movflags="+faststart",
)
