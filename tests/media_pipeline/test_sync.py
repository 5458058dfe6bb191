"""sync: every planned cut found in the rendered picture, measured against its plan and its beat.

Real renders of synthetic media (checked with ffprobe), and a few hand-made frame
stacks for what footage can do around a cut (pan, cut on its own).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg, sync
from media_pipeline import render as render_module
from media_pipeline.errors import RenderFailed
from media_pipeline.graph import build_command
from media_pipeline.plan import CUT, Motion
from media_pipeline.render import render
from media_pipeline.style import STYLE_NAMES
from tests.media_factory import make_clip, make_photo, make_song, make_waking_clip
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, make_style, photo_info, song_info

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")

FPS = 30
FRAME = 1 / FPS
WIDTH, HEIGHT = 320, 568


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("sync-media")
    pattern = make_clip(folder / "pattern.mp4", seconds=6)  # testsrc2: moving parts
    bars = make_clip(folder / "bars.mp4", seconds=6, pattern="smptebars")
    waking = make_waking_clip(folder / "waking.mp4", still_for=2, seconds=6)  # grainy, a square crossing
    photo = make_photo(folder / "photo.jpg", width=640, height=480)
    song = make_song(folder / "song.m4a", bpm=120, seconds=10)
    return {
        "pattern": clip_info(str(pattern), 320, 180, 6.0),
        "bars": clip_info(str(bars), 320, 180, 6.0),
        "waking": clip_info(str(waking), 320, 180, 6.0),
        "photo": photo_info(str(photo), 640, 480),
        "song": song_info(str(song), 10.0),
        "files": {"pattern": str(pattern), "bars": str(bars), "waking": str(waking), "photo": str(photo),
                  "song": str(song)},
    }


def visuals(media: dict) -> list:
    return [media["pattern"], media["bars"], media["waking"], media["photo"]]


def probe_video(path: str) -> dict:
    return next(s for s in ffmpeg.ffprobe_json(path)["streams"] if s["codec_type"] == "video")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- real renders


def test_every_hard_cut_is_found_on_its_frame_and_on_its_beat(media, tmp_path):
    plan = build_plan(visuals(media), media["song"], [
        Shot(0, 1.0), Shot(1, 1.0), Shot(2, 1.0, source_in=2.5), Shot(3, 1.0, motion=Motion(1.0, 1.15)),
        Shot(0, 1.0, source_in=3.0),
    ], width=WIDTH, height=HEIGHT)
    result = render(plan, str(tmp_path / "cuts.mp4"), style=make_style())
    video = probe_video(result.path)
    assert (video["width"], video["height"], int(video["nb_frames"])) == (WIDTH, HEIGHT, 150)
    report = result.sync
    assert [c.planned for c in report.cuts] == [1.0, 2.0, 3.0, 4.0]
    assert all(c.measured is not None and abs(c.off_plan) <= FRAME / 2 for c in report.cuts), report.cuts
    assert all(c.beat == c.planned and abs(c.off_beat) <= FRAME / 2 for c in report.cuts)
    assert (report.seen, report.on_beat, report.summary) == (4, 4, "4 of 4 cuts on the beat")
    assert not report.misplaced
    # The render measures the frames it hands the encoder; the MP4 itself says the same.
    from_file = sync.measure_file(result.path, plan)
    assert [c.measured for c in from_file.cuts] == [c.measured for c in report.cuts]


def test_crossfades_dips_and_slides_are_found_at_their_planned_middle(media, tmp_path):
    plan = build_plan(visuals(media), media["song"], [
        Shot(0, 1.2),
        Shot(1, 1.2 + FRAME / 2, "fade", 0.4, source_in=0.5),  # 12 frames: half-way on frame 36
        Shot(2, 1.2 - FRAME / 2, "dissolve", 0.3, source_in=2.5),  # 9 frames from 68: half-way between 72 and 73
        Shot(0, 1.2, "fadeblack", 0.4, source_in=2.0),
        Shot(3, 1.2, "slideleft", 0.4, motion=Motion(1.0, 1.1)),
        Shot(1, 1.2, "circleopen", 0.3, source_in=3.0),
    ], width=WIDTH, height=HEIGHT)
    result = render(plan, str(tmp_path / "blends.mp4"), style=make_style())
    video = probe_video(result.path)
    assert (video["width"], video["height"], int(video["nb_frames"])) == (WIDTH, HEIGHT, 216)
    cuts = {c.transition: c for c in result.sync.cuts}
    assert set(cuts) == {"fade", "dissolve", "fadeblack", "slideleft", "circleopen"}
    assert all(c.measured is not None for c in cuts.values()), cuts
    # A crossfade's measured moment is its planned middle (where the plan puts its beat).
    for name in ("fade", "dissolve", "fadeblack", "slideleft"):
        assert abs(cuts[name].off_plan) <= FRAME / 2, cuts[name]
    assert abs(cuts["circleopen"].off_plan) <= FRAME
    assert result.sync.summary == "5 of 5 cuts on the beat"
    from_file = sync.measure_file(result.path, plan)
    assert all(abs(a.measured - b.measured) <= FRAME / 4 for a, b in zip(from_file.cuts, result.sync.cuts))


@pytest.mark.parametrize("style_name", STYLE_NAMES)
def test_every_style_renders_with_each_planned_cut_found_within_a_frame(media, tmp_path, style_name):
    # The planner's own plan, in the real style: its transitions, grade, grain and photo moves.
    from media_pipeline.facts import BeatGrid
    from media_pipeline.planner import plan_edit
    from media_pipeline.probe import probe_audio, probe_visual
    from media_pipeline.style import get_style

    files = media["files"]
    infos = [probe_visual(files[k]) for k in ("pattern", "bars", "photo", "waking")]
    beats = tuple(i * 0.5 for i in range(20))
    grid = BeatGrid(10.0, 120.0, beats, beats[::4], 10.0, (0.5,) * 100)
    plan = plan_edit(infos, probe_audio(files["song"]), grid, get_style(style_name), duration=6.0, size=(180, 320))
    result = render(plan, str(tmp_path / "styled.mp4"))
    assert int(probe_video(result.path)["nb_frames"]) == 180
    report = result.sync
    assert len(report.cuts) == len(plan.segments) - 1 >= 3
    assert report.seen == len(report.cuts), report.cuts
    assert all(abs(c.off_plan) <= FRAME + 1e-6 for c in report.cuts), report.cuts
    assert report.on_beat == len(report.cuts)


def test_a_render_whose_cuts_are_off_their_plan_fails_and_leaves_nothing(media, tmp_path, monkeypatch):
    plan = build_plan(visuals(media), media["song"], [
        Shot(0, 1.0), Shot(1, 1.0), Shot(2, 1.0, "fade", 0.3, source_in=2.5), Shot(3, 1.0),
    ], width=WIDTH, height=HEIGHT)
    # The file is rendered from a plan whose every cut comes 3 frames later; it is checked against `plan`.
    moved = [
        replace(s, first_frame=s.first_frame + (3 if i > 0 else 0),
                frames=s.frames + (3 if i == 0 else -3 if i == 3 else 0))
        for i, s in enumerate(plan.segments)
    ]
    late = replace(plan, segments=tuple(replace(s, source_out=s.source_in + s.length) for s in moved))
    monkeypatch.setattr(render_module, "build_command", lambda _, path, **options: build_command(late, path, **options))
    out = tmp_path / "out" / "late.mp4"
    out.parent.mkdir()
    with pytest.raises(RenderFailed, match="of the video's 3 cuts are not where they were planned") as failure:
        render(plan, str(out), style=make_style())
    assert "the cut into shot 2 is 3 frames late (at 1.10 s, planned for 1.00 s)" in str(failure.value)
    assert leftovers(out.parent) == []


def test_a_render_with_a_single_shot_has_no_cuts_to_check(media, tmp_path):
    plan = build_plan([media["pattern"]], media["song"], [Shot(0, 1.0)], width=WIDTH, height=HEIGHT)
    result = render(plan, str(tmp_path / "one.mp4"), style=make_style())
    assert int(probe_video(result.path)["nb_frames"]) == 30
    assert result.sync.cuts == () and result.sync.summary == "one shot, no cuts"
    assert leftovers(tmp_path) == ["one.mp4"]


# ---------------------------------------------------------------- what footage does around a cut


def texture(seed: int, width: int = 300, height: int = 140) -> np.ndarray:
    """A blotchy grey picture, larger than a sample so it can pan."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(30, 220, size=(height // 10 + 1, width // 10 + 1))
    return np.kron(small, np.ones((10, 10)))[:height, :width].astype(np.float32)


def stack_plan(cut_at: float, frames: int = 60, transition: str = CUT, overlap: float = 0.0):
    clip = clip_info("/media/a.mp4", 1080, 1920, 10.0)
    return build_plan([clip, clip], song_info("/media/song.wav", 10.0),
                      [Shot(0, cut_at), Shot(1, frames / FPS - cut_at, transition, overlap)], width=1080, height=1920)


def measured(plan, pictures: np.ndarray) -> sync.SyncReport:
    samples = sync.samples_for(plan)
    return sync.measure_sync(plan, samples, pictures[list(samples.frames)])


def panning(picture: np.ndarray, frames: range, speed: int) -> list[np.ndarray]:
    """114 x 64 views of `picture`, moving `speed` pixels a frame to the left."""
    return [picture[10:124, 10 + speed * k: 74 + speed * k] for k in frames]


def test_a_panning_shot_cut_to_another_is_found_on_its_frame():
    plan = stack_plan(1.0)
    pictures = np.stack(panning(texture(1), range(0, 30), 3) + panning(texture(2), range(30, 60), 3))
    cut = measured(plan, pictures).cuts[0]
    assert cut.measured == 1.0 and cut.off_beat == 0.0


def test_a_shot_that_carries_on_across_its_cut_is_not_seen_and_not_counted_against_the_render():
    # The same clip on both sides, continuing: no cut to see, whatever the shot's movement.
    plan = stack_plan(1.0)
    pictures = np.stack(panning(texture(1), range(60), 2))
    report = measured(plan, pictures)
    assert report.cuts[0].measured is None and report.misplaced == ()
    assert report.summary == "0 of 1 cut on the beat (1 could not be told from the shots' own movement)"


def test_a_cut_inside_the_footage_next_to_a_planned_cut_is_not_taken_for_it():
    plan = stack_plan(1.0)
    a, c = texture(1)[:114, :64], texture(3)[:114, :64]
    # The planned cut (frame 30) is to a shot much like the last; the clip cuts on its own 3 frames later, hard.
    pictures = np.stack([a] * 30 + [a * 0.85 + 15] * 3 + [c] * 27)
    assert measured(plan, pictures).cuts[0].measured == 1.0


def test_a_lone_jump_far_from_the_planned_cut_is_where_the_cut_is():
    plan = stack_plan(1.0)
    a, b = texture(1)[:114, :64], texture(2)[:114, :64]
    pictures = np.stack([a] * 33 + [b] * 27)  # the picture changes 3 frames after the plan says
    report = measured(plan, pictures)
    assert report.cuts[0].measured == 1.1 and report.misplaced == report.cuts


def test_a_crossfade_of_odd_length_is_found_between_its_two_middle_frames():
    plan = stack_plan(30.5 / FPS, transition="fade", overlap=9 / FPS)  # planned half-way between frames 30 and 31
    a, b = texture(1)[:114, :64], texture(2)[:114, :64]
    first = round(plan.segments[1].start * FPS)  # 26: frames 26..34 blend (26 is still all a), 35 is all b
    weights = np.clip((np.arange(60) - first) / 9, 0, 1)
    pictures = np.stack([(1 - w) * a + w * b for w in weights])
    cut = measured(plan, pictures).cuts[0]
    assert first == 26 and cut.measured == pytest.approx(30.5 / FPS, abs=0.2 * FRAME)


# ---------------------------------------------------------------- the report


def test_the_samples_are_the_frames_around_each_cut_at_the_shape_of_the_video():
    plan = stack_plan(1.0)
    samples = sync.samples_for(plan)
    assert (samples.width, samples.height) == (64, 114)
    assert samples.frames == tuple(range(26, 35))  # the new shot's first frame, 30, four either side
    assert samples.select() == "between(n,26,34)"
    wide = build_plan([clip_info("/media/a.mp4", 1920, 1080, 10.0)] * 2, song_info("/media/s.wav", 10.0),
                      [Shot(0, 1.0), Shot(1, 1.0, "fade", 0.4)], width=1920, height=1080)
    samples = sync.samples_for(wide)
    assert (samples.width, samples.height) == (114, 64)
    assert samples.frames == tuple(range(20, 41))  # the 12 frames of the fade from 24, four either side


def test_a_beatless_plan_says_what_its_cuts_followed_and_has_no_beats():
    a, b = texture(1)[:114, :64], texture(2)[:114, :64]
    pictures = np.stack([a] * 30 + [b] * 30)
    for basis, words in (("events", "1 cut on the music's own accents"),
                         ("even", "1 cut evenly spaced, as the song has no steady beat")):
        plan = replace(stack_plan(1.0), beatless=True, cut_basis=basis)
        report = measured(plan, pictures)
        assert report.basis == basis and report.summary == words
        assert report.on_beat is None and report.cuts[0].beat is None and report.cuts[0].off_beat is None
        assert report.cuts[0].measured == 1.0
        assert sync.cut_basis({"beatless": True}) == "even" and sync.cut_basis({}) == "beats"


def test_the_report_is_plain_json_ready_data():
    import json

    a, b = texture(1)[:114, :64], texture(2)[:114, :64]
    report = measured(stack_plan(1.0), np.stack([a] * 30 + [b] * 30))
    data = json.loads(json.dumps(report.as_dict()))
    assert data["summary"] == "1 of 1 cut on the beat" and data["basis"] == "beats"
    assert data["cuts"][0] == {
        "segment": 1, "transition": "cut", "planned": 1.0, "measured": 1.0, "tolerance": round(FRAME, 4),
        "off_plan": 0.0, "beat": 1.0, "off_beat": 0.0,
    }


def test_the_samples_are_picked_out_of_every_frame_the_tap_wrote_and_a_short_file_is_refused():
    samples = sync.Samples(frames=(2, 3, 7), width=4, height=2)
    every = np.arange(10, dtype=np.uint8).repeat(8).tobytes()  # frame n is all n
    picked = sync.samples_from_every_frame(every, samples, total=10)
    assert picked.shape == (3, 2, 4) and [int(f[0, 0]) for f in picked] == [2, 3, 7]
    with pytest.raises(ValueError, match="9 of the video's 10 frames"):
        sync.samples_from_every_frame(every[:-8], samples, total=10)


def test_the_renders_tap_shrinks_every_frame_rather_than_selecting_some():
    # An output that passes nothing for seconds makes ffmpeg 5.1 queue the video's own frames meanwhile.
    samples = sync.Samples(frames=(2, 3, 7), width=64, height=114)
    assert "select" not in samples.shrink() and samples.shrink() in samples.filters()
