"""The ffmpeg runner: time limits, failures, progress and cancellation never leave a process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from media_pipeline import ffmpeg
from media_pipeline.errors import RenderCancelled, RenderFailed, RenderStalled, RenderTimeout, UnsupportedMedia

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


def _marker() -> str:
    """A unique word to put on a command line, so we can look for the process afterwards."""
    return f"cutline-test-{uuid.uuid4().hex}"


def _processes_with(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line contains marker."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def _gone(marker: str, *, patience: float = 5.0) -> bool:
    """True once no process carries marker; the kernel takes a moment to reap a killed one."""
    deadline = time.monotonic() + patience
    while _processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _endless_ffmpeg(marker: str) -> list[str]:
    """ffmpeg reading a 10-minute source in real time: it runs until stopped."""
    return [
        ffmpeg.FFMPEG, "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=10:d=600",
        "-metadata", f"comment={marker}", "-f", "null", "-",
    ]


def test_a_timeout_raises_and_kills_the_whole_process_group(tmp_path):
    marker = _marker()
    started = tmp_path / "grandchild_started"
    # A child that starts a grandchild which lets go of the pipes (so run() cannot wait
    # for it to finish): both must die, not just the direct child.
    grandchild = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
    child = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {grandchild!r}, {marker!r}], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); time.sleep(60)"
    )
    with pytest.raises(RenderTimeout, match="longer than 3 s"):
        ffmpeg.run([sys.executable, "-c", child, marker], timeout=3)
    assert started.exists(), "the grandchild never started"
    assert _gone(marker)


def test_a_timed_out_ffmpeg_is_stopped():
    marker = _marker()
    with pytest.raises(RenderTimeout):
        ffmpeg.run(_endless_ffmpeg(marker), timeout=1)
    assert _gone(marker)


def test_a_failure_raises_render_failed_with_the_last_line_of_stderr(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(RenderFailed) as failure:
        ffmpeg.run([ffmpeg.FFMPEG, "-v", "error", "-i", str(missing), "-f", "null", "-"], timeout=30)
    assert not isinstance(failure.value, (RenderTimeout, RenderCancelled))
    assert "No such file or directory" in str(failure.value)
    assert "exit 1" in str(failure.value)


def test_it_returns_what_the_program_printed():
    result = ffmpeg.run([ffmpeg.FFPROBE, "-v", "error", "-version"], timeout=30)
    assert result.stdout.startswith("ffprobe version")


def test_run_binary_returns_raw_frames_byte_for_byte():
    out, _ = ffmpeg.run_binary(
        [ffmpeg.FFMPEG, "-v", "error", "-f", "lavfi", "-i", "color=c=white:s=8x4:d=0.2:r=10",
         "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"],
        timeout=30,
    )
    assert out == bytes([255]) * (8 * 4 * 2)


def test_run_binary_stops_a_timed_out_ffmpeg_and_reports_a_failure_in_one_line(tmp_path):
    marker = _marker()
    with pytest.raises(RenderTimeout):
        ffmpeg.run_binary(_endless_ffmpeg(marker), timeout=1)
    assert _gone(marker)
    with pytest.raises(RenderFailed, match="exit 1.*No such file"):
        ffmpeg.run_binary([ffmpeg.FFMPEG, "-v", "error", "-i", str(tmp_path / "gone.mp4"), "-f", "null", "-"],
                          timeout=30)


def test_progress_reports_increasing_seconds_up_to_the_end():
    seen: list[float] = []
    ffmpeg.run(
        [ffmpeg.FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=25:d=3", "-f", "null", "-"],
        timeout=60,
        on_progress=seen.append,
    )
    assert len(seen) >= 1
    assert all(b >= a for a, b in zip(seen, seen[1:]))
    assert seen[-1] == pytest.approx(3.0, abs=0.1)


def test_cancelling_stops_ffmpeg_and_raises():
    marker = _marker()
    seen: list[float] = []
    with pytest.raises(RenderCancelled):
        ffmpeg.run(_endless_ffmpeg(marker), timeout=60, on_progress=seen.append, should_cancel=lambda: bool(seen))
    assert seen
    assert _gone(marker)


def test_a_hung_ffmpeg_is_stopped_long_before_its_timeout(tmp_path):
    # A source that sends ten frames over a second and then nothing, without closing:
    # ffmpeg waits for the next frame forever, as it does behind a decoder or filter that hangs.
    marker = _marker()
    fifo = tmp_path / "frames"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as source:
            for _ in range(10):
                source.write(bytes(64 * 36))
                source.flush()
                time.sleep(0.1)
            time.sleep(30)

    threading.Thread(target=feed, daemon=True).start()
    seen: list[float] = []
    started = time.monotonic()
    with pytest.raises(RenderStalled, match=r"no progress for 2 s") as stalled:
        ffmpeg.run(
            [ffmpeg.FFMPEG, "-v", "error", "-stats_period", "0.05", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "64x36", "-r", "25",
             "-i", str(fifo), "-metadata", f"comment={marker}", "-f", "null", "-"],
            timeout=60, stall_timeout=2, on_progress=seen.append,
        )
    assert time.monotonic() - started < 20
    assert 0 < max(seen) <= 0.4
    assert f"stuck at {max(seen):.1f} s of the video" in str(stalled.value)
    assert _gone(marker)


def test_a_slow_ffmpeg_that_keeps_moving_is_not_taken_for_hung():
    seen: list[float] = []
    ffmpeg.run(
        [ffmpeg.FFMPEG, "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=s=64x36:r=10:d=3", "-f", "null", "-"],
        timeout=60, stall_timeout=1, on_progress=seen.append,
    )
    assert seen[-1] == pytest.approx(3.0, abs=0.1)


def test_an_ffmpeg_outlives_no_killed_worker(tmp_path):
    marker = _marker()
    ready = tmp_path / "ready"
    # A stand-in worker: starts a long ffmpeg through run(), then gets SIGKILLed mid-way.
    worker = textwrap.dedent(f"""
        import pathlib, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from media_pipeline import ffmpeg
        args = {_endless_ffmpeg(marker)!r}
        ffmpeg.run(args, timeout=120, on_progress=lambda s: pathlib.Path({str(ready)!r}).touch())
    """)
    proc = subprocess.Popen([sys.executable, "-c", worker])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the worker never started ffmpeg"
        assert _processes_with(marker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert _gone(marker)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_safe_input_args_allow_local_files_and_known_containers_only():
    args = ffmpeg.safe_input_args("mov,mp4")
    assert args == ["-protocol_whitelist", "file", "-format_whitelist", "mov,mp4"]


def test_ffprobe_json_describes_a_file_and_refuses_text(tmp_path):
    from tests.media_factory import make_photo

    photo = make_photo(tmp_path / "photo.png", width=64, height=48)
    data = ffmpeg.ffprobe_json(str(photo))
    assert data["streams"][0]["width"] == 64
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(UnsupportedMedia):
        ffmpeg.ffprobe_json(str(text))
