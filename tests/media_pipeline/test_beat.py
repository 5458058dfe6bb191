"""analyze_music(): beats, tempo and bars of synthesised songs, beatless sound, and the cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import beat, cache_files, ffmpeg
from media_pipeline.errors import RenderFailed, UnsupportedMedia
from media_pipeline.facts import BeatGrid
from tests.media_factory import SAMPLE_RATE, ambient_track, drum_track, make_photo, write_audio

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")

SECONDS = 10.0
TOLERANCE = 0.070  # a detected beat must be this close to a true one


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("songs")


def _drum_song(folder: Path, bpm: float, swing: float = 0.0, ext: str = "wav") -> tuple[Path, list[float]]:
    samples, truth = drum_track(bpm, SECONDS, swing=swing)
    return write_audio(folder / f"drums_{bpm}_{swing}.{ext}", samples), truth


DRUMS = [(bpm, swing) for bpm in (90, 120, 128, 140) for swing in (0.0, 0.33)]


@pytest.fixture(scope="module", params=DRUMS, ids=lambda p: f"{p[0]}bpm-swing{p[1]}")
def analysed_drums(request, songs) -> tuple[BeatGrid, list[float], float]:
    bpm, swing = request.param
    path, truth = _drum_song(songs, bpm, swing)
    return beat.analyze_music(str(path)), truth, bpm


def _distance_to_nearest(times, targets) -> np.ndarray:
    return np.abs(np.asarray(times)[:, None] - np.asarray(targets)[None, :]).min(axis=1)


# --- songs with a beat -----------------------------------------------------------------------


def test_every_detected_beat_is_within_70_ms_of_a_true_beat(analysed_drums):
    grid, truth, _ = analysed_drums
    assert grid.has_beat
    assert _distance_to_nearest(grid.beats, truth).max() < TOLERANCE


def _level(grid: BeatGrid, bpm: float) -> int:
    """How many true beats one tracked beat spans: 1 at the true tempo, 2 at half time."""
    return max(1, round(bpm / grid.tempo))


def test_it_finds_at_least_90_percent_of_the_true_beats_at_its_metrical_level(analysed_drums):
    # A loop of a kick on every beat and a snare on every other repeats as strongly every
    # two beats as every beat: the tracker may follow either level (the labelled real
    # music in test_beat_real.py holds it to the written tempo).
    grid, truth, bpm = analysed_drums
    step = _level(grid, bpm)
    inner = truth[1:-1]  # the first and last beat may be skipped
    found = max((_distance_to_nearest(inner[phase::step], grid.beats) < TOLERANCE).mean() for phase in range(step))
    assert found >= 0.9


def test_the_tempo_is_within_2_percent_of_the_true_tempo_or_its_half(analysed_drums):
    grid, _, bpm = analysed_drums
    assert any(grid.tempo == pytest.approx(level, rel=0.02) for level in (bpm, bpm / 2))


def test_downbeats_are_every_fourth_beat(analysed_drums):
    grid, _, _ = analysed_drums
    assert set(grid.downbeats) <= set(grid.beats)
    positions = [grid.beats.index(d) for d in grid.downbeats]
    assert len(positions) >= 2
    assert all(b - a == 4 for a, b in zip(positions, positions[1:]))


@pytest.mark.parametrize("bpm", [90, 120])
def test_downbeats_fall_on_kick_beats_not_on_the_snare(songs, bpm):
    path, truth = _drum_song(songs, bpm)
    grid = beat.analyze_music(str(path))
    assert grid.tempo == pytest.approx(bpm, rel=0.02)
    # drum_track puts the snare on every odd beat (2 and 4 of the bar).
    nearest = [int(np.abs(np.asarray(truth) - d).argmin()) for d in grid.downbeats]
    assert all(i % 2 == 0 for i in nearest)


@pytest.mark.parametrize("bpm", [70, 160])
def test_slow_and_fast_loops_keep_their_tempo_within_an_octave_with_every_beat_on_a_true_one(songs, bpm):
    path, truth = _drum_song(songs, bpm)
    grid = beat.analyze_music(str(path))
    assert any(grid.tempo == pytest.approx(level, rel=0.02) for level in (bpm / 2, bpm, 2 * bpm))
    # At double time every other tracked beat is an off-beat hat; at the tempo or half, all are true beats.
    on = _distance_to_nearest(grid.beats, truth) <= TOLERANCE
    assert on.mean() >= (0.45 if grid.tempo > 1.5 * bpm else 1.0)


def test_drum_and_bass_is_read_at_half_time_with_every_beat_on_a_true_one(songs):
    # At 174 BPM the tracker follows every other beat (as a listener nodding along does):
    # cuts then come half as often, but each still lands on a beat.
    path, truth = _drum_song(songs, 174)
    grid = beat.analyze_music(str(path))
    assert grid.tempo == pytest.approx(87, rel=0.02)
    assert _distance_to_nearest(grid.beats, truth).max() <= TOLERANCE


@pytest.mark.parametrize("ext", ["mp3", "m4a", "ogg"])
def test_compressed_songs_keep_their_beats_in_place(songs, ext):
    path, truth = _drum_song(songs, 120, ext=ext)
    grid = beat.analyze_music(str(path))
    assert grid.tempo == pytest.approx(120, rel=0.02)
    assert _distance_to_nearest(grid.beats, truth).max() < TOLERANCE


def test_no_beats_are_placed_in_silence_around_the_song(songs):
    samples, truth = drum_track(120, 6.0)
    silence = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    path = write_audio(songs / "padded.wav", np.concatenate([silence, samples, silence]))
    grid = beat.analyze_music(str(path))
    assert grid.beats[0] >= 2.0 - TOLERANCE
    assert grid.beats[-1] <= 2.0 + truth[-1] + TOLERANCE
    assert grid.duration == pytest.approx(10.0, abs=0.01)


def test_the_envelope_is_a_0_to_1_curve_at_10_per_second_that_peaks_on_beats(analysed_drums):
    grid, truth, _ = analysed_drums
    envelope = np.asarray(grid.envelope)
    assert grid.envelope_rate == 10.0
    assert len(envelope) == pytest.approx(grid.duration * 10, abs=1)
    assert envelope.min() >= 0.0 and envelope.max() == pytest.approx(1.0)
    on_beat = np.zeros(len(envelope), dtype=bool)
    on_beat[[int(t * 10) for t in truth if int(t * 10) < len(envelope)]] = True
    assert envelope[on_beat].mean() > 1.4 * envelope[~on_beat].mean()


# --- sound without a beat --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ambient", "silence", "noise"])
def test_sound_without_a_pulse_is_beatless(songs, name):
    n = int(SECONDS * SAMPLE_RATE)
    samples = {
        "ambient": lambda: ambient_track(SECONDS),
        "silence": lambda: np.zeros(n, dtype=np.float32),
        "noise": lambda: (np.random.default_rng(1).standard_normal(n) * 0.2).astype(np.float32),
    }[name]()
    grid = beat.analyze_music(str(write_audio(songs / f"{name}.wav", samples)))
    assert not grid.has_beat
    assert grid.tempo == 0.0
    assert grid.beats == () and grid.downbeats == ()
    assert grid.duration == pytest.approx(SECONDS, abs=0.01)
    assert len(grid.envelope) == pytest.approx(SECONDS * 10, abs=1)


# --- what it refuses -------------------------------------------------------------------------


def test_a_song_shorter_than_a_second_is_refused(songs):
    short = write_audio(songs / "short.wav", drum_track(120, 0.5)[0])
    with pytest.raises(UnsupportedMedia, match="too short"):
        beat.analyze_music(str(short))


def test_a_photo_is_not_a_song(songs):
    with pytest.raises(UnsupportedMedia):
        beat.analyze_music(str(make_photo(songs / "photo.jpg", width=64, height=64)))


def test_a_text_file_is_not_a_song(songs):
    text = songs / "lyrics.mp3"
    text.write_text("la la la\n" * 50)
    with pytest.raises(UnsupportedMedia):
        beat.analyze_music(str(text))


# --- the cache -------------------------------------------------------------------------------


@pytest.fixture
def cached_song(songs, tmp_path) -> tuple[Path, Path, BeatGrid]:
    path, _ = _drum_song(songs, 120)
    cache = tmp_path / "beat-cache"
    return path, cache, beat.analyze_music(str(path), cache_dir=str(cache))


def _refuse_to_decode(path: str) -> np.ndarray:
    raise AssertionError("the song was decoded again")


def test_a_cached_song_is_not_decoded_again(cached_song, monkeypatch):
    path, cache, first = cached_song
    monkeypatch.setattr(beat, "decode_mono", _refuse_to_decode)
    assert beat.analyze_music(str(path), cache_dir=str(cache)) == first


def test_the_cache_is_one_json_file_named_by_content_and_version(cached_song):
    path, cache, first = cached_song
    files = list(cache.iterdir())
    assert [f.name for f in files] == [f"{hashlib.sha256(path.read_bytes()).hexdigest()}-v{beat.ANALYSIS_VERSION}.json"]
    assert json.loads(files[0].read_text())["tempo"] == first.tempo


def test_a_corrupt_cache_file_is_ignored_and_rewritten(cached_song):
    path, cache, first = cached_song
    (entry,) = cache.iterdir()
    entry.write_text('{"tempo": 12')  # cut off mid-write by some other program
    assert beat.analyze_music(str(path), cache_dir=str(cache)) == first
    assert json.loads(entry.read_text())["beats"] == list(first.beats)


def test_a_changed_file_is_analysed_afresh(cached_song, songs, monkeypatch):
    path, cache, _ = cached_song
    changed = songs / "changed.wav"
    write_audio(changed, ambient_track(3.0))
    monkeypatch.setattr(beat, "decode_mono", _refuse_to_decode)
    with pytest.raises(AssertionError, match="decoded again"):
        beat.analyze_music(str(changed), cache_dir=str(cache))


def test_songs_no_job_used_for_a_week_leave_the_cache_when_another_is_written(cached_song, songs):
    path, cache, _ = cached_song
    (kept,) = cache.iterdir()
    stale = cache / f"{'0' * 64}-v{beat.ANALYSIS_VERSION}.json"
    stale.write_text(kept.read_text())
    week_ago = time.time() - cache_files.UNUSED_FOR_S - 60
    for entry in (kept, stale):
        os.utime(entry, (week_ago, week_ago))
    beat.analyze_music(str(path), cache_dir=str(cache))  # read: used again today
    other = songs / "other.wav"
    write_audio(other, ambient_track(3.0))
    beat.analyze_music(str(other), cache_dir=str(cache))  # a write prunes
    names = {entry.name for entry in cache.iterdir()}
    assert kept.name in names and stale.name not in names and len(names) == 2


def test_importing_the_pipeline_does_not_load_librosa():
    code = "import sys, media_pipeline.beat; print('librosa' in sys.modules, 'numba' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --- in a process of its own -----------------------------------------------------------------


def test_analysis_apart_gives_the_same_grid_and_fills_the_cache(songs, tmp_path):
    path, _ = _drum_song(songs, 120)
    cache = tmp_path / "beat-cache"
    apart = beat.analyze_music_apart(str(path), cache_dir=str(cache))
    assert apart == beat.analyze_music(str(path))
    assert len(list(cache.iterdir())) == 1


def test_analysis_apart_starts_no_process_for_a_cached_song(cached_song, monkeypatch):
    path, cache, first = cached_song

    def refuse(*args, **kwargs):
        raise AssertionError("a process was started")

    monkeypatch.setattr(ffmpeg, "run", refuse)
    assert beat.analyze_music_apart(str(path), cache_dir=str(cache)) == first


def test_analysis_apart_refuses_what_is_not_a_song_in_plain_words(songs, tmp_path):
    text = songs / "notes.mp3"
    text.write_text("not a song at all\n" * 50)
    with pytest.raises(UnsupportedMedia, match="song|audio|read"):
        beat.analyze_music_apart(str(text), cache_dir=str(tmp_path))


def test_analysis_apart_that_crashes_fails_with_a_readable_reason(songs, tmp_path, monkeypatch):
    path, _ = _drum_song(songs, 120)
    monkeypatch.setattr(beat.sys, "executable", "/bin/false")
    with pytest.raises(RenderFailed, match="^the music analysis failed"):
        beat.analyze_music_apart(str(path), cache_dir=str(tmp_path))


def test_analysis_apart_that_answers_nonsense_fails_with_a_readable_reason(songs, tmp_path, monkeypatch):
    path, _ = _drum_song(songs, 120)
    monkeypatch.setattr(ffmpeg, "run", lambda *args, **kwargs: ffmpeg.Result(stdout="Traceback...\n", stderr_tail=""))
    with pytest.raises(RenderFailed, match="no readable result"):
        beat.analyze_music_apart(str(path), cache_dir=str(tmp_path))
