"""look: keyframe samples, what stands out in them, and how much happens along a clip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg, look
from tests.media_factory import make_montage, make_panning_clip, make_photo, make_subject, make_waking_clip
from tests.media_pipeline.test_framing import grainy, with_square
from tests.media_pipeline.test_graph import clip_info, photo_info

needs_ffmpeg = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


def test_saliency_finds_a_bright_square_on_a_grainy_ground():
    weights = look.saliency(with_square(grainy(), 52, 15))
    assert weights.sum() == pytest.approx(1.0)
    row, column = np.unravel_index(np.argmax(weights), weights.shape)
    assert 50 <= column <= 59 and 13 <= row <= 22


def test_change_shows_what_moved_within_a_shot():
    ground = grainy()
    moved = look.change(with_square(ground, 10, 15), with_square(ground, 40, 15))
    assert moved is not None
    columns = moved.sum(axis=0)
    assert columns[10:16].sum() + columns[40:46].sum() > 0.6


def test_change_across_a_change_of_shot_is_ignored():
    assert look.change(grainy(), grainy() + 0.5) is None


def test_a_still_shot_has_no_change():
    picture = grainy()
    assert look.change(picture, picture) is None

@needs_ffmpeg
def test_a_clip_is_sampled_at_its_keyframes_in_its_display_shape(tmp_path):
    clip = make_subject(tmp_path / "clip.mp4", seconds=3)  # a keyframe every half second
    samples = look.sample_visual(clip_info(str(clip), 320, 180, 3.0))
    assert [round(s.time, 3) for s in samples] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert all(s.weights.shape == (36, 64) for s in samples)


@needs_ffmpeg
def test_a_stretch_of_a_clip_is_sampled_in_the_clips_own_time(tmp_path):
    clip = make_subject(tmp_path / "clip.mp4", seconds=3)
    samples = look.sample_visual(clip_info(str(clip), 320, 180, 3.0), start=1.0, end=2.2)
    assert [round(s.time, 3) for s in samples] == [1.0, 1.5, 2.0]


@needs_ffmpeg
@pytest.mark.parametrize("start, end", [(0.0, None), (1.0, 2.2)])
def test_a_clip_heavy_to_decode_gives_the_same_samples_one_keyframe_at_a_time(tmp_path, monkeypatch, start, end):
    clip = make_subject(tmp_path / "clip.mp4", seconds=3)
    info = clip_info(str(clip), 320, 180, 3.0)
    together = look.sample_visual(info, start=start, end=end)
    monkeypatch.setattr(look, "HEAVY_DECODE", 0)  # every clip is heavy now: one ffmpeg per keyframe
    seeks = []
    decode = look._decode
    monkeypatch.setattr(look, "_decode", lambda path, before, *rest, **kw: seeks.append(before) or decode(
        path, before, *rest, **kw))
    apart = look.sample_visual(info, start=start, end=end)
    assert [s.time for s in apart] == pytest.approx([s.time for s in together])
    assert len(seeks) == len(apart) and all(before[0] == "-ss" for before in seeks)
    for one, other in zip(apart, together):
        assert np.abs(one.picture - other.picture).mean() < 0.01


@needs_ffmpeg
def test_a_photo_gives_one_sample(tmp_path):
    photo = make_subject(tmp_path / "photo.png", width=640, height=480)
    (sample,) = look.sample_visual(photo_info(str(photo), 640, 480))
    assert sample.weights.shape == (48, 64) and sample.activity == 0.0


@needs_ffmpeg
def test_liveliness_rises_where_something_starts_to_move(tmp_path):
    clip = make_waking_clip(tmp_path / "wakes.mp4", still_for=3.0, seconds=6.0)
    lively = look.liveliness(look.look_at(clip_info(str(clip), 320, 180, 6.0)))
    assert lively is not None and len(lively.times) == len(lively.levels) == 11
    still = [level for t, level in zip(lively.times, lively.levels) if t < 3.0]
    moving = [level for t, level in zip(lively.times, lively.levels) if t > 3.3]
    assert min(moving) > 2 * max(still)


def test_the_camera_shift_between_two_samples_is_found():
    rng = np.random.default_rng(11)
    scene = np.kron(rng.random((12, 20)), np.ones((6, 6)))  # blotches 6 px across, 72x120
    before, after = scene[10:46, 20:84], scene[13:49, 15:79]  # the view moved 3 down and 5 left
    assert look.camera_shift(before, after) == (-3, 5)
    _, residue = look.moved(before, after)
    assert residue < 1e-9, "lined up, the two views of the scene are the same"


@needs_ffmpeg
def test_a_panning_camera_is_not_taken_for_action(tmp_path):
    pan = look.liveliness(look.look_at(clip_info(str(make_panning_clip(tmp_path / "pan.mp4")), 320, 180, 4.0)))
    wakes = make_waking_clip(tmp_path / "wakes.mp4", still_for=3.0, seconds=6.0)
    action = look.liveliness(look.look_at(clip_info(str(wakes), 320, 180, 6.0)))
    moving = [level for t, level in zip(action.times, action.levels) if t > 3.3]
    assert max(pan.levels) * 3 < min(moving)
    assert look.look_at(clip_info(str(make_panning_clip(tmp_path / "fast.mp4", speed=150)), 320, 180, 4.0)).cuts == ()


@needs_ffmpeg
def test_a_file_that_cannot_be_read_is_surveyed_as_no_samples(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    photo = make_subject(tmp_path / "photo.png", width=640, height=480)
    found = look.survey([clip_info(str(broken), 320, 180, 3.0), photo_info(str(photo), 640, 480)])
    assert found[0] == look.Look() and len(found[1].samples) == 1


def test_too_few_samples_say_nothing_about_liveliness():
    assert look.liveliness(look.Look((look.Sample(0.0, np.ones((2, 2)) / 4),))) is None


@needs_ffmpeg
def test_a_cut_between_two_keyframes_is_found_to_the_frame(tmp_path):
    clip = make_montage(tmp_path / "montage.mp4", cuts=(1.4, 2.3), seconds=4.0)  # keyframes at 0, 1, 2, 3 s
    found = look.look_at(clip_info(str(clip), 320, 180, 4.0))
    assert [round(t * 30) for t in found.cuts] == [42, 69]
    assert look.liveliness(found).cuts == found.cuts


@needs_ffmpeg
def test_one_continuous_shot_has_no_cuts(tmp_path):
    clip = make_waking_clip(tmp_path / "wakes.mp4", still_for=1.0, seconds=3.0)
    assert look.look_at(clip_info(str(clip), 320, 180, 3.0)).cuts == ()


@needs_ffmpeg
def test_the_samples_come_from_one_decode_five_times_larger_and_match_a_direct_small_decode(tmp_path):
    clip = make_subject(tmp_path / "square.mp4", at=(0.7, 0.4), seconds=2)
    info = clip_info(str(clip), 320, 180, 2.0)
    samples = look.sample_visual(info)
    direct, times, _ = look._decode(str(clip), ["-skip_frame", "nokey"], 64, 36, ["-fps_mode", "passthrough"], 60)
    assert [s.time for s in samples] == times
    for sample, picture in zip(samples, direct):
        assert sample.picture.shape == (36, 64)
        assert np.abs(sample.picture - picture).mean() < 0.01
        assert sample.people == (), "a square on grain is nobody"


@needs_ffmpeg
def test_a_clip_decoded_whole_hands_detection_just_its_samples_five_times_larger(tmp_path, monkeypatch):
    clip = make_montage(tmp_path / "sparse.mp4", cuts=(2.3,), seconds=4.0, keyframe_every=300)  # one keyframe
    seen = []
    monkeypatch.setattr(look, "detect", lambda picture, **_: seen.append(picture) or ())
    samples = look.look_at(clip_info(str(clip), 320, 180, 4.0)).samples
    assert [round(s.time, 2) for s in samples] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    seen = seen[1:]  # the first was the keyframe's, looked at before the clip was found too sparse
    assert len(seen) == len(samples)
    for sample, large in zip(samples, seen):
        assert large.shape == (180, 320)
        assert np.abs(large.reshape(36, 5, 64, 5).mean(axis=(1, 3)) / 255 - sample.picture).mean() < 0.01


@needs_ffmpeg
def test_a_survey_apart_finds_what_a_survey_in_process_finds(tmp_path):
    clip = make_subject(tmp_path / "subject.mp4", seconds=3.0)
    photo = make_photo(tmp_path / "photo.jpg")
    visuals = [clip_info(str(clip), 320, 180, 3.0), photo_info(str(photo), 640, 480)]
    apart, here = look.survey_apart(visuals), look.survey(visuals)
    assert [len(found.samples) for found in apart] == [len(found.samples) for found in here] != [0, 0]
    for found, expected in zip(apart, here):
        assert found.cuts == expected.cuts
        for sample, reference in zip(found.samples, expected.samples):
            assert sample.time == reference.time and sample.people == reference.people
            assert np.array_equal(sample.weights, reference.weights)


@needs_ffmpeg
def test_a_survey_apart_never_loads_opencv_into_the_caller(tmp_path):
    photo = make_photo(tmp_path / "photo.jpg")
    script = (
        "import sys; from media_pipeline import look; from tests.media_pipeline.test_graph import photo_info; "
        f"found = look.survey_apart([photo_info({str(photo)!r}, 640, 480)]); "
        "print(len(found[0].samples), 'cv2' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split() == ["1", "False"], done.stderr


@needs_ffmpeg
def test_a_survey_process_that_fails_gives_empty_looks_and_the_edit_goes_on(tmp_path):
    photo = make_photo(tmp_path / "photo.jpg")
    found = look.survey_apart([photo_info(str(photo), 640, 480)] * 2, timeout=0.01)  # stopped before it answers
    assert found == (look.Look(), look.Look())
