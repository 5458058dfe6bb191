"""Choosing the stretch of the song to play: the loud part, starting on a bar."""

import pytest

from media_pipeline.facts import BeatGrid
from media_pipeline.music_window import choose_window, mean_energy

RATE = 20.0


def song(duration=120.0, tempo=120.0, loud=(), quiet=0.2, peak=0.9, beat_offset=0.0, bar=4, silent_until=0.0):
    """A synthetic grid: steady beats, a downbeat every `bar` beats, an envelope loud inside `loud` spans."""
    step = 60.0 / tempo if tempo else 0.0
    beats = tuple(beat_offset + i * step for i in range(int((duration - beat_offset) / step))) if tempo else ()
    downbeats = beats[::bar] if bar else ()

    def level(t):
        if t < silent_until:
            return 0.0
        return peak if any(a <= t < b for a, b in loud) else quiet

    envelope = tuple(level(i / RATE) for i in range(int(duration * RATE)))
    return BeatGrid(duration, tempo, beats, downbeats, RATE, envelope)


def test_the_loud_chorus_in_the_middle_is_chosen():
    grid = song(loud=[(50.0, 80.0)])
    start, end = choose_window(grid, 30.0)
    assert (start, end) == (pytest.approx(50.0), pytest.approx(80.0))


def test_the_window_is_exactly_the_requested_length_inside_the_song():
    grid = song(loud=[(100.0, 120.0)])
    start, end = choose_window(grid, 30.0)
    assert end - start == pytest.approx(30.0)
    assert 0 <= start and end <= grid.duration + 1e-9


def test_the_window_starts_on_a_downbeat():
    grid = song(loud=[(41.3, 70.0)], beat_offset=0.23)
    start, _ = choose_window(grid, 30.0)
    assert min(abs(start - d) for d in grid.downbeats) < 1e-9
    assert abs(start - 41.3) < 2.0  # the bar nearest the chorus


def test_without_downbeats_the_window_starts_on_a_beat():
    grid = song(loud=[(33.0, 63.0)], bar=0, beat_offset=0.1)
    start, _ = choose_window(grid, 30.0)
    assert min(abs(start - b) for b in grid.beats) < 1e-9
    assert start == pytest.approx(33.1)


def test_a_song_shorter_than_the_video_is_used_whole():
    grid = song(duration=21.5)
    assert choose_window(grid, 30.0) == (0.0, 21.5)


def test_a_beatless_song_gets_a_window_on_a_half_second_grid():
    grid = song(tempo=0.0, loud=[(60.2, 90.2)])
    assert not grid.has_beat
    start, end = choose_window(grid, 30.0)
    assert start == pytest.approx(60.0)  # the half-second step that holds the most of the loud part
    assert end - start == pytest.approx(30.0)


def test_a_silent_intro_is_skipped_when_the_song_is_otherwise_even():
    grid = song(duration=32.0, silent_until=1.0, quiet=0.5)
    start, _ = choose_window(grid, 30.0)
    assert start >= 1.0


def test_equal_windows_resolve_to_the_earliest_the_same_way_every_time():
    grid = song(quiet=0.4)
    assert choose_window(grid, 30.0) == choose_window(grid, 30.0) == (0.0, 30.0)


def test_mean_energy_counts_missing_envelope_as_silence():
    grid = BeatGrid(10.0, 0.0, (), (), 10.0, (1.0,) * 50)
    assert mean_energy(grid, 0.0, 5.0) == pytest.approx(1.0)
    assert mean_energy(grid, 0.0, 10.0) == pytest.approx(0.5)
    assert mean_energy(BeatGrid(10.0, 0.0, (), (), 0.0, ()), 0.0, 5.0) == 0.0


def without_a_beat(loud=(), sections=(), events=(), duration=120.0):
    """A beatless grid: an envelope loud inside `loud`, section changes, (time, strength) events."""
    values = song(duration=duration, tempo=0.0, loud=loud).envelope
    return BeatGrid(
        duration, 0.0, (), (), RATE, values,
        events=tuple(t for t, _ in events), event_strengths=tuple(v for _, v in events), sections=tuple(sections),
    )


def test_a_beatless_song_starts_on_a_section_change_that_opens_a_stretch_nearly_as_busy():
    grid = without_a_beat(loud=[(60.2, 90.2)], sections=(20.0, 59.1, 95.0), events=((60.7, 1.0),))
    assert choose_window(grid, 30.0) == (pytest.approx(59.1), pytest.approx(89.1))


def test_without_a_section_change_near_the_busy_part_a_strong_event_opens_the_window():
    events = ((30.0, 1.0), (60.4, 0.3), (60.9, 0.8), (75.0, 1.0))
    grid = without_a_beat(loud=[(60.2, 90.2)], sections=(20.0,), events=events)
    start, _ = choose_window(grid, 30.0)
    assert start == pytest.approx(60.9)  # the strong one; the weak one at 60.4 is not a start


def test_a_section_change_far_from_the_busy_part_does_not_move_the_window():
    grid = without_a_beat(loud=[(60.2, 90.2)], sections=(20.0, 40.0), events=((10.0, 1.0),))
    start, _ = choose_window(grid, 30.0)
    assert start == pytest.approx(60.0)  # the half-second grid, as without any events


def test_a_seed_picks_among_the_equally_busy_choruses_the_same_way_every_time():
    grid = song(loud=[(20.0, 50.0), (80.0, 110.0)])
    assert choose_window(grid, 30.0) == choose_window(grid, 30.0, seed=0) == (pytest.approx(20.0), pytest.approx(50.0))
    starts = {round(choose_window(grid, 30.0, seed=seed)[0], 3) for seed in range(1, 21)}
    # Either chorus, give or take a bar (a stretch that holds nearly all of one is nearly as busy).
    assert all(min(abs(start - 20.0), abs(start - 80.0)) <= 3.0 for start in starts)
    assert any(start < 50 for start in starts) and any(start > 50 for start in starts)
    assert all(choose_window(grid, 30.0, seed=s) == choose_window(grid, 30.0, seed=s) for s in range(1, 21))


def test_no_seed_moves_the_window_off_the_only_busy_part():
    grid = song(loud=[(50.0, 80.0)])
    assert all(abs(choose_window(grid, 30.0, seed=seed)[0] - 50.0) <= 3.0 for seed in range(1, 21))
