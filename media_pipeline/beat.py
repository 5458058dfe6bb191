"""Music analysis: a song's tempo, beats, bar starts and energy envelope, cached by the file's content."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import beat_tracking, cache_files, ffmpeg, kernel_cache, song_events
from .beat_tracking import SAMPLE_RATE
from .errors import RenderFailed, RenderTimeout, UnsupportedMedia
from .facts import BeatGrid
from .probe import MAX_SONG_SECONDS, probe_audio

ANALYSIS_VERSION = 2  # bump when the analysis changes: old cache entries are then ignored

ENVELOPE_RATE = 10.0
MIN_SONG_SECONDS = 1.0
DECODE_TIMEOUT = 180.0
ANALYSIS_TIMEOUT = 300.0  # the whole analysis in its own process: decode, imports, tracking


def analyze_music(path: str, *, cache_dir: str | None = None) -> BeatGrid:
    """The beat grid of the song at `path`; with cache_dir, a file analysed before is not decoded again."""
    cache_file = _cache_path(path, cache_dir) if cache_dir else None
    if cache_file is not None:
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached
    probe_audio(path)  # rejects what is not a song before decoding anything
    grid = analyze_samples(decode_mono(path))
    if cache_file is not None:
        _write_cache(cache_file, grid)
    return grid


def analyze_music_apart(path: str, *, cache_dir: str, timeout: float = ANALYSIS_TIMEOUT) -> BeatGrid:
    """analyze_music in a short-lived Python process: the caller never holds librosa's memory.

    Importing numpy, scipy and librosa keeps their memory resident for the life of
    a process, on top of the analysis's own peak; a render worker that ran it
    itself would carry that through every render after it (sizes:
    benchmarks/README.md, beat_eval.py). A song analysed before is read from the
    cache without starting anything.
    """
    cached = _read_cache(_cache_path(path, cache_dir))
    if cached is not None:
        return cached
    try:
        stdout = ffmpeg.run_module("media_pipeline.beat", ["--cache-dir", cache_dir, path], timeout=timeout).stdout
    except RenderTimeout as exc:
        raise RenderFailed(f"the music analysis took longer than {timeout:.0f} s and was stopped") from exc
    except RenderFailed as exc:
        raise RenderFailed(f"the music analysis failed: {exc}") from exc
    try:
        # The reply is the last line: a library may have printed something before it.
        reply = json.loads(stdout.strip().splitlines()[-1])
        if "unsupported" in reply:
            raise UnsupportedMedia(reply["unsupported"])
        return _grid_from_dict(reply["grid"])
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        raise RenderFailed("the music analysis gave no readable result") from exc


def main(argv: list[str] | None = None) -> int:
    """`python -m media_pipeline.beat --cache-dir DIR SONG`: the grid as JSON on stdout, and in the cache.

    `--warm-up` instead compiles librosa's kernels into numba's cache (kernel_cache.py) on a few
    seconds of clicks, so that the first real analysis on a host does not pay for it.
    """
    parser = argparse.ArgumentParser(prog="python -m media_pipeline.beat", description=main.__doc__)
    parser.add_argument("--warm-up", action="store_true", help="fill the kernel cache and exit")
    parser.add_argument("--cache-dir")
    parser.add_argument("song", nargs="?")
    options = parser.parse_args(argv)
    if options.warm_up:
        warm_up()
        return 0
    if not options.cache_dir or not options.song:
        parser.error("--cache-dir and a song are needed (or --warm-up)")
    try:
        grid = analyze_music(options.song, cache_dir=options.cache_dir)
    except UnsupportedMedia as exc:
        print(json.dumps({"unsupported": str(exc)}))
        return 0
    print(json.dumps({"grid": asdict(grid)}))
    return 0


def warm_up() -> None:
    """Analyse eight seconds of clicks at 120 BPM: every kernel a real analysis uses is then compiled and cached.

    A warm-up that fails says so and returns: it only saves the first real analysis time, and a release
    step that runs it must not keep the site from starting.
    """
    if kernel_cache.warm_marker().exists():
        return
    print(f"Compiling librosa's kernels into {kernel_cache.folder()} (once, about 30 s)", file=sys.stderr)
    seconds, beat = 8, SAMPLE_RATE // 2
    samples = np.zeros(seconds * SAMPLE_RATE, dtype=np.float32)
    click = np.hanning(256).astype(np.float32)
    for start in range(0, len(samples) - len(click), beat):
        samples[start:start + len(click)] = click
    try:
        analyze_samples(samples)
    except Exception as exc:  # noqa: BLE001 (any failure: the first real analysis compiles instead)
        print(f"warning: the kernels were not compiled ({exc}); the first song's analysis will compile them",
              file=sys.stderr)


def decode_mono(path: str) -> np.ndarray:
    """The first sound track as mono float32 samples at SAMPLE_RATE."""
    with tempfile.TemporaryDirectory(prefix="cutline-decode-") as tmp:
        raw = os.path.join(tmp, "song.f32")
        args = [
            ffmpeg.FFMPEG, "-v", "error", *ffmpeg.safe_input_args(), "-i", path,
            "-map", "0:a:0", "-t", str(MAX_SONG_SECONDS), "-ac", "1", "-ar", str(SAMPLE_RATE),
            "-c:a", "pcm_f32le", "-f", "f32le", raw,
        ]
        try:
            ffmpeg.run(args, timeout=DECODE_TIMEOUT)
        except RenderFailed as exc:  # includes RenderTimeout
            raise UnsupportedMedia("we could not decode the song; try MP3, M4A, WAV or OGG") from exc
        samples = np.fromfile(raw, dtype="<f4")
    return np.nan_to_num(samples, copy=False)


def analyze_samples(samples: np.ndarray) -> BeatGrid:
    """The beat grid of mono float samples at SAMPLE_RATE."""
    duration = len(samples) / SAMPLE_RATE
    if duration < MIN_SONG_SECONDS:
        raise UnsupportedMedia(f"the song is too short: it needs at least {MIN_SONG_SECONDS:.0f} second of sound")
    # Until the kernel cache is warm, one process at a time compiles into it (kernel_cache.py).
    with kernel_cache.compiling_alone():
        librosa = _librosa()
        magnitude = beat_tracking.spectrum(librosa, samples)
        onsets = beat_tracking.onset_strength(librosa, magnitude)
        chroma = beat_tracking.chroma(librosa, magnitude)
        bands = beat_tracking.band_onsets(librosa, magnitude)
        sections = song_events.section_features(librosa, magnitude, chroma)
        # Everything the spectrum gives is taken first and the spectrum let go before the tracker runs:
        # loading librosa's numba-compiled tracker costs about as much again (benchmarks/README.md).
        del magnitude
        found = beat_tracking.track(librosa, bands, onsets, chroma)
    events, strengths = song_events.salient_events(onsets.strength)
    return BeatGrid(
        duration=duration,
        tempo=found.tempo if found.has_beat else 0.0,
        beats=_seconds(found.beat_frames) if found.has_beat else (),
        downbeats=_seconds(found.downbeat_frames) if found.has_beat else (),
        envelope_rate=ENVELOPE_RATE,
        envelope=_downsample(onsets.strength, duration),
        meter=found.meter,
        events=events,
        event_strengths=strengths,
        sections=song_events.section_changes(sections),
    )


def _librosa():
    """librosa, imported on first use so that importing media_pipeline stays fast."""
    # numba compiles librosa's kernels into this folder; when it cannot write there,
    # every new process compiles them all again.
    kernel_cache.folder()
    import librosa

    return librosa


def _seconds(frames: np.ndarray) -> tuple[float, ...]:
    seconds = (frames - beat_tracking.ONSET_DELAY_FRAMES) / beat_tracking.FRAME_RATE
    return tuple(round(max(0.0, float(s)), 4) for s in seconds)


def _downsample(onset: np.ndarray, duration: float) -> tuple[float, ...]:
    """The strongest onset in each 1/ENVELOPE_RATE s, scaled to 0..1."""
    count = max(1, int(np.ceil(duration * ENVELOPE_RATE)))
    edges = np.linspace(0, len(onset), count + 1).astype(int)
    pooled = np.array([onset[a:b].max() if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    peak = float(pooled.max()) if len(pooled) else 0.0
    if peak > 0:
        pooled = pooled / peak
    return tuple(round(float(v), 4) for v in pooled)


def _cache_path(path: str, cache_dir: str) -> Path:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return Path(cache_dir) / f"{digest.hexdigest()}-v{ANALYSIS_VERSION}.json"


def _read_cache(cache_file: Path) -> BeatGrid | None:
    """The cached grid, or None when there is none or it is unreadable (it is then recomputed)."""
    try:
        grid = _grid_from_dict(json.loads(cache_file.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    cache_files.mark_used(cache_file)
    return grid


def _grid_from_dict(data: dict) -> BeatGrid:
    return BeatGrid(
        duration=float(data["duration"]),
        tempo=float(data["tempo"]),
        beats=tuple(float(b) for b in data["beats"]),
        downbeats=tuple(float(b) for b in data["downbeats"]),
        envelope_rate=float(data["envelope_rate"]),
        envelope=tuple(float(v) for v in data["envelope"]),
        meter=int(data.get("meter", 4)),
        events=tuple(float(t) for t in data.get("events", ())),
        event_strengths=tuple(float(v) for v in data.get("event_strengths", ())),
        sections=tuple(float(t) for t in data.get("sections", ())),
    )


def _write_cache(cache_file: Path, grid: BeatGrid) -> None:
    """Store the grid (write, then rename: readers never see half a file); failing only costs time later."""
    tmp = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(grid), f)
        os.replace(tmp, cache_file)
        tmp = None
        cache_files.prune(cache_file.parent)  # the songs no job has used for a week
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
