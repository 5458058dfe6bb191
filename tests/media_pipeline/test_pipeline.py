"""pipeline.plan_job: file paths, a style, a length and a shape in; a finished plan out."""

from pathlib import Path

import pytest

from media_pipeline import ffmpeg
from media_pipeline.errors import PlanError, UnsupportedMedia
from media_pipeline.pipeline import LISTENING, LOOKING, PLANNING, READING, plan_job
from media_pipeline.timing import output_frames, segment_timings
from tests.media_factory import make_photo, make_song, make_subject

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pipeline")
    return {
        "subject": make_subject(folder / "right.mp4", at=(0.85, 0.5), seconds=6),
        "photo": make_photo(folder / "photo.jpg"),
        "song": make_song(folder / "song.wav", bpm=120, seconds=8),
    }


def test_one_call_plans_a_beat_synced_edit_framed_on_its_subject_with_the_music_levelled(media):
    plan = plan_job([str(media["subject"]), str(media["photo"])], str(media["song"]), "ENERGETIC_DANCE",
                    duration=5, aspect="9:16", size=(180, 320))
    assert (plan.style, plan.width, plan.height, plan.aspect_ratio) == ("ENERGETIC_DANCE", 180, 320, "9:16")
    assert plan.cut_basis == "beats" and plan.cuts
    for cut in plan.cuts:
        assert min(abs(cut - beat) for beat in plan.beats) <= 1 / plan.fps + 1e-6
    clip_shots = [s for s in plan.segments if s.visual == 0]
    assert clip_shots and all(0.7 < s.focus_x <= 0.85 for s in clip_shots), "framed on the subject, not centred"
    assert plan.music_gain_db is not None
    assert segment_timings(plan)[-1].end_frame == output_frames(plan) == 150


def test_the_steps_are_reported_in_order_and_only_forwards(media):
    seen: list[tuple[float, str]] = []
    plan_job([str(media["photo"])], str(media["song"]), "CLEAN_VLOG", duration=5, size=(180, 320),
             on_progress=lambda percent, step: seen.append((percent, step)))
    assert seen == [READING, LOOKING, LISTENING, PLANNING]


def test_with_a_cache_folder_the_song_is_analysed_once(media, tmp_path):
    cache = tmp_path / "beats"
    first = plan_job([str(media["photo"])], str(media["song"]), "CLEAN_VLOG", duration=5, size=(180, 320),
                     cache_dir=str(cache))
    cached = sorted(cache.glob("*.json"))
    again = plan_job([str(media["photo"])], str(media["song"]), "CLEAN_VLOG", duration=5, size=(180, 320),
                     cache_dir=str(cache))
    assert len(cached) == 1 and sorted(cache.glob("*.json")) == cached
    assert again == first


def test_with_a_cache_folder_the_clips_are_looked_at_once_whatever_their_file_is_called(media, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    first = plan_job([str(media["subject"])], str(media["song"]), "CLEAN_VLOG", duration=5, size=(180, 320),
                     cache_dir=cache)
    # A remix on another host reads the same bytes from a scratch copy under another name.
    copy = tmp_path / "scratch" / "visual-1.mp4"
    copy.parent.mkdir()
    copy.write_bytes(media["subject"].read_bytes())

    def no_second_look(*args, **kwargs):
        raise AssertionError("looked at again")

    monkeypatch.setattr("media_pipeline.pipeline.survey", no_second_look)
    again = plan_job([str(copy)], str(media["song"]), "CLEAN_VLOG", duration=5, size=(180, 320), cache_dir=cache)
    assert again.segments and all(0.7 < s.focus_x <= 0.85 for s in again.segments), "framed by the kept look"
    assert first.segments and all(0.7 < s.focus_x <= 0.85 for s in first.segments)


def test_a_seed_gives_another_edit_of_the_same_files_and_the_same_seed_the_same_one(media, tmp_path):
    files = [str(media["subject"]), str(media["photo"])]

    def planned(seed):
        return plan_job(files, str(media["song"]), "ENERGETIC_DANCE", duration=5, size=(180, 320),
                        cache_dir=str(tmp_path / "cache"), seed=seed)

    first = planned(0)
    assert planned(0) == first
    others = [planned(seed) for seed in (1, 2, 3)]
    assert planned(2) == others[1]
    assert any(other.segments != first.segments for other in others)


def test_a_file_that_is_not_a_picture_is_refused_in_words(media):
    with pytest.raises(UnsupportedMedia):
        plan_job([str(media["song"])], str(media["song"]), "CLEAN_VLOG", duration=5)


def test_a_request_the_planner_cannot_make_is_refused_in_words(media):
    with pytest.raises(PlanError, match="5 to 60 seconds"):
        plan_job([str(media["photo"])], str(media["song"]), "CLEAN_VLOG", duration=90)


def test_an_unknown_style_is_refused_before_any_file_is_analysed(media, tmp_path):
    with pytest.raises(KeyError, match="choose one of"):
        plan_job([str(media["photo"])], str(media["song"]), "POLKA", cache_dir=str(tmp_path / "beats"))
    assert not (tmp_path / "beats").exists()
