"""Loudness: measuring the song's window and the gain that brings it to the style's level."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg, loudness
from media_pipeline.errors import RenderFailed
from media_pipeline.loudness import Loudness, gain_db
from tests.media_factory import SAMPLE_RATE, write_audio

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="ffmpeg is not installed")


def tone(path: Path, amplitude: float, seconds: float = 6.0) -> Path:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return write_audio(path, amplitude * np.sin(2 * np.pi * 1000 * t))


def test_a_tone_half_as_loud_measures_6_lu_quieter(tmp_path):
    loud = loudness.measure(str(tone(tmp_path / "loud.wav", 0.5)), 1.0, 4.0)
    quiet = loudness.measure(str(tone(tmp_path / "quiet.m4a", 0.25)), 1.0, 4.0)
    assert loud.integrated - quiet.integrated == pytest.approx(6.0, abs=0.3)
    assert loud.true_peak == pytest.approx(-6.0, abs=0.5)  # a 0.5 sine peaks at -6 dBFS


def test_silence_measures_as_silence_and_gets_no_gain(tmp_path):
    level = loudness.measure(str(write_audio(tmp_path / "silence.wav", np.zeros(SAMPLE_RATE * 4))), 0.0, 4.0)
    assert level.integrated <= loudness.SILENCE_LUFS
    assert gain_db(level, -14.0) == 0.0


def test_the_gain_brings_the_song_to_the_target_when_its_peaks_allow():
    assert gain_db(Loudness(integrated=-20.0, true_peak=-8.0), -14.0) == 6.0
    assert gain_db(Loudness(integrated=-9.0, true_peak=-0.1), -14.0) == -5.0


def test_a_quiet_peaky_song_is_limited_by_at_most_6_db_and_left_quieter():
    # -30 LUFS with peaks at -1 dBTP: 16 dB would be needed; the peaks allow -0.5, plus 6 of limiting.
    assert gain_db(Loudness(integrated=-30.0, true_peak=-1.0), -14.0) == 5.5


def test_an_unreadable_summary_is_a_clear_error():
    with pytest.raises(RenderFailed, match="loudness"):
        loudness.parse_summary("no summary here")


def test_the_plan_gets_the_gain_of_its_own_window(tmp_path):
    from tests.media_pipeline.test_graph import SONG, mixed_plan

    path = tone(tmp_path / "song.wav", 0.1, seconds=12.0)
    plan = dataclasses.replace(
        mixed_plan(), music=dataclasses.replace(SONG, path=str(path)), music_start=2.0, music_end=12.0
    )
    measured = loudness.with_music_gain(plan, -14.0)
    expected = gain_db(loudness.measure(str(path), 2.0, plan.duration), -14.0)
    assert measured.music_gain_db == pytest.approx(expected, abs=0.05) and measured.music_gain_db > 0


def test_a_song_that_cannot_be_measured_leaves_the_plan_to_one_pass_levelling(tmp_path):
    from tests.media_pipeline.test_graph import SONG, mixed_plan

    missing = dataclasses.replace(SONG, path=str(tmp_path / "gone.wav"))
    plan = dataclasses.replace(mixed_plan(), music=missing)
    assert loudness.with_music_gain(plan, -14.0).music_gain_db is None
