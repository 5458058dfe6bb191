"""kernel_cache: numba's cache of librosa's kernels is filled by one process at a time while it is cold."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from media_pipeline import kernel_cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(folder))
    return folder


def test_the_cache_is_marked_warm_once_the_body_has_run(cache):
    with kernel_cache.compiling_alone():
        assert not kernel_cache.warm_marker().exists()
    assert kernel_cache.warm_marker().exists()
    assert kernel_cache.warm_marker().parent == cache


def test_a_body_that_fails_leaves_the_cache_cold(cache):
    with pytest.raises(RuntimeError), kernel_cache.compiling_alone():
        raise RuntimeError("killed mid-compile")
    assert not kernel_cache.warm_marker().exists()


def test_a_cold_cache_is_emptied_before_it_is_filled(cache):
    (cache / "librosa_stale").mkdir(parents=True)
    (cache / "librosa_stale" / "beat.nbi").write_bytes(b"torn")
    (cache / "cutline-warm-librosa0.9-numba0.50").touch()  # another version's
    with kernel_cache.compiling_alone():
        assert sorted(p.name for p in cache.iterdir()) == [kernel_cache.LOCK_NAME]
        (cache / "librosa_new").mkdir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [kernel_cache.LOCK_NAME, "librosa_new", kernel_cache.warm_marker().name]
    )


def test_a_warm_cache_is_used_as_it_is(cache):
    with kernel_cache.compiling_alone():
        (cache / "librosa_kernels").mkdir()
    with kernel_cache.compiling_alone():
        assert (cache / "librosa_kernels").is_dir()
    assert (cache / "librosa_kernels").is_dir()


def test_a_cache_folder_that_cannot_be_made_still_runs_the_body(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "a-file" / "numba"))
    ran = []
    with kernel_cache.compiling_alone():
        ran.append(True)
    assert ran == [True]


HOLDER = """
import sys, time
from pathlib import Path
from media_pipeline import kernel_cache
name, signals = sys.argv[1], Path(sys.argv[2])
with kernel_cache.compiling_alone():
    (signals / f"{name}-in").touch()
    (kernel_cache.folder() / f"kernels-of-{name}").touch()
    while not (signals / f"{name}-go").exists():
        time.sleep(0.02)
"""


def _wait_for(path: Path, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def test_a_second_process_waits_while_the_first_fills_a_cold_cache_and_keeps_what_it_compiled(cache, tmp_path):
    signals = tmp_path / "signals"
    signals.mkdir()

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", HOLDER, name, str(signals)], cwd=ROOT)

    first = start("first")
    _wait_for(signals / "first-in")
    second = start("second")
    try:
        time.sleep(1.0)  # time enough to start; it must still be waiting for the lock
        assert not (signals / "second-in").exists()
        (signals / "first-go").touch()
        assert first.wait(timeout=30) == 0
        _wait_for(signals / "second-in")
        (signals / "second-go").touch()
        assert second.wait(timeout=30) == 0
    finally:
        for process in (first, second):
            process.kill()
            process.wait()
    assert (cache / "kernels-of-first").exists()  # the cache was warm: the second did not empty it
    assert (cache / "kernels-of-second").exists()
    assert kernel_cache.warm_marker().exists()


def test_a_warm_up_that_fails_says_so_and_leaves_the_release_step_going(cache, monkeypatch, capsys):
    from media_pipeline import beat

    def broken(samples):
        raise MemoryError("out of memory")

    monkeypatch.setattr(beat, "analyze_samples", broken)
    assert beat.main(["--warm-up"]) == 0
    assert "the kernels were not compiled (out of memory)" in capsys.readouterr().err
    assert not kernel_cache.warm_marker().exists()


def test_the_beat_command_without_a_song_or_warm_up_is_a_one_line_usage_error(capsys):
    from media_pipeline import beat

    with pytest.raises(SystemExit) as exited:
        beat.main([])
    assert exited.value.code == 2
    assert "--cache-dir and a song are needed (or --warm-up)" in capsys.readouterr().err
