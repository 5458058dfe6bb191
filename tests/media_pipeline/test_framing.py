"""framing: fill crops and photo close-ups go to what stands out; where nothing does, they stay put."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from media_pipeline import ffmpeg, framing, look
from media_pipeline.people import FACE, PERSON, Box
from media_pipeline.plan import BLUR, LETTERBOX, Motion
from media_pipeline.render import render
from tests.media_factory import figure_box, make_song, make_subject, make_walking_figure
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
    framed = replace(plan, segments=(replace(plan.segments[0], focus_x=0.8, focus_x_to=0.6),))
    data = plan_to_dict(framed)
    assert (data["segments"][0]["focus_x"], data["segments"][0]["focus_x_to"]) == (0.8, 0.6)
    assert plan_from_dict(data) == framed
    old = plan_to_dict(plan)
    del old["segments"][0]["focus_x"], old["segments"][0]["focus_y"]
    del old["segments"][0]["focus_x_to"], old["segments"][0]["focus_y_to"]
    assert plan_from_dict(old) == plan, "plans saved before framing existed still load, centred"


# ---------------------------------------------------------------- people


def person(x: float, *, y: float = 0.28, w: float = 0.075, h: float = 0.55) -> Box:
    return Box(x, y, w, h, PERSON, 1.0)


def face(x: float, *, y: float = 0.2, w: float = 0.12, h: float = 0.21) -> Box:
    return Box(x, y, w, h, FACE, 5.0)


def samples_with(found: list[tuple[float, tuple[Box, ...]]]) -> tuple[look.Sample, ...]:
    even = np.full((36, 64), 1 / (36 * 64))
    return tuple(look.Sample(t, even, 0.0, None, boxes) for t, boxes in found)


def window(centre: float, share: float) -> tuple[float, float]:
    return centre - share / 2, centre + share / 2


def centre_at(start: float, end: float | None, t: float, t0: float, t1: float) -> float:
    return start if end is None else start + (end - start) * (t - t0) / (t1 - t0)


SHARE = (9 / 16) / (16 / 9)  # a 16:9 clip in a 9:16 frame keeps this share of its width


def test_a_crop_follows_a_figure_walking_across_the_frame_and_holds_it_whole():
    found = [(t / 2, (person(0.1 + 0.7 * t / 8),)) for t in range(9)]  # 0 .. 4 s, left to right
    start, end = framing.hold_people(found, "x", SHARE, 0.0, 4.0)
    assert end is not None and end > start, "the crop moves the way the figure walks"
    for t, (box,) in found:
        lo, hi = window(centre_at(start, end, t, 0.0, 4.0), SHARE)
        assert lo <= box.x and box.right <= hi, f"the figure is whole at {t} s"


def test_a_crop_moves_evenly_between_samples_however_uneven_the_detections():
    # Detections jitter by a few hundredths: a line through them, not a crop that shakes with them.
    jitter = [0.0, 0.02, -0.015, 0.01, -0.02, 0.015, 0.0]
    found = [(t / 2, (person(0.15 + 0.08 * t + jitter[t]),)) for t in range(7)]
    start, end = framing.hold_people(found, "x", SHARE, 0.5, 2.5)
    assert end is not None
    assert (end - start) / 2.0 == pytest.approx(0.16, abs=0.03), "the pace of the figure, 0.16 a second"


def test_someone_who_stays_in_one_window_is_held_by_a_still_crop():
    found = [(t / 2, (person(0.62 + 0.01 * (t % 2)),)) for t in range(5)]
    centre, end = framing.hold_people(found, "x", SHARE, 0.0, 2.0)
    assert end is None
    lo, hi = window(centre, SHARE)
    assert lo <= 0.62 and 0.71 + 0.075 <= hi


def test_a_face_is_kept_with_its_head_and_a_crop_never_cuts_it():
    found = [(0.0, (face(0.78),)), (1.0, (face(0.79),))]
    centre, _ = framing.hold_people(found, "x", SHARE, 0.0, 1.0)
    lo, hi = window(centre, SHARE)
    assert lo <= 0.78 - 0.25 * 0.12 and 0.79 + 0.12 * 1.25 <= hi + 1e-9


def test_two_people_too_far_apart_for_one_window_the_larger_is_held_whole():
    small, large = person(0.05, w=0.06, h=0.4), person(0.8, w=0.1, h=0.6)
    found = [(0.0, (small, large)), (1.0, (small, large))]
    centre, _ = framing.hold_people(found, "x", SHARE, 0.0, 1.0)
    lo, hi = window(centre, SHARE)
    assert lo <= large.x and large.right <= hi


def test_two_people_close_together_are_both_held():
    left, right = person(0.4), person(0.55)
    centre, _ = framing.hold_people([(0.0, (left, right)), (1.0, (left, right))], "x", SHARE, 0.0, 1.0)
    lo, hi = window(centre, SHARE)
    assert lo <= left.x and right.right <= hi


def test_a_portrait_clip_in_a_landscape_frame_keeps_the_face_of_a_standing_person():
    body = Box(0.3, 0.1, 0.4, 0.85, PERSON, 1.0)
    head = Box(0.42, 0.14, 0.16, 0.09, FACE, 5.0)
    share = (9 / 16) / (16 / 9)
    centre, _ = framing.hold_people([(0.0, (body, head)), (1.0, (body, head))], "y", share, 0.0, 1.0)
    lo, hi = window(centre, share)
    assert lo <= head.y - 0.45 * head.h + 1e-9 and head.bottom <= hi


def test_nobody_found_leaves_the_crop_to_what_stands_out():
    assert framing.hold_people([(0.0, ()), (1.0, ())], "x", SHARE, 0.0, 1.0) is None


def test_a_plan_holds_the_people_of_its_footage_and_a_lone_detection_is_ignored():
    clip = clip_info("/media/walk.mp4", 320, 180, 6.0)
    plan = build_plan([clip], SONG, [Shot(0, 2.0, source_in=0.0), Shot(0, 2.0, source_in=4.0)])
    found = [(t / 2, (person(0.1 + 0.1 * t),) if t <= 3 else ()) for t in range(13)]
    found[11] = (5.5, (face(0.05),))  # seen once, near the second shot: texture, not a face
    framed = framing.with_focus(plan, [look.Look(samples_with(found))])
    first, second = framed.segments
    assert first.focus_x_to is not None and first.focus_x_to > first.focus_x
    assert (second.focus_x, second.focus_x_to) == (0.5, None), "nobody in the second shot: centred"


@needs_ffmpeg
def test_a_rendered_crop_follows_a_walking_figure_and_shows_all_of_it(tmp_path):
    clip = make_walking_figure(tmp_path / "walk.mp4", seconds=4.0)
    song = make_song(tmp_path / "song.m4a", seconds=5)
    plan = build_plan([clip_info(str(clip), 320, 180, 4.0)], song_info(str(song), 5.0), [Shot(0, 3.0, source_in=0.5)])
    found = [(t / 2, (Box(*figure_box(t / 2), PERSON, 1.0),)) for t in range(9)]
    framed = framing.with_focus(plan, [look.Look(samples_with(found))])
    assert framed.segments[0].focus_x_to is not None
    out = render(framed, str(tmp_path / "out.mp4"), style=make_style())
    frames = gray_frames(out.path, tmp_path)
    for k in range(0, len(frames), 10):
        bright = np.flatnonzero((frames[k] > 200).sum(axis=0) > 40)  # columns with the figure's body
        assert len(bright) >= 0.8 * 24 * 180 / 101, f"frame {k} shows the figure's whole width"
        assert bright.min() > 2 and bright.max() < 177, f"frame {k} does not cut the figure at an edge"


@pytest.mark.parametrize("mode", [BLUR, LETTERBOX])
def test_a_photos_close_up_goes_to_the_face_in_it_and_keeps_it_whole(mode):
    photo = photo_info("/media/portrait.jpg", 4000, 3000)
    motion = Motion(1.0, 1.25, 0.5, 0.5, 0.5, 0.5)
    plan = build_plan([photo], SONG, [Shot(0, 2.0, reframe=mode, motion=motion)])
    head = face(0.08, y=0.1, w=0.1, h=0.13)
    framed = framing.with_focus(plan, [look.Look(samples_with([(0.0, (head,))]))]).segments[0]
    close = framed.motion
    (x_lo, x_hi), (y_lo, y_hi) = framing._composition(mode, photo, plan, 0.5, 0.5)
    for centre, lo, hi, a, b in ((close.x_to, x_lo, x_hi, head.x, head.right), (close.y_to, y_lo, y_hi, head.y, head.bottom)):
        half = (hi - lo) / 1.25 / 2
        middle = lo + centre * (hi - lo)
        assert middle - half <= a and b <= middle + half, "the face is inside the close-up"
    assert (close.x_from, close.y_from) == (0.5, 0.5)


def test_someone_walking_out_of_the_frame_is_followed_though_no_longer_detected():
    clip = clip_info("/media/walk.mp4", 320, 180, 6.0)
    plan = build_plan([clip], SONG, [Shot(0, 1.0, source_in=5.0)])
    # Found at 2, 3 and 4 s walking right; at 5 s, half out of the frame, no longer found.
    found = [(t, (person(0.29 + 0.125 * (t - 2)),) if t <= 4 else ()) for t in range(7)]
    seg = framing.with_focus(plan, [look.Look(samples_with([(float(t), b) for t, b in found]))]).segments[0]
    assert seg.focus_x >= 0.29 + 0.125 * 3 - 0.05, "the crop is where the walker got to, not where last seen"
