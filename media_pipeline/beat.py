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

from . import ffmpeg
from .errors import RenderFailed, RenderTimeout, UnsupportedMedia
from .facts import BeatGrid
from .probe import MAX_SONG_SECONDS, probe_audio

ANALYSIS_VERSION = 2  # bump when the analysis changes: old cache entries are then ignored

SAMPLE_RATE = 22050
HOP = 256  # 11.6 ms frames: a beat lands well within one video frame
N_FFT = 1024
ENVELOPE_RATE = 10.0
MIN_SONG_SECONDS = 1.0
DECODE_TIMEOUT = 180.0
ANALYSIS_TIMEOUT = 300.0  # the whole analysis in its own process: decode, imports, tracking

# Tempo prior: log-normal around 115 BPM, half an octave wide, so songs at
# 90-140 BPM are not read at half or double speed (librosa's default is one octave).
PRIOR_BPM = 115.0
PRIOR_OCTAVES = 0.5
TIGHTNESS = 100.0
COMPRESSION = 100.0  # log1p(COMPRESSION * power / peak): how far quiet sounds are lifted
# The compressed onset envelope peaks two frames (23 ms) after the hit that causes it
# (measured on synthetic drums: mean error -1..+1 ms after this correction).
ONSET_DELAY_FRAMES = 2
EDGE_TOLERANCE = 0.1  # first/last beats spaced more than 10% off the median are dropped
QUIET_FRACTION = 0.1  # ... and so are those weaker than a tenth of the median beat (silence)

# A song has a beat when its onsets are both strong and periodic, judged on the
# decibel onset strength (mean dB rise per frame, whatever the song's loudness).
MIN_BEAT_STRENGTH = 2.0  # median on the beats: drums ~17, real songs 7-9, slow pads 0.3, noise 1.4
MIN_PULSE_CLARITY = 0.25  # autocorrelation at the beat period: drums 0.7+, songs 0.34-0.55, speech < 0.2

LOW_BAND_HZ = 150.0  # kick drum and bass notes
HIGH_BAND_HZ = 2000.0  # snare, claps and hats
BEATS_PER_BAR = 4

TEMPO_WINDOW_S = 8.0  # librosa's default autocorrelation window for tempo estimation
TEMPOGRAM_BLOCK = 1024  # frames per block of the averaged tempogram (about 12 s of song)


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

    Importing numpy, scipy and librosa keeps about 210 MB resident for the life of
    a process, and the analysis peaks near 300 MB; a render worker that ran it
    itself would carry that through every render after it. A song analysed before
    is read from the cache without starting anything.
    """
    cached = _read_cache(_cache_path(path, cache_dir))
    if cached is not None:
        return cached
    package_root = str(Path(__file__).resolve().parent.parent)
    args = [sys.executable, "-m", "media_pipeline.beat", "--cache-dir", cache_dir, path]
    try:
        stdout = ffmpeg.run(args, timeout=timeout, cwd=package_root).stdout
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
    """`python -m media_pipeline.beat --cache-dir DIR SONG`: the grid as JSON on stdout, and in the cache."""
    parser = argparse.ArgumentParser(prog="python -m media_pipeline.beat", description=main.__doc__)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("song")
    options = parser.parse_args(argv)
    try:
        grid = analyze_music(options.song, cache_dir=options.cache_dir)
    except UnsupportedMedia as exc:
        print(json.dumps({"unsupported": str(exc)}))
        return 0
    print(json.dumps({"grid": asdict(grid)}))
    return 0


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
    librosa = _librosa()
    mel = librosa.feature.melspectrogram(y=samples, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, fmax=SAMPLE_RATE / 2)
    # Two views of the same spectrogram. Compressed power keeps loud hits above quiet
    # ones (in decibels a soft hi-hat after silence rises as far as a kick, and the
    # tracker then locks onto off-beats); decibels do not depend on loudness, which
    # is what the beat/no-beat decision needs.
    compressed = np.log1p(COMPRESSION * mel / max(float(mel.max()), 1e-10))
    onset = _onset_strength(librosa, compressed)
    onset_db = _onset_strength(librosa, librosa.power_to_db(mel))
    envelope = _downsample(onset, duration)
    beat_frames, tempo = _track_beats(librosa, onset)
    if len(beat_frames) < 4 or not _has_pulse(librosa, onset_db, beat_frames, tempo):
        return BeatGrid(duration, 0.0, (), (), ENVELOPE_RATE, envelope)
    beats = _frames_to_seconds(beat_frames)
    downbeats = beats[_bar_phase(librosa, compressed, beat_frames) :: BEATS_PER_BAR]
    return BeatGrid(
        duration=duration,
        tempo=round(_steady_tempo(beats), 2),
        beats=tuple(beats),
        downbeats=tuple(downbeats),
        envelope_rate=ENVELOPE_RATE,
        envelope=envelope,
    )


def _librosa():
    """librosa, imported on first use so that importing media_pipeline stays fast."""
    # numba compiles librosa's kernels into this folder; when it cannot write there,
    # every new process pays ~18 s of compiling. Only before numba loads: switching
    # folders later makes one process mix two caches, which segfaults (numba #10128).
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"cutline-numba-{os.getuid()}"))
    import librosa

    return librosa


def _onset_strength(librosa, spectrogram: np.ndarray) -> np.ndarray:
    """Mean rise per frame across the bands (n_fft and hop tell librosa how to align it)."""
    return librosa.onset.onset_strength(S=spectrogram, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP)


def _track_beats(librosa, onset: np.ndarray) -> tuple[np.ndarray, float]:
    """Beat frames and the tempo they were tracked at (0.0 when there are no onsets at all)."""
    if not onset.any():
        return np.array([], dtype=int), 0.0
    tempogram = _mean_tempogram(librosa, onset)
    estimate = librosa.feature.tempo(
        tg=tempogram, sr=SAMPLE_RATE, hop_length=HOP, start_bpm=PRIOR_BPM, std_bpm=PRIOR_OCTAVES
    )
    tempo = float(estimate[0])
    # librosa's own trimming drops every beat quieter than half the song's average,
    # which loses a soft intro; _trim_edges only drops beats in silence.
    _, frames = librosa.beat.beat_track(
        onset_envelope=onset, sr=SAMPLE_RATE, hop_length=HOP, bpm=tempo, tightness=TIGHTNESS, trim=False
    )
    return _trim_edges(np.asarray(frames, dtype=int), onset), tempo


def _mean_tempogram(librosa, onset: np.ndarray) -> np.ndarray:
    """librosa's autocorrelation tempogram averaged over the song, computed a block of frames at a time.

    librosa.feature.tempo builds the whole tempogram first (8 s windows at every
    11.6 ms frame): about 500 MB for a 3-minute song, growing with its length.
    Each column depends only on its own window, so summing blocks of columns gives
    the same mean in a few MB.
    """
    window_frames = int(librosa.time_to_frames(TEMPO_WINDOW_S, sr=SAMPLE_RATE, hop_length=HOP).item())
    count = onset.shape[-1]
    half = window_frames // 2
    # The same centring tempogram() does: a ramp to zero either side.
    padded = np.pad(onset, (half, half), mode="linear_ramp", end_values=(0, 0))
    window = librosa.filters.get_window("hann", window_frames, fftbins=True)[:, np.newaxis]
    total = np.zeros(window_frames)
    for start in range(0, count, TEMPOGRAM_BLOCK):
        stop = min(count, start + TEMPOGRAM_BLOCK)
        frames = librosa.util.frame(padded[start : stop + window_frames - 1], frame_length=window_frames, hop_length=1)
        columns = librosa.autocorrelate(frames * window, axis=-2)
        total += librosa.util.normalize(columns, norm=np.inf, axis=-2).sum(axis=-1)
    return (total / count)[:, np.newaxis]


def _trim_edges(frames: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Drop first/last beats that fall in silence or break the steady spacing (the tracker pins one near the end)."""
    if len(frames) == 0:
        return frames
    # The strongest onset within two frames of each beat.
    strength = np.array([onset[max(0, f - 2) : f + 3].max() for f in frames])
    audible = strength >= QUIET_FRACTION * float(np.median(strength))
    start, stop = 0, len(frames)
    while stop - start >= 4:
        spacing = float(np.median(np.diff(frames[start:stop])))
        if not audible[stop - 1] or abs((frames[stop - 1] - frames[stop - 2]) / spacing - 1) > EDGE_TOLERANCE:
            stop -= 1
        elif not audible[start] or abs((frames[start + 1] - frames[start]) / spacing - 1) > EDGE_TOLERANCE:
            start += 1
        else:
            break
    return frames[start:stop]


def _has_pulse(librosa, onset_db: np.ndarray, beat_frames: np.ndarray, tempo: float) -> bool:
    """Pulse clarity: strong onsets on the beats that also repeat at the beat (or two-beat) period."""
    if tempo <= 0 or float(np.median(onset_db[beat_frames])) < MIN_BEAT_STRENGTH:
        return False
    frame_rate = SAMPLE_RATE / HOP
    period = frame_rate * 60.0 / tempo
    # Remove slow swells first: they correlate at every lag and are no pulse.
    width = int(frame_rate)
    detrended = onset_db - np.convolve(onset_db, np.ones(width) / width, mode="same")
    corr = librosa.autocorrelate(detrended, max_size=int(2 * period) + 3)
    if corr[0] <= 0:
        return False
    corr = corr / corr[0]
    clarity = max(_peak_near(corr, period), _peak_near(corr, 2 * period))
    return clarity >= MIN_PULSE_CLARITY


def _peak_near(corr: np.ndarray, lag: float) -> float:
    centre = int(round(lag))
    if centre < 1 or centre + 1 >= len(corr):
        return 0.0
    return float(corr[centre - 1 : centre + 2].max())


def _frames_to_seconds(frames: np.ndarray) -> list[float]:
    seconds = (frames - ONSET_DELAY_FRAMES) * HOP / SAMPLE_RATE
    return [round(max(0.0, float(s)), 4) for s in seconds]


def _steady_tempo(beats: list[float]) -> float:
    """Tempo from a straight-line fit of beat times: finer than the 11.6 ms frame grid."""
    times = np.asarray(beats)
    gaps = np.diff(times)
    # Count beats gap by gap (a skipped beat counts two): dividing the whole span by
    # the frame-rounded median gap would drift by a beat over a long song.
    steps = np.maximum(1, np.round(gaps / float(np.median(gaps))))
    index = np.concatenate(([0.0], np.cumsum(steps)))
    slope = float(np.polyfit(index, times, 1)[0])
    return 60.0 / slope if slope > 0 else 0.0


def _bar_phase(librosa, spectrogram: np.ndarray, beat_frames: np.ndarray) -> int:
    """Which of the first four beats starts a bar: the one whose beats carry most low end and least snare."""
    freqs = librosa.mel_frequencies(n_mels=spectrogram.shape[0], fmax=SAMPLE_RATE / 2)
    low = _normalised(_onset_strength(librosa, spectrogram[freqs <= LOW_BAND_HZ]))
    high = _normalised(_onset_strength(librosa, spectrogram[freqs >= HIGH_BAND_HZ]))
    accent = (low - high)[beat_frames]
    scores = [float(accent[phase::BEATS_PER_BAR].mean()) for phase in range(min(BEATS_PER_BAR, len(accent)))]
    return int(np.argmax(scores))


def _normalised(values: np.ndarray) -> np.ndarray:
    peak = float(values.max()) if len(values) else 0.0
    return values / peak if peak > 0 else values


def _downsample(onset: np.ndarray, duration: float) -> tuple[float, ...]:
    """The strongest onset in each 1/ENVELOPE_RATE s, scaled to 0..1."""
    count = max(1, int(np.ceil(duration * ENVELOPE_RATE)))
    edges = np.linspace(0, len(onset), count + 1).astype(int)
    pooled = np.array([onset[a:b].max() if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    pooled = _normalised(pooled)
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
        return _grid_from_dict(json.loads(cache_file.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
