"""Render a plan: one ffmpeg run into a hidden partial file, checked against the plan, then moved into place.

The output path only ever holds a finished, verified video: ffmpeg writes to
`.<name>.partial.mp4` beside it, and whatever goes wrong (ffmpeg fails, times
out, is cancelled, or writes something that does not match the plan, its cuts
included) the partial file is deleted and the error is raised.

The same ffmpeg run also writes small grey copies of the frames around every
planned cut to `.<name>.sync.gray` (deleted after the check): sync.py finds the
cuts in them and measures each against its plan and its beat.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import ffmpeg, proxy, sync
from .errors import RenderFailed, UnsupportedMedia
from .graph import Tap, build_command, output_duration, output_frames
from .output import OUTPUT
from .plan import Plan
from .style import Style
from .sync import CutSync, SyncReport

ProgressCallback = Callable[[float, str], None]

PREPARING = "Preparing your clips"
RENDERING = "Rendering"
CHECKING = "Checking the video"
DONE = "Done"

# How often ffmpeg reports progress (and the cancel flag is polled), in seconds.
PROGRESS_PERIOD = 0.2
# A render whose output time stands still this long is hung (a decoder or filter
# spinning on a damaged file), not slow: even a loaded 2-core machine makes a frame
# of 1080x1920 in well under a second.
STALL_TIMEOUT = 90.0
# Rendering stops its percentage short of 100: the last step is the check.
_RENDER_SHARE = 99.0
# Slack on top of one frame when comparing durations: container rounding.
_DURATION_SLACK = 0.005
# The sound is coded in whole frames; it may end up to one of them from the picture.
_AUDIO_SLACK = OUTPUT.audio_frame_samples / OUTPUT.sample_rate


@dataclass(frozen=True)
class RenderResult:
    path: str
    duration: float  # seconds, as probed
    width: int
    height: int
    size_bytes: int
    elapsed: float  # wall-clock seconds for the render and its check
    sync: SyncReport  # every cut as found in the picture, against its plan and its beat


@dataclass(frozen=True)
class OutputFacts:
    """What the rendered file turned out to be (from ffprobe)."""

    duration: float
    width: int
    height: int
    fps: float
    frames: int
    audio_duration: float


def partial_path(output_path: str) -> str:
    """The hidden name ffmpeg writes to, in the output's own directory (so the final move is atomic)."""
    folder, name = os.path.split(os.path.abspath(output_path))
    stem = os.path.splitext(name)[0]
    return os.path.join(folder, f".{stem}.partial.mp4")


def samples_path(output_path: str) -> str:
    """The hidden name of the frames the sync check looks at, beside the partial file."""
    folder, name = os.path.split(os.path.abspath(output_path))
    stem = os.path.splitext(name)[0]
    return os.path.join(folder, f".{stem}.sync.gray")


def render(
    plan: Plan,
    output_path: str,
    on_progress: ProgressCallback | None = None,
    *,
    timeout: float = 600,
    stall_timeout: float = STALL_TIMEOUT,
    should_cancel: Callable[[], bool] | None = None,
    style: Style | None = None,
    low_memory: bool | None = None,
) -> RenderResult:
    """Render `plan` to `output_path` (MP4) and return what was written.

    on_progress gets (percent 0..100, step text), with percent never going
    down and ending at exactly 100. style overrides the plan's named style.
    low_memory encodes with x264's sliced threads (graph.X264_LOW_MEMORY), and decodes proxies on one thread;
    None (the default) does so only for a plan with clips big enough for a proxy (uses_low_memory).
    A render whose output has not moved on for stall_timeout seconds is stopped
    then, not at timeout. Raises RenderFailed (or its RenderTimeout,
    RenderStalled, RenderCancelled) and leaves no
    file behind when the render does not complete and verify, or when a cut
    is seen more than a frame from where it was planned (see check_sync).
    """
    started = time.monotonic()
    partial = partial_path(output_path)
    samples = sync.samples_for(plan)
    tapped = samples_path(output_path)
    proxies = proxy.proxies_folder(output_path)
    proxy.remove(proxies)  # a dead attempt's, if any
    tap = Tap(samples.shrink(), tapped) if samples.frames else None
    progress = _Progress(on_progress, output_duration(plan))
    low_memory = uses_low_memory(plan, low_memory)
    try:
        # The render reads the proxies; the output is still checked against the plan as made.
        rendered = proxy.with_proxies(
            plan, proxies, timeout=timeout, stall_timeout=stall_timeout, should_cancel=should_cancel,
            on_start=lambda: progress.report(0.0, PREPARING),  # only a plan with big clips has this step
            low_memory=low_memory,
        )
        command = build_command(rendered, partial, style=style, tap=tap, low_memory=low_memory)
        # A global option: must come before the inputs.
        command[1:1] = ["-stats_period", str(PROGRESS_PERIOD)]
        progress.report(0.0, RENDERING)
        ffmpeg.run(
            command, timeout=timeout, stall_timeout=stall_timeout,
            on_progress=progress.rendered, should_cancel=should_cancel,
        )
        progress.report(_RENDER_SHARE, CHECKING)
        facts = verify_output(partial, plan)
        report = check_sync(plan, samples, tapped)
        os.replace(partial, output_path)
    except BaseException:
        _remove(partial)
        raise
    finally:
        _remove(tapped)
        proxy.remove(proxies)
    progress.report(100.0, DONE)
    return RenderResult(
        path=output_path,
        duration=facts.duration,
        width=facts.width,
        height=facts.height,
        size_bytes=os.path.getsize(output_path),
        elapsed=time.monotonic() - started,
        sync=report,
    )


def uses_low_memory(plan: Plan, low_memory: bool | None = None) -> bool:
    """Whether the render of `plan` runs in low memory: as asked, or when not asked (None), when it has phone footage.

    A clip big enough for a proxy (4K, 10-bit HDR) is what takes a job past its memory budget: its proxy
    step, then a render of several proxy inputs. Such a job trades about 40% of its encode's speed for
    40-70 MB; a job of 1080p clips and photos keeps the fast encode (benchmarks/README.md, "Phone footage").
    """
    return bool(proxy.wanted(plan)) if low_memory is None else low_memory


def check_sync(plan: Plan, samples: sync.Samples, path: str) -> SyncReport:
    """Measure the cuts in the frames the render wrote to `path`; RenderFailed when one is off its plan.

    A cut counts against the render only when it was seen: one whose change the
    shots' own movement hides is reported as not seen (see sync.py).
    """
    if not samples.frames:
        return sync.measure_sync(plan, samples, sync.frames_from_bytes(b"", samples))
    try:
        with open(path, "rb") as f:
            frames = sync.samples_from_every_frame(f.read(), samples, output_frames(plan))
    except (OSError, ValueError) as exc:
        raise RenderFailed(f"the rendered video's cuts could not be checked: {exc}") from exc
    report = sync.measure_sync(plan, samples, frames)
    wrong = report.misplaced
    if wrong:
        more = f"; and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise RenderFailed(
            f"{len(wrong)} of the video's {len(report.cuts)} cuts are not where they were planned: "
            + "; ".join(_misplaced(cut, plan.fps) for cut in wrong[:3]) + more
        )
    return report


def _misplaced(cut: CutSync, fps: int) -> str:
    frames = round(abs(cut.off_plan or 0.0) * fps, 1)
    side = "late" if (cut.off_plan or 0.0) > 0 else "early"
    kind = "the cut" if cut.transition == "cut" else f"the {cut.transition}"
    return (
        f"{kind} into shot {cut.segment + 1} is {frames:g} frames {side} "
        f"(at {cut.measured:.2f} s, planned for {cut.planned:.2f} s)"
    )


def verify_output(path: str, plan: Plan) -> OutputFacts:
    """Check a rendered file against its plan; RenderFailed says what is off.

    Video and sound as the output spec says (output.py: codecs, pixel format,
    channels, sample rate), exactly plan.width x plan.height at plan.fps, and a
    duration within one frame of the plan's, with picture and sound ending together.
    """
    try:
        data = ffmpeg.ffprobe_json(path, formats=OUTPUT.probe_formats)
    except UnsupportedMedia as exc:
        raise RenderFailed(f"the rendered video cannot be read back: {exc}") from exc
    video = _stream(data, "video")
    audio = _stream(data, "audio")
    problems = _video_problems(video, plan) + _audio_problems(audio)
    if problems:
        raise RenderFailed("the rendered video is not what was planned: " + "; ".join(problems))
    facts = OutputFacts(
        duration=_float(data.get("format", {}).get("duration")),
        width=int(video["width"]),
        height=int(video["height"]),
        fps=_rate(video.get("avg_frame_rate")),
        frames=int(video.get("nb_frames") or 0),
        audio_duration=_float(audio.get("duration")),
    )
    problems = _timing_problems(facts, _float(video.get("duration")), plan)
    if problems:
        raise RenderFailed("the rendered video is not what was planned: " + "; ".join(problems))
    return facts


def _stream(data: dict, kind: str) -> dict:
    for stream in data.get("streams", []):
        if stream.get("codec_type") == kind:
            return stream
    raise RenderFailed(f"the rendered video has no {kind} stream")


def _video_problems(video: dict, plan: Plan) -> list[str]:
    problems = []
    if video.get("codec_name") != OUTPUT.video_codec:
        problems.append(f"video codec {video.get('codec_name')}, not {OUTPUT.video_codec}")
    if (video.get("width"), video.get("height")) != (plan.width, plan.height):
        problems.append(f"size {video.get('width')}x{video.get('height')}, not {plan.width}x{plan.height}")
    if video.get("pix_fmt") != OUTPUT.pixel_format:
        problems.append(f"pixel format {video.get('pix_fmt')}, not {OUTPUT.pixel_format}")
    fps = _rate(video.get("avg_frame_rate"))
    if abs(fps - plan.fps) > 0.01:
        problems.append(f"{fps:.3f} frames per second, not {plan.fps}")
    return problems


def _audio_problems(audio: dict) -> list[str]:
    problems = []
    if audio.get("codec_name") != OUTPUT.audio_codec:
        problems.append(f"audio codec {audio.get('codec_name')}, not {OUTPUT.audio_codec}")
    if audio.get("channels") != OUTPUT.channels:
        problems.append(f"{audio.get('channels')} audio channels, not {OUTPUT.channels}")
    if str(audio.get("sample_rate")) != str(OUTPUT.sample_rate):
        problems.append(f"audio at {audio.get('sample_rate')} Hz, not {OUTPUT.sample_rate}")
    return problems


def _timing_problems(facts: OutputFacts, video_duration: float, plan: Plan) -> list[str]:
    frame = 1.0 / plan.fps
    problems = []
    if abs(facts.duration - plan.duration) > frame + _DURATION_SLACK:
        problems.append(f"{facts.duration:.3f} s long, not {plan.duration:.3f} s")
    if facts.frames and facts.frames != output_frames(plan):
        problems.append(f"{facts.frames} frames, not {output_frames(plan)}")
    if abs(video_duration - output_duration(plan)) > frame + _DURATION_SLACK:
        problems.append(f"the picture lasts {video_duration:.3f} s, not {output_duration(plan):.3f} s")
    if abs(facts.audio_duration - video_duration) > frame + _AUDIO_SLACK:
        problems.append(f"the sound lasts {facts.audio_duration:.3f} s but the picture {video_duration:.3f} s")
    return problems


def _rate(text: object) -> float:
    num, _, den = str(text or "0/1").partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class _Progress:
    """Turns ffmpeg's output time into a percentage that only goes up, reported only when it moves."""

    def __init__(self, callback: ProgressCallback | None, duration: float) -> None:
        self._callback = callback
        self._duration = max(duration, 1e-6)
        self._last = -1.0
        self._step = ""

    def rendered(self, seconds: float) -> None:
        self.report(min(_RENDER_SHARE, seconds / self._duration * _RENDER_SHARE), RENDERING)

    def report(self, percent: float, step: str) -> None:
        # A new step is always reported (the worker times steps by their changes), at no lower a percent.
        percent = round(max(0.0, min(100.0, percent)), 1)
        if self._callback is None or (percent <= self._last and step == self._step):
            return
        self._last, self._step = max(percent, self._last), step
        self._callback(self._last, step)
