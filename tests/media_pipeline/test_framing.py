"""framing: fill crops and photo close-ups go to what stands out; where nothing does, they stay put."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from media_pipeline import ffmpeg, framing, look
from media_pipeline.plan import BLUR, LETTERBOX, Motion
from media_pipeline.render import render
from tests.media_factory import make_song, make_subject
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, make_style, photo_info, song_info
from tests.media_pipeline.test_render import gray_frames

needs_ffmpeg = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")

RNG = np.random.default_rng(7)
SONG = song_info("/media/song.wav", 60.0)


def grainy(height: int = 36, width: int = 64) -> np.ndarray:
    return 0.2 + 0.03 * RNG.standard_normal((height, width))


def with_square(picture: np.ndarray, x: int, y: int, side: int = 6) -> np.ndarray:
    picture = picture.copy()
    picture[y : y + side, x : x + side] = 1.0
    return picture


# ---------------------------------------------------------------- the maps


def test_a_window_moves_onto_the_square_and_keeps_it_inside():
    weights = look.saliency(with_square(grainy(), 52, 15))
    centre = framing.best_centre(weights.sum(axis=0), 0.3)
    assert centre is not None
    assert centre - 0.15 <= 55 / 64 <= centre + 0.15, "the square is inside the window"
    assert centre <= 1 - 0.15, "the window stays inside the picture"


def test_where_nothing_stands_out_the_window_stays_centred():
    weights = look.saliency(grainy())
    assert framing.best_centre(weights.sum(axis=0), 0.3) is None


def test_a_subject_in_the_middle_keeps_the_window_centred():
    weights = look.saliency(with_square(grainy(), 29, 15))
    assert framing.best_centre(weights.sum(axis=0), 0.3) is None


# ---------------------------------------------------------------- plans


@needs_ffmpeg
def test_a_fill_crop_moves_onto_the_subject_of_a_clip(tmp_path):
    clip = make_subject(tmp_path / "right.mp4", at=(0.85, 0.5), seconds=3)
    plan = build_plan([clip_info(str(clip), 320, 180, 3.0)], SONG, [Shot(0, 1.0, source_in=0.5), Shot(0, 1.0)])
    framed = framing.with_focus(plan)
    share = (180 / 320) / (320 / 180)  # a 16:9 clip in a 9:16 frame keeps this share of its width
    for seg in framed.segments:
        assert 0.7 < seg.focus_x <= 1 - share / 2 + 1e-6, "on the square, with the window inside the picture"
        assert seg.focus_y == 0.5


@needs_ffmpeg
def test_a_portrait_clip_in_a_landscape_frame_is_cropped_towards_its_subject(tmp_path):
    clip = make_subject(tmp_path / "low.mp4", width=180, height=320, at=(0.5, 0.85), seconds=2)
    plan = build_plan([clip_info(str(clip), 180, 320, 2.0)], SONG, [Shot(0, 1.5)], width=320, height=180)
    seg = framing.with_focus(plan).segments[0]
    assert seg.focus_y > 0.7 and seg.focus_x == 0.5


@needs_ffmpeg
def test_a_phone_clip_stored_on_its_side_is_framed_as_it_plays(tmp_path):
    # Stored landscape with the square on the right, flagged to play turned a quarter
    # (as phones write it): the crop must follow the square where the player shows it.
    from media_pipeline.probe import probe_visual

    stored = make_subject(tmp_path / "stored.mp4", at=(0.85, 0.5), seconds=2)
    phone = tmp_path / "phone.mp4"
    ffmpeg.run([ffmpeg.FFMPEG, "-v", "error", "-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                str(phone)], timeout=60)
    info = probe_visual(str(phone))
    assert (info.width, info.height) == (180, 320)
    shown, _ = ffmpeg.run_binary([ffmpeg.FFMPEG, "-v", "error", "-i", str(phone), "-frames:v", "1",
                                  "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"], timeout=60)
    rows = np.frombuffer(shown, dtype=np.uint8).reshape(320, 180).mean(axis=1)
    square_at = float(np.argmax(rows)) / 320  # about 0.15 or 0.85, whichever way the player turns it
    plan = build_plan([info], SONG, [Shot(0, 1.5)], width=320, height=180)
    seg = framing.with_focus(plan).segments[0]
    assert abs(seg.focus_y - square_at) < 0.1 and seg.focus_x == 0.5


@needs_ffmpeg
def test_a_clip_where_nothing_stands_out_stays_centred(tmp_path):
    clip = make_subject(tmp_path / "plain.mp4", at=(0.5, 0.5), size=0.0, seconds=2)
    plan = build_plan([clip_info(str(clip), 320, 180, 2.0)], SONG, [Shot(0, 1.5)])
    assert framing.with_focus(plan) == plan


@needs_ffmpeg
def test_a_photo_is_cropped_and_zoomed_towards_its_subject(tmp_path):
    photo = make_subject(tmp_path / "left.png", width=640, height=480, at=(0.15, 0.3))
    motion = Motion(1.0, 1.2, 0.5, 0.5, 0.9, 0.9)  # the planner's move: a zoom towards the bottom right
    plan = build_plan([photo_info(str(photo), 640, 480)], SONG, [Shot(0, 1.5, motion=motion)])
    seg = framing.with_focus(plan).segments[0]
    assert seg.focus_x < 0.35
    assert seg.motion.zoom_to == 1.2 and (seg.motion.x_from, seg.motion.y_from) == (0.5, 0.5)
    assert seg.motion.x_to < 0.5 and seg.motion.y_to < 0.5, "the close-up goes up and left, to the square"


@needs_ffmpeg
def test_a_letterboxed_photo_zooms_towards_its_subject_within_the_picture(tmp_path):
    photo = make_subject(tmp_path / "corner.png", width=640, height=480, at=(0.15, 0.3))
    motion = Motion(1.0, 1.3, 0.5, 0.5, 0.9, 0.9)  # the planner's move: towards the bottom right
    plan = build_plan([photo_info(str(photo), 640, 480)], SONG, [Shot(0, 1.5, motion=motion, reframe=LETTERBOX)])
    moved = framing.with_focus(plan).segments[0].motion
    # Not the planner's way: up and left, with the square (x 0.10-0.20, y 0.24-0.36) well inside.
    half = 0.5 / moved.zoom_to
    assert moved.y_to < 0.45 and moved.x_to < 0.5
    assert moved.x_to - half < 0.1 and moved.y_to - half < 0.24
    # The move is in the photo's own terms (the bars are not part of it): the window stays on the photo.
    assert half <= moved.x_to <= 1 - half and half <= moved.y_to <= 1 - half


@needs_ffmpeg
def test_a_close_up_heading_away_from_a_subject_near_the_edge_still_keeps_it_in(tmp_path):
    photo = make_subject(tmp_path / "edge.png", width=640, height=480, at=(0.88, 0.85))
    motion = Motion(1.3, 1.0, 0.1, 0.1, 0.5, 0.5)  # the planner's move: out from the top left
    plan = build_plan([photo_info(str(photo), 640, 480)], SONG, [Shot(0, 1.5, motion=motion, reframe=LETTERBOX)])
    moved = framing.with_focus(plan).segments[0].motion
    half = 0.5 / moved.zoom_from
    # The square spans x 0.83-0.93 and y 0.79-0.91: the close-up holds all of it.
    assert moved.x_from + half > 0.93 and moved.y_from + half > 0.91
    assert (moved.zoom_from, moved.zoom_to, moved.x_to, moved.y_to) == (1.3, 1.0, 0.5, 0.5)


@needs_ffmpeg
def test_a_photo_where_nothing_stands_out_keeps_the_planners_move(tmp_path):
    photo = make_subject(tmp_path / "plain.png", width=640, height=480, size=0.0)
    motion = Motion(1.2, 1.0, 0.9, 0.1, 0.5, 0.5)
    plan = build_plan([photo_info(str(photo), 640, 480)], SONG, [Shot(0, 1.5, motion=motion, reframe=BLUR)])
    assert framing.with_focus(plan).segments[0].motion == motion


def test_shots_shown_whole_are_not_sampled():
    # A blurred fit shows all of the picture: nothing is read, so a missing file cannot matter.
    plan = build_plan([clip_info("/no/such/clip.mp4", 320, 180, 3.0)], SONG, [Shot(0, 1.0, reframe=BLUR)])
    assert framing.with_focus(plan) == plan


@needs_ffmpeg
def test_a_clip_that_cannot_be_read_keeps_its_centred_crop(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    plan = build_plan([clip_info(str(broken), 320, 180, 3.0)], SONG, [Shot(0, 1.0)])
    assert framing.with_focus(plan) == plan


# ---------------------------------------------------------------- rendered


@needs_ffmpeg
def test_the_rendered_fill_crop_shows_the_subject_a_centred_one_loses(tmp_path):
    clip = make_subject(tmp_path / "right.mp4", at=(0.85, 0.5), seconds=2)
    song = make_song(tmp_path / "song.m4a", bpm=120, seconds=4)
    plan = build_plan([clip_info(str(clip), 320, 180, 2.0)], song_info(str(song), 4.0), [Shot(0, 1.0)])
    framed = framing.with_focus(plan)
    brightest = {}
    for name, version in (("centred", plan), ("framed", framed)):
        out = tmp_path / f"{name}.mp4"
        render(version, str(out), style=make_style())
        facts = ffmpeg.ffprobe_json(str(out))
        assert [s["codec_name"] for s in facts["streams"]] == ["h264", "aac"]
        frames = gray_frames(str(out), tmp_path)
        brightest[name] = float(np.percentile(frames[len(frames) // 2], 99))
    assert brightest["framed"] > 200, "the white square is in the framed crop"
    assert brightest["centred"] < 120, "a centred crop misses it"


def test_focus_is_kept_in_the_plan_as_plain_numbers():
    from media_pipeline.plan import plan_from_dict, plan_to_dict

    plan = build_plan([clip_info("/media/a.mp4", 320, 180, 3.0)], SONG, [Shot(0, 1.0)])
    framed = replace(plan, segments=(replace(plan.segments[0], focus_x=0.8),))
    data = plan_to_dict(framed)
    assert data["segments"][0]["focus_x"] == 0.8
    assert plan_from_dict(data) == framed
    old = plan_to_dict(plan)
    del old["segments"][0]["focus_x"], old["segments"][0]["focus_y"]
    assert plan_from_dict(old) == plan, "plans saved before framing existed still load, centred"
