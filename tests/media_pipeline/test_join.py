"""The join's lanes draw each transition as ffmpeg's xfade would: real renders, compared frame by frame.

xfade is the reference: the same plan is rendered once through the lanes and
once with the lanes switched off for the transition, so that xfade draws it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from media_pipeline import ffmpeg, join
from media_pipeline.graph import plan_runs, segment_timings
from media_pipeline.plan import Motion
from media_pipeline.render import render
from tests.media_factory import _ffmpeg, make_clip, make_photo, make_song
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, make_style, photo_info, song_info

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")

WIDTH, HEIGHT, FPS = 180, 320, 30
SHOT, OVERLAP = 0.8, 0.3  # each transition is 9 frames long
LANE_DRAWN = [*join.WIPES, *join.GREYS, *join.ZOOMS, *join.BLURS]


def lanes_off(patch: pytest.MonkeyPatch) -> None:
    """Every transition the lanes draw but dips drawn by xfade instead, for a reference."""
    patch.setattr(join, "WIPES", {})
    patch.setattr(join, "GREYS", frozenset())
    patch.setattr(join, "CROSSFADES", frozenset())
    patch.setattr(join, "ZOOMS", frozenset())
    patch.setattr(join, "BLURS", frozenset())


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """Every wipe, fade through grey, zoom and blur, in one edit: (frames with lanes, frames by xfade, windows)."""
    folder = tmp_path_factory.mktemp("join")
    first = make_clip(folder / "bars.mp4", width=320, height=180, seconds=3, pattern="smptebars")
    second = make_clip(folder / "pattern.mp4", width=320, height=180, seconds=3)
    song = make_song(folder / "song.m4a", bpm=120, seconds=SHOT * (len(LANE_DRAWN) + 2))
    visuals = [clip_info(str(first), 320, 180, 3.0), clip_info(str(second), 320, 180, 3.0)]
    shots = [Shot(0, SHOT)] + [
        Shot(k % 2, SHOT, name, OVERLAP, source_in=0.1 * (k % 10)) for k, name in enumerate(LANE_DRAWN, 1)
    ]
    plan = build_plan(visuals, song_info(str(song), SHOT * (len(LANE_DRAWN) + 2)), shots)
    lanes = render(plan, str(folder / "lanes.mp4"), style=make_style())
    with pytest.MonkeyPatch.context() as patch:
        lanes_off(patch)
        reference = render(plan, str(folder / "xfade.mp4"), style=make_style())
    windows = {
        name: (round(seg.start * FPS), round(seg.start * FPS) + round(OVERLAP * FPS))
        for name, seg in zip(LANE_DRAWN, plan.segments[1:])
    }
    return yuv_frames(lanes.path, folder), yuv_frames(reference.path, folder), windows


def yuv_frames(path: str, folder) -> np.ndarray:
    """Every frame as 4:4:4 planes: (frames, 3, height, width)."""
    raw = folder / "frames.yuv"
    ffmpeg.run([ffmpeg.FFMPEG, "-y", "-loglevel", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "yuv444p",
                str(raw)], timeout=60)
    return np.fromfile(raw, dtype=np.uint8).reshape(-1, 3, HEIGHT, WIDTH).astype(float)


@pytest.mark.parametrize("name", [name for name in LANE_DRAWN if name not in join.BLURS])
def test_each_lane_drawn_transition_looks_like_xfades_frame_by_frame(renders, name):
    lanes, reference, windows = renders
    start, end = windows[name]
    for frame in range(start, end):
        difference = np.abs(lanes[frame] - reference[frame]).mean()
        # How far apart the two shots are here: what a wrong mask would cost. A zoomin
        # differed by at most 0.8 (contrast about 80); without the zoom by up to 49, with
        # the zoom a frame early or late by 7.7 on the window's first frame and 23 on the next.
        contrast = np.abs(reference[start - 1] - reference[end]).mean()
        assert difference < max(3.0, 0.08 * contrast), f"{name}: frame {frame - start} differs by {difference:.1f}"


def test_an_hblur_is_xfades_sideways_blur_centred_frame_by_frame(renders):
    # xfade averages each pixel with the size - 1 to its right, the lanes blur by a centred
    # Gaussian of the same spread: xfade's frame is the lanes' moved left by half a box (at
    # most a quarter of the width, mid-window), so the two are compared so aligned, luma and
    # chroma apart. They differed by at most 3.6 (a box is not a Gaussian), less where the
    # box is smaller; by up to 18 without the blur, 10.6 with half of it, 7.3 and 6.6 with
    # the blur a frame late or early, 6.4 with chroma blurred as far as luma, each failing
    # the tolerance on several frames.
    lanes, reference, windows = renders
    start, end = windows["hblur"]
    frames = end - start
    for j in range(frames):
        progress = 1 - j / frames
        size = int(1 + WIDTH // 2 * 2 * min(progress, 1 - progress))  # xfade's box
        shift, kept = (size - 1) // 2, WIDTH - size  # the columns whose boxes are whole in both
        lane, xfade = lanes[start + j][:, :, shift : shift + kept], reference[start + j][:, :, :kept]
        for planes, what in ((slice(0, 1), "luma"), (slice(1, 3), "chroma")):
            difference = np.abs(lane[planes] - xfade[planes]).mean()
            assert difference < 1.0 + size / 20, f"hblur: frame {j}'s {what} differs by {difference:.1f}"


def test_the_frames_around_the_transitions_are_untouched(renders):
    lanes, reference, windows = renders
    outside = sorted(set(range(len(reference))) - {f for a, b in windows.values() for f in range(a, b)})
    assert np.abs(lanes[outside] - reference[outside]).mean() < 1.0
    # Frame by frame too: one stray frame (a wipe's mask left on past its window shows the
    # over lane's black filler) is a flash the viewer sees, yet vanishes in an average.
    worst = max(outside, key=lambda f: np.abs(lanes[f] - reference[f]).mean())
    assert np.abs(lanes[worst] - reference[worst]).mean() < 3.0, f"frame {worst} differs"


def test_a_wipe_followed_by_another_leaves_no_frame_of_the_filler_behind(tmp_path):
    # maskedmerge reads the mask lane ahead to the next wipe's first mask, which switched
    # it on for the frame after a wipe: without a blank mask there, that frame showed the
    # over lane's black filler instead of the shot (seen with a photo coming in).
    clip = make_clip(tmp_path / "pattern.mp4", width=320, height=180, seconds=3)
    photo = make_photo(tmp_path / "photo.jpg", width=640, height=480)
    song = make_song(tmp_path / "song.m4a", bpm=120, seconds=4)
    visuals = [clip_info(str(clip), 320, 180, 3.0), photo_info(str(photo), 640, 480)]
    plan = build_plan(visuals, song_info(str(song), 3.0), [
        Shot(0, 1.0), Shot(1, 1.0, "circleopen", 0.4, motion=Motion(1.0, 1.2)),
        Shot(0, 1.0, "radial", 0.4, source_in=1.5),
    ])
    frames = yuv_frames(render(plan, str(tmp_path / "wipes.mp4"), style=make_style()).path, tmp_path)[:, 0]
    after = round(plan.segments[1].start * FPS) + round(0.4 * FPS)  # the first frame past the circle
    assert frames[after].mean() > 60, "the frame after the wipe is black"
    assert np.abs(frames[after] - frames[after + 1]).mean() < 10


def test_transitions_into_a_later_shot_of_the_same_clip_are_drawn_frame_by_frame(tmp_path):
    # Shots further on in one clip share its input: the incoming head is decoded only after the
    # outgoing tail, so the main lane runs a whole window ahead of the over lane and its frames
    # queue at the filter drawing the two. A blend whose opacity sendcmd set as each main-lane
    # frame passed drew every frame of the window at its last opacity: the crossfade differed by
    # up to 42 (contrast 54), the zoomin's by up to 62; drawn through masks, by 0.6 at most. A
    # dip's over lane is a colour, never waited for: it matched either way, and is kept as a check.
    clip = tmp_path / "hues.mp4"  # colour bars turning through the hues: every shot looks different
    _ffmpeg("-f", "lavfi", "-i", "smptebars=s=320x180:r=30:d=6,hue=H=3*t", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", str(clip))
    song = make_song(tmp_path / "song.m4a", bpm=120, seconds=5)
    info = clip_info(str(clip), 320, 180, 6.0)
    names = ["fade", "fadeblack", "zoomin"]
    shots = [Shot(0, 1.0)] + [Shot(0, 1.0, name, 0.5, source_in=1.3 + 1.55 * k) for k, name in enumerate(names)]
    plan = build_plan([info], song_info(str(song), 4.0), shots)
    assert len(plan_runs(plan)) == 1  # one input feeds both lanes
    lanes = yuv_frames(render(plan, str(tmp_path / "lanes.mp4"), style=make_style()).path, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        lanes_off(patch)
        xfades = yuv_frames(render(plan, str(tmp_path / "xfade.mp4"), style=make_style()).path, tmp_path)
    # The dip has no xfade to match: the reference is the same edit with each shot an input of its
    # own (the same file as four visuals), where the lanes keep in step.
    apart = build_plan([info] * 4, song_info(str(song), 4.0), [replace(shot, visual=k) for k, shot in enumerate(shots)])
    assert len(plan_runs(apart)) == 4
    inputs = yuv_frames(render(apart, str(tmp_path / "apart.mp4"), style=make_style()).path, tmp_path)
    for name, timing in zip(names, segment_timings(plan)[1:]):
        start, end = timing.first_frame, timing.first_frame + timing.overlap
        reference = inputs if name in join.DIPS else xfades
        contrast = np.abs(reference[start - 1] - reference[end]).mean()
        assert contrast > 40
        for frame in range(start, end):
            difference = np.abs(lanes[frame] - reference[frame]).mean()
            assert difference < max(3.0, 0.08 * contrast), f"{name}: frame {frame - start} differs by {difference:.1f}"
