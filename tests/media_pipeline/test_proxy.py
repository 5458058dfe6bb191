"""Proxies: a clip far larger than the output is read from a small copy of just the footage the plan uses."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg, proxy
from media_pipeline.errors import RenderCancelled
from media_pipeline.plan import BLUR, FILL
from media_pipeline.render import partial_path, render
from tests.media_factory import make_clip, make_hdr_clip, make_song, make_subject
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, make_style, song_info

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")

BIG = clip_info("/media/big.mp4", 1280, 720, 20.0)  # 4K's shape, at a size tests can afford
SMALL = clip_info("/media/small.mp4", 320, 180, 20.0)
SONG = song_info("/media/song.wav", 60.0)


def plan_of(info, shots, **options):
    return build_plan([info], SONG, shots, width=180, height=320, **options)


def test_a_clip_far_larger_than_the_frame_gets_a_proxy_of_just_its_crop_window_at_the_frames_size():
    plan = plan_of(BIG, [Shot(0, 1.0, source_in=2.0), Shot(0, 1.0, source_in=3.0)])
    (stretch, box), = proxy.wanted(plan)
    window = 720 * 180 / 320  # a 9:16 window of the 16:9 picture, centred
    assert box.x <= (1280 - window) / 2 and box.x + box.width >= (1280 + window) / 2 and box.width <= window + 4
    assert (box.y, box.height) == (0, 720)
    assert box.out_height == 320 and 180 <= box.out_width <= 182  # covers the frame, rounded to even pixels
    assert stretch.start == pytest.approx(2.0 - 4 / 30) and stretch.end == pytest.approx(4.0 + 4 / 30, abs=0.04)


def test_a_clip_near_the_frames_size_is_read_as_it_is():
    assert proxy.wanted(plan_of(SMALL, [Shot(0, 1.0), Shot(0, 1.0)])) == []


def test_a_fill_whose_crops_move_keeps_every_window_and_a_fit_keeps_the_whole_picture():
    shots = [Shot(0, 1.0, source_in=2.0), Shot(0, 1.0, source_in=3.0)]
    plan = plan_of(BIG, shots)
    moved = replace(plan, segments=(replace(plan.segments[0], focus_x=0.2), replace(plan.segments[1], focus_x=0.8)))
    (_, box), = proxy.wanted(moved)
    window = 1280 * (180 / 320) / (1280 / 720)
    assert box.x <= 0.2 * 1280 - window / 2 + 2 and box.x + box.width >= 0.8 * 1280 + window / 2 - 2
    fitted = plan_of(BIG, [Shot(0, 1.0, reframe=BLUR), Shot(0, 1.0, reframe=BLUR)])
    (_, box), = proxy.wanted(fitted)
    assert (box.x, box.y, box.width, box.height, box.out_width, box.out_height) == (0, 0, 1280, 720, 180, 102)


def test_left_to_itself_only_a_render_with_a_clip_worth_a_proxy_runs_in_low_memory():
    from media_pipeline.render import uses_low_memory

    phone = plan_of(BIG, [Shot(0, 1.0), Shot(0, 1.0)])
    small = plan_of(SMALL, [Shot(0, 1.0), Shot(0, 1.0)])
    assert uses_low_memory(phone) and not uses_low_memory(small)
    assert uses_low_memory(small, True) and not uses_low_memory(phone, False)  # an operator's choice stands


def test_footage_used_far_apart_gets_one_proxy_for_each_stretch():
    plan = plan_of(BIG, [Shot(0, 1.0, source_in=1.0), Shot(0, 1.0, source_in=2.5), Shot(0, 1.0, source_in=12.0)])
    spans = [(round(s.start, 2), round(s.end, 2), s.segments) for s, _ in proxy.wanted(plan)]
    assert [segments for *_, segments in spans] == [(0, 1), (2,)]


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("proxy-media")
    return {
        "subject": make_subject(folder / "right.mp4", width=1280, height=720, at=(0.8, 0.5), seconds=6),
        "phone": make_clip(folder / "phone.mp4", width=1280, height=720, seconds=4, rotate=90, audio=True),
        "hlg": make_hdr_clip(folder / "hlg.mp4", transfer="arib-std-b67", width=1280, height=720, seconds=3),
        "song": make_song(folder / "song.m4a", bpm=120, seconds=8),
    }


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


def test_a_proxy_holds_just_the_used_footage_upright_in_sdr_and_its_segments_point_at_it(media, tmp_path):
    from media_pipeline.probe import probe_visual

    infos = [probe_visual(str(media["phone"])), probe_visual(str(media["hlg"]))]
    assert infos[0].rotation and infos[1].hdr == "hlg"
    plan = build_plan(infos, song_info(str(media["song"]), 8.0),
                      [Shot(0, 1.0, source_in=2.0), Shot(1, 1.0, source_in=1.0)], width=180, height=320)
    rendered = proxy.with_proxies(plan, str(tmp_path / "proxies"), timeout=60)
    phone, hlg = rendered.visuals[2:]
    assert (phone.width, phone.height, phone.rotation, phone.has_audio) == (180, 320, 0, True)
    assert (hlg.hdr, hlg.codec) == ("", "h264")
    assert phone.duration == pytest.approx(1.0 + 8 / 30, abs=0.07), "just the second used, and its margins"
    first, second = rendered.segments
    assert (first.visual, second.visual) == (2, 3)
    assert first.source_in == pytest.approx(4 / 30) and first.frames == plan.segments[0].frames


def test_a_low_memory_proxy_is_decoded_on_one_thread_and_encoded_with_sliced_threads(media, tmp_path, monkeypatch):
    from media_pipeline.probe import probe_visual

    commands: list[list[str]] = []
    real_run = ffmpeg.run

    def run(args, **options):
        commands.append(list(args))
        return real_run(args, **options)

    monkeypatch.setattr(proxy.ffmpeg, "run", run)
    info = probe_visual(str(media["hlg"]))
    plan = build_plan([info], song_info(str(media["song"]), 8.0), [Shot(0, 1.0, source_in=1.0)], width=180, height=320)
    for low_memory in (False, True):
        rendered = proxy.with_proxies(plan, str(tmp_path / f"proxies-{low_memory}"), timeout=60, low_memory=low_memory)
        made = rendered.visuals[-1]
        assert (made.hdr, made.codec, made.height) == ("", "h264", 320)  # upright, SDR, at the frame's size
    default, low = [c for c in commands if "matroska" in c]  # the proxies, not the probes of them
    assert default[default.index("-threads") + 1] == proxy.PROXY_THREADS and "-x264-params" not in default
    assert low[low.index("-threads") + 1] == "1"
    assert low[low.index("-x264-params") + 1] == "sliced-threads=1"


def test_a_render_from_proxies_shows_the_framed_subject_and_leaves_no_proxy_behind(media, tmp_path):
    from media_pipeline.probe import probe_visual

    subject = probe_visual(str(media["subject"]))
    plan = build_plan([subject], song_info(str(media["song"]), 8.0),
                      [Shot(0, 1.0, source_in=1.0), Shot(0, 1.0, source_in=3.0)], width=180, height=320)
    plan = replace(plan, segments=tuple(replace(s, focus_x=0.8) for s in plan.segments))
    assert proxy.wanted(plan)
    out = tmp_path / "edit.mp4"
    render(plan, str(out), style=make_style(reframe=FILL))
    facts = ffprobe(out)
    video = next(s for s in facts["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (180, 320)
    assert float(facts["format"]["duration"]) == pytest.approx(2.0, abs=0.05)
    assert not os.path.exists(proxy.proxies_folder(str(out)))
    frame, _ = ffmpeg.run_binary([ffmpeg.FFMPEG, "-v", "error", "-ss", "0.5", "-i", str(out), "-frames:v", "1",
                                  "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1"], timeout=30)
    picture = np.frombuffer(frame, np.uint8).reshape(320, 180)
    assert picture[152:168, 82:98].mean() > 150, "the white square, centred by the framed crop"
    assert picture[:, :40].mean() < 90 and picture[:, -40:].mean() < 90


def test_a_render_stopped_while_its_proxies_are_made_leaves_nothing_behind(media, tmp_path):
    from media_pipeline.probe import probe_visual

    plan = build_plan([probe_visual(str(media["subject"]))], song_info(str(media["song"]), 8.0),
                      [Shot(0, 1.0, source_in=1.0), Shot(0, 1.0, source_in=3.0)], width=180, height=320)
    out = tmp_path / "edit.mp4"
    with pytest.raises(RenderCancelled):
        render(plan, str(out), should_cancel=lambda: True)
    assert sorted(os.listdir(tmp_path)) == []
    assert not os.path.exists(partial_path(str(out)))


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_a_proxy_shows_the_same_upright_window_ffmpeg_itself_shows_however_the_clip_is_stored(tmp_path, rotate):
    from media_pipeline.probe import probe_visual

    clip = make_clip(tmp_path / "clip.mp4", width=720, height=1280, seconds=2, rotate=rotate)
    info = probe_visual(str(clip))
    plan = build_plan([info], SONG, [Shot(0, 1.0, source_in=0.5)], width=180, height=320)
    plan = replace(plan, segments=(replace(plan.segments[0], focus_x=0.3, focus_y=0.6),))
    (stretch, box), = proxy.wanted(plan)
    made = proxy.with_proxies(plan, str(tmp_path / "proxies"), timeout=60).visuals[-1]
    assert (made.width, made.height, made.rotation) == (box.out_width, box.out_height, 0)

    def frame(path: str, *filters: str) -> np.ndarray:
        data, _ = ffmpeg.run_binary([ffmpeg.FFMPEG, "-v", "error", "-i", path, "-frames:v", "1",
                                     "-vf", ",".join([*filters, "format=gray"]), "-f", "rawvideo", "pipe:1"],
                                    timeout=30)
        return np.frombuffer(data, np.uint8).reshape(box.out_height, box.out_width).astype(float)

    # ffmpeg's own upright picture at the proxy's first moment, cut to the box and scaled alike.
    seek = f"trim=start={stretch.start:.6f},setpts=PTS-STARTPTS"
    expected = frame(str(clip), seek, f"crop={box.width}:{box.height}:{box.x}:{box.y}",
                     f"scale={box.out_width}:{box.out_height}:flags=bilinear")
    assert np.abs(frame(made.path) - expected).mean() < 6


def test_the_creator_reads_preparing_your_clips_only_while_proxies_are_made(media, tmp_path):
    from media_pipeline.probe import probe_visual
    from media_pipeline.render import PREPARING, RENDERING

    song = song_info(str(media["song"]), 8.0)
    shots = [Shot(0, 1.0, source_in=1.0), Shot(0, 1.0, source_in=3.0)]
    big = build_plan([probe_visual(str(media["subject"]))], song, shots, width=180, height=320)
    small = build_plan([probe_visual(str(media["subject"]))], song, shots, width=1280, height=720)
    for plan, expected in ((big, [PREPARING, RENDERING]), (small, [RENDERING])):
        steps: list[str] = []
        render(plan, str(tmp_path / "edit.mp4"), style=make_style(), on_progress=lambda _, step: steps.append(step))
        seen = [step for step in dict.fromkeys(steps) if step in (PREPARING, RENDERING)]
        assert seen == expected
