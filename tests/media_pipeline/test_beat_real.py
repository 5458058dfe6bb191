"""Beat tracking on the labelled real music beside the project (../shared/media/music/beats), scored with mir_eval.

Skipped where the folder is absent (a fresh clone has none). The floors are issue 12's;
benchmarks/beat_eval.py prints the same scores as a table.
"""

from __future__ import annotations

import statistics

import pytest

from benchmarks import beat_eval

pytestmark = pytest.mark.skipif(
    not (beat_eval.DEFAULT_FOLDER / "labels.json").is_file(), reason=f"no labelled music at {beat_eval.DEFAULT_FOLDER}"
)


@pytest.fixture(scope="module")
def scores() -> list[beat_eval.TrackScore]:
    return beat_eval.evaluate(beat_eval.DEFAULT_FOLDER)


def _kind(scores, kind):
    return [s for s in scores if s.kind == kind]


def test_every_piece_with_a_pulse_gets_beats_and_every_piece_without_one_is_beatless(scores):
    assert [s.name for s in scores if not s.decision_ok] == []
    assert _kind(scores, beat_eval.NONE) and _kind(scores, beat_eval.STEADY)


def test_beats_of_steady_pieces_with_exact_references_score_a_median_f_of_at_least_0_90(scores):
    exact = [s.f_measure for s in _kind(scores, beat_eval.STEADY) if s.exact]
    assert statistics.median(exact) >= beat_eval.MIN_F_EXACT


def test_beats_of_all_steady_pieces_score_a_median_f_of_at_least_0_80(scores):
    assert statistics.median(s.f_measure for s in _kind(scores, beat_eval.STEADY)) >= beat_eval.MIN_F_STEADY


def test_music_whose_tempo_drifts_is_followed_with_f_of_at_least_0_80(scores):
    drifting = _kind(scores, beat_eval.DRIFTING)
    assert drifting
    assert {s.name: round(s.f_measure, 2) for s in drifting if s.f_measure < beat_eval.MIN_F_DRIFTING} == {}


def test_the_tempo_of_every_steady_piece_is_within_4_percent_or_at_its_double_or_half(scores):
    assert [s.name for s in _kind(scores, beat_eval.STEADY) if not s.tempo_ok] == []


def test_three_four_music_gets_bars_of_three_and_four_four_bars_of_four(scores):
    bars = [s for s in scores if s.label_meter in (3, 4)]
    assert {3, 4} <= {s.label_meter for s in bars}
    assert {s.name: s.meter for s in bars if s.meter != s.label_meter} == {}
