"""The output frame grid: segments in whole frames, checked to tile the video; older plans in seconds put on it."""

from dataclasses import replace

import pytest

from media_pipeline.frame_grid import frame_count, grid_spans
from media_pipeline.plan import CUT, plan_from_dict, plan_to_dict
from media_pipeline.timing import output_frames, segment_timings
from tests.media_pipeline.test_graph import CLIP_A, CLIP_B, SONG, Shot, build_plan


def plan_with_a_fade():
    return build_plan([CLIP_A, CLIP_B], SONG, [Shot(0, 1.0), Shot(1, 1.0, "fade", 0.4), Shot(0, 1.0)])


def test_halves_round_up_whatever_the_float_error():
    assert [frame_count(t, 30) for t in (0.0, 1 / 60, 0.1 + 0.2, 29.99)] == [0, 1, 9, 900]


def test_a_transition_shares_its_frames_with_the_end_of_the_previous_segment():
    timings = segment_timings(plan_with_a_fade())
    assert [(t.first_frame, t.frames, t.overlap) for t in timings] == [(0, 36, 0), (24, 36, 12), (60, 30, 0)]
    assert timings[-1].end_frame == output_frames(plan_with_a_fade()) == 90


def test_the_cut_a_viewer_sees_is_the_middle_of_the_overlap_and_seconds_follow_from_frames():
    fade = plan_with_a_fade().segments[1]
    assert (fade.start, fade.end, fade.transition_duration, fade.cut) == (24 / 30, 60 / 30, 12 / 30, 1.0)


@pytest.mark.parametrize("change, problem", [
    (dict(first_frame=25), "does not start where segment 0 ends"),
    (dict(frames=35), "does not start where segment 1 ends"),
    (dict(overlap=40), "36 frames and 40 of overlap"),
    (dict(fps=25), "on a 25 fps grid"),
])
def test_segments_that_do_not_tile_the_video_are_refused_before_anything_renders(change, problem):
    plan = plan_with_a_fade()
    broken = replace(plan, segments=(plan.segments[0], replace(plan.segments[1], **change), plan.segments[2]))
    with pytest.raises(ValueError, match=problem):
        segment_timings(broken)


def test_a_transition_wanted_before_the_previous_one_ends_starts_when_it_has_ended():
    spans = grid_spans([0, 25, 30], [35, 40, 60], [True, False, False], 60)
    assert spans == [(0, 35, 0), (25, 15, 10), (35, 25, 5)]


def test_a_plan_stored_in_seconds_loads_onto_the_frame_grid():
    plan = plan_with_a_fade()
    stored = plan_to_dict(plan)
    for seg in stored["segments"]:
        for name in ("first_frame", "frames", "overlap", "fps"):
            del seg[name]
    stored["version"] = 1
    assert plan_from_dict(stored) == plan


def test_a_stored_plan_says_each_segments_times_in_seconds_beside_its_frames():
    stored = plan_to_dict(plan_with_a_fade())["segments"][1]
    assert (stored["first_frame"], stored["frames"], stored["overlap"]) == (24, 36, 12)
    assert (stored["start"], stored["end"], stored["transition_duration"]) == (0.8, 2.0, 0.4)
    assert stored["transition"] != CUT
