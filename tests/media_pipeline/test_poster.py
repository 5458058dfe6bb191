"""poster.py: which moment of an edit makes its poster, and the small JPEG made from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from media_pipeline import ffmpeg
from media_pipeline.errors import RenderFailed
from media_pipeline.plan import CUT
from media_pipeline.poster import POSTER_WIDTH, make_poster, poster_time
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, photo_info, song_info

CLIP = clip_info("/media/a.mp4", 1920, 1080, 20.0)
PHOTO = photo_info("/media/p.jpg", 4000, 3000)
SONG = song_info("/media/song.wav", 180.0)


def test_the_poster_is_taken_from_the_middle_of_the_shortest_clip_shot():
    plan = build_plan([CLIP, PHOTO], SONG, [Shot(0, 2.0), Shot(0, 1.0, source_in=5), Shot(1, 0.5), Shot(0, 2.0)])
    assert poster_time(plan) == pytest.approx(2.5, abs=1 / 30)


def test_the_poster_stays_clear_of_a_shots_incoming_transition():
    plan = build_plan([CLIP], SONG, [Shot(0, 2.0), Shot(0, 1.0, "fadeblack", 0.6, source_in=5), Shot(0, 2.0)])
    seg = plan.segments[1]
    at = poster_time(plan)
    assert (seg.first_frame + seg.overlap) / 30 < at < seg.end_frame / 30


def test_a_score_the_plan_carries_for_each_segment_picks_the_shot():
    plan = build_plan([CLIP], SONG, [Shot(0, 2.0), Shot(0, 1.0, source_in=5), Shot(0, 2.0, source_in=9)])
    plan.extra["segment_energy"] = [0.1, 0.2, 0.9]
    assert poster_time(plan) == pytest.approx(4.0, abs=1 / 30)


def test_an_edit_of_photos_only_still_gets_a_poster_time_inside_it():
    plan = build_plan([PHOTO], SONG, [Shot(0, 1.0), Shot(0, 1.0, CUT)])
    assert 0 < poster_time(plan) < plan.duration


@pytest.fixture(scope="module")
def edit(tmp_path_factory) -> Path:
    """A 4 s vertical 'edit': two seconds of dark grey, then two seconds of red."""
    path = tmp_path_factory.mktemp("poster") / "edit.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "color=c=0x202020:s=720x1280:r=30:d=2",
         "-f", "lavfi", "-i", "color=c=red:s=720x1280:r=30:d=2",
         "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )
    return path


@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg")
def test_a_poster_is_a_small_jpeg_of_the_frame_at_the_given_time(edit, tmp_path):
    out = make_poster(edit, 3.0, tmp_path / "poster.jpg")
    assert out == tmp_path / "poster.jpg"
    with Image.open(out, formats=["JPEG"]) as image:
        assert image.size == (POSTER_WIDTH, 960)
        r, g, b = image.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert r > 180 and g < 60 and b < 60  # the red half, not the grey one
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left beside it


@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg")
def test_a_time_past_the_end_fails_and_leaves_no_file(edit, tmp_path):
    with pytest.raises(RenderFailed):
        make_poster(edit, 60.0, tmp_path / "poster.jpg")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg")
def test_a_small_video_is_never_upscaled(tmp_path):
    small = tmp_path / "small.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=180x320:r=30:d=1",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(small)],
        check=True, timeout=60,
    )
    with Image.open(make_poster(small, 0.5, tmp_path / "p.jpg")) as image:
        assert image.size == (180, 320)
