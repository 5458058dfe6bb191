"""Running ffmpeg and ffprobe safely: argument lists, -nostdin, a time limit, the whole process group killed.

Every call goes through `run`. ffmpeg is started in its own session (process
group) and asked to die with its parent (PR_SET_PDEATHSIG), so neither a
timeout, a cancelled task nor a killed worker leaves an encoder running.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import RenderCancelled, RenderFailed, RenderStalled, RenderTimeout, UnsupportedMedia

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")

# Containers we accept as input. ffmpeg picks demuxers by content, so without this
# a text file named .mp4 could be read as an HLS or ffconcat playlist.
VIDEO_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,mpeg"
IMAGE_FORMATS = "image2,png_pipe,jpeg_pipe,webp_pipe,bmp_pipe,tiff_pipe,gif,heif"
AUDIO_FORMATS = "mp3,wav,ogg,flac,aac,mov,mp4,m4a,matroska,webm"
ALL_FORMATS = ",".join(sorted(set(f"{VIDEO_FORMATS},{IMAGE_FORMATS},{AUDIO_FORMATS}".split(","))))

_PR_SET_PDEATHSIG = 1
_STDERR_TAIL_LINES = 40


def safe_input_args(formats: str = ALL_FORMATS) -> list[str]:
    """Options to put before every `-i`: local files only, known containers only."""
    return ["-protocol_whitelist", "file", "-format_whitelist", formats]


def available() -> bool:
    """True when both ffmpeg and ffprobe are on PATH."""
    return shutil.which(FFMPEG) is not None and shutil.which(FFPROBE) is not None


def _child_setup() -> None:
    # Runs in the child between fork and exec: die with the parent.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _spawn(argv: list[str], **options: object) -> subprocess.Popen:
    """Start a child with no stdin, both outputs piped, in its own process group, dying with us."""
    return subprocess.Popen(  # type: ignore[call-overload]
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_child_setup,
        **options,
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr_tail: str


def run(
    args: Sequence[str],
    *,
    timeout: float,
    on_progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    stall_timeout: float | None = None,
    cwd: str | None = None,
) -> Result:
    """Run ffmpeg or ffprobe (args[0]), or a helper process, and return its output.

    With `on_progress`, `-progress pipe:1` is added and the callback gets the
    output time reached, in seconds, many times a second. `should_cancel` is
    polled with each progress line. With `stall_timeout` too, a run whose output
    time has not moved for that long is stopped (RenderStalled) instead of
    holding its worker until `timeout`. Raises RenderTimeout, RenderStalled,
    RenderCancelled or RenderFailed (with the tail of stderr) and never leaves
    the process behind.
    """
    argv = [args[0], "-nostdin", "-hide_banner", *args[1:]] if _is_ffmpeg(args[0]) else list(args)
    if on_progress is not None:
        argv[1:1] = ["-progress", "pipe:1", "-nostats"]
    proc = _spawn(argv, cwd=cwd, text=True, errors="replace")
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, on_timeout)
    timer.daemon = True
    stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    reader = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
    watchdog = _Watchdog(proc, stall_timeout) if on_progress is not None and stall_timeout else None
    timer.start()
    reader.start()
    if watchdog is not None:
        watchdog.start()
    stdout_lines: list[str] = []
    cancelled = False
    try:
        for line in proc.stdout:
            if on_progress is None:
                stdout_lines.append(line)
                continue
            seconds = _progress_seconds(line)
            if seconds is not None:
                if watchdog is not None:
                    watchdog.reached(seconds)
                on_progress(seconds)
            if should_cancel is not None and should_cancel():
                cancelled = True
                _kill_group(proc)
                break
        proc.wait()
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
        if watchdog is not None:
            watchdog.stop()
        reader.join(timeout=5)
        _kill_group(proc)  # stray grandchildren, if any
    tail = "".join(stderr_tail)
    name = os.path.basename(argv[0])
    if timed_out.is_set():
        raise RenderTimeout(f"{name} took longer than {timeout:.0f} s and was stopped")
    if watchdog is not None and watchdog.stalled:
        raise RenderStalled(
            f"{name} made no progress for {stall_timeout:.0f} s (stuck at {watchdog.furthest:.1f} s"
            " of the video) and was stopped"
        )
    if cancelled:
        raise RenderCancelled(f"{name} was cancelled")
    if proc.returncode != 0:
        raise RenderFailed(f"{name} failed (exit {proc.returncode}): {_last_error_line(tail)}")
    return Result(stdout="".join(stdout_lines), stderr_tail=tail)


class _Watchdog(threading.Thread):
    """Kills a process whose reported output time has not moved on for `patience` seconds."""

    def __init__(self, proc: subprocess.Popen, patience: float):
        super().__init__(daemon=True)
        self._proc = proc
        self._patience = patience
        self._moved_at = time.monotonic()
        self._done = threading.Event()
        self.furthest = 0.0
        self.stalled = False

    def reached(self, seconds: float) -> None:
        if seconds > self.furthest:
            self.furthest = seconds
            self._moved_at = time.monotonic()

    def stop(self) -> None:
        self._done.set()

    def run(self) -> None:
        while not self._done.wait(min(1.0, self._patience / 4)):
            if time.monotonic() - self._moved_at > self._patience:
                self.stalled = True
                _kill_group(self._proc)
                return


def run_module(module: str, args: Sequence[str], *, timeout: float) -> Result:
    """Run `python -m module args` with this interpreter from the project's root, with run's guarantees.

    The pipeline's memory-heavy steps (the song's analysis, the look at the clips) run this way, so the
    caller never keeps what they import.
    """
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return run([sys.executable, "-m", module, *args], timeout=timeout, cwd=root)


def run_binary(args: Sequence[str], *, timeout: float) -> tuple[bytes, str]:
    """Run ffmpeg (args[0]) for its binary output, such as raw frames: (stdout, stderr).

    Same guarantees as `run`: its own process group, killed on timeout or error.
    """
    argv = [args[0], "-nostdin", "-hide_banner", *args[1:]]
    proc = _spawn(argv)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise RenderTimeout(f"{os.path.basename(argv[0])} took longer than {timeout:.0f} s and was stopped") from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        _kill_group(proc)
    text = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        name = os.path.basename(argv[0])
        raise RenderFailed(f"{name} failed (exit {proc.returncode}): {_last_error_line(text)}")
    return out, text


def ffprobe_json(path: str, *, timeout: float = 30, formats: str = ALL_FORMATS) -> dict:
    """ffprobe's -show_format -show_streams as a dict; UnsupportedMedia when it cannot read the file."""
    args = [
        FFPROBE, "-v", "error", *safe_input_args(formats),
        "-print_format", "json", "-show_format", "-show_streams", "-i", path,
    ]
    try:
        result = run(args, timeout=timeout)
    except RenderTimeout as exc:
        raise UnsupportedMedia("the file took too long to read") from exc
    except RenderFailed as exc:
        raise UnsupportedMedia("the file is not a video, photo or song we can read") from exc
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise UnsupportedMedia("the file is not a video, photo or song we can read") from exc


def _is_ffmpeg(binary: str) -> bool:
    return os.path.basename(binary).startswith("ffmpeg") or binary == FFMPEG


def _progress_seconds(line: str) -> float | None:
    # ffmpeg 5.1 writes out_time_us; out_time_ms is (despite its name) microseconds too.
    key, _, value = line.strip().partition("=")
    if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():
        return max(0.0, int(value) / 1_000_000)
    return None


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no error output"
