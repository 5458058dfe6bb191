"""How loud the chosen stretch of the song is, and the gain that brings it to the style's level.

Measured once before the render (EBU R128 with ffmpeg's ebur128 filter, a small
part of planning), then applied in the render as a plain gain and a peak
limiter. This is the two-pass way: the level is even from the first second to
the last, where single-pass loudnorm rides the gain as it goes. It also keeps
the render lean: loudnorm works at 192 kHz with a 3 s look-ahead, held for the
whole render (what each cost: benchmarks/README.md, "What the planning steps cost").
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from . import ffmpeg
from .errors import RenderFailed
from .plan import Plan

# Peaks after the gain are limited to this (dBTP), as loudnorm's TP was.
TRUE_PEAK_DB = -1.5
# A quiet but peaky song may need more gain than its peaks allow: at most this
# much of it is taken off the peaks by the limiter, the rest is left quieter.
MAX_LIMITING_DB = 6.0
# Below this the window is silence (R128's absolute gate is -70): no gain.
SILENCE_LUFS = -60.0


@dataclass(frozen=True)
class Loudness:
    integrated: float  # LUFS
    true_peak: float  # dBTP


def measure(path: str, start: float, seconds: float, *, timeout: float = 60) -> Loudness:
    """The integrated loudness and true peak of `seconds` of the song from `start`."""
    result = ffmpeg.run(
        [
            ffmpeg.FFMPEG, "-nostats", "-ss", f"{max(0.0, start):.6f}", "-t", f"{seconds:.6f}", "-vn", "-sn", "-dn",
            *ffmpeg.safe_input_args(ffmpeg.AUDIO_FORMATS), "-i", path,
            "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-",
        ],
        timeout=timeout,
    )
    return parse_summary(result.stderr_tail)


def parse_summary(text: str) -> Loudness:
    """Loudness from the summary ebur128 prints at the end of its run."""
    integrated = re.findall(r"^\s*I:\s*(-?[\d.]+|-inf) LUFS", text, re.MULTILINE)
    peak = re.findall(r"^\s*Peak:\s*(-?[\d.]+|-inf) dBFS", text, re.MULTILINE)
    if not integrated or not peak:
        raise RenderFailed("the song's loudness could not be measured")
    return Loudness(integrated=_db(integrated[-1]), true_peak=_db(peak[-1]))


def gain_db(loudness: Loudness, target: float) -> float:
    """The gain that brings `loudness` to `target` LUFS, limited to what the peaks allow."""
    if loudness.integrated <= SILENCE_LUFS:
        return 0.0
    wanted = target - loudness.integrated
    allowed = TRUE_PEAK_DB - loudness.true_peak + MAX_LIMITING_DB
    return round(min(wanted, allowed), 2)


def with_music_gain(plan: Plan, target: float, *, timeout: float = 60) -> Plan:
    """The plan with the music gain its window needs to play at `target` LUFS.

    If the measurement fails the plan is returned unchanged: the render then
    levels the music in one pass (loudnorm) rather than the job failing here.
    """
    seconds = min(plan.music_end - plan.music_start, plan.duration)
    try:
        loudness = measure(plan.music.path, plan.music_start, seconds, timeout=timeout)
    except RenderFailed:
        return plan
    return dataclasses.replace(plan, music_gain_db=gain_db(loudness, target))


def _db(text: str) -> float:
    return -200.0 if text == "-inf" else float(text)
