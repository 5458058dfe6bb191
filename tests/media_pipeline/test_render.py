"""render(): real, tiny renders of synthetic media, checked with ffprobe and by looking at the frames."""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg
from media_pipeline.errors import RenderCancelled, RenderFailed, RenderTimeout
from media_pipeline.hdr import tone_map_filters
from media_pipeline.plan import BLUR, CUT, LETTERBOX, Motion
from media_pipeline.render import partial_path, render, verify_output
from media_pipeline.style import AudioTreatment, Grade
from tests.media_factory import make_clip, make_hdr_clip, make_photo, make_song
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, make_style, photo_info, song_info

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")

FPS = 30
FRAME = 1 / FPS


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("render-media")
    # A phone clip: stored landscape, flagged to play rotated 90 degrees, with sound.
    phone = make_clip(folder / "phone.mp4", width=320, height=180, seconds=3, rotate=90, audio=True)
    # Anamorphic: stored 320x180 with 2:3 pixels, so it displays 214x180.
    wide = make_clip(folder / "anamorphic.mp4", width=320, height=180, seconds=3, sar="2/3", pattern="smptebars")
    black = make_clip(folder / "black.mp4", width=320, height=180, seconds=3, pattern="color")
    photo = make_photo(folder / "photo.jpg", width=640, height=480)
    song = make_song(folder / "song.m4a", bpm=120, seconds=8)
    return {
        "phone": clip_info(str(phone), 180, 320, 3.0, audio=True, rotation=90),
        "wide": clip_info(str(wide), 214, 180, 3.0, sar=2 / 3),
        "black": clip_info(str(black), 320, 180, 3.0),
        "photo": photo_info(str(photo), 640, 480),
        "song": song_info(str(song), 8.0),
    }


def mixed_plan(media: dict):
    return build_plan(
        [media["phone"], media["wide"], media["photo"]],
        media["song"],
        [
            Shot(0, 1.5, source_in=0.2),
            Shot(1, 1.2, "fade", 0.3, source_in=0.5),
            Shot(2, 1.2, CUT, motion=Motion(1.0, 1.2, 0.5, 0.5, 0.6, 0.45)),
            Shot(0, 1.1, "wipeleft", 0.3, source_in=1.9),
        ],
        music_start=1.0,
    )


@pytest.fixture(scope="module")
def rendered(media, tmp_path_factory):
    """One render of the mixed plan: (plan, result, progress updates)."""
    out = tmp_path_factory.mktemp("render-out") / "edit.mp4"
    plan = mixed_plan(media)
    updates: list[tuple[float, str]] = []
    result = render(plan, str(out), lambda percent, step: updates.append((percent, step)), style=make_style())
    return plan, result, updates


def probe(path: str) -> dict:
    data = ffmpeg.ffprobe_json(path)
    streams = {s["codec_type"]: s for s in data["streams"]}
    return {"format": data["format"], **streams}


def top_level_atoms(path: str) -> list[str]:
    """The MP4's top-level box types in file order."""
    names = []
    with open(path, "rb") as f:
        while header := f.read(8):
            size, name = struct.unpack(">I4s", header)
            names.append(name.decode("latin-1"))
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            f.seek(size - 8, os.SEEK_CUR)
    return names


def gray_frames(path: str, tmp_path: Path, width: int = 180, height: int = 320) -> np.ndarray:
    raw = tmp_path / "frames.gray"
    ffmpeg.run([ffmpeg.FFMPEG, "-y", "-loglevel", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray",
                str(raw)], timeout=60)
    return np.fromfile(raw, dtype=np.uint8).reshape(-1, height, width).astype(float)


def rgb_frames(path: str, tmp_path: Path, width: int = 180, height: int = 320) -> np.ndarray:
    raw = tmp_path / "frames.rgb"
    ffmpeg.run([ffmpeg.FFMPEG, "-y", "-loglevel", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24",
                str(raw)], timeout=60)
    return np.fromfile(raw, dtype=np.uint8).reshape(-1, height, width, 3).astype(float)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- the output


def test_a_mixed_edit_renders_at_the_planned_size_and_frame_rate(rendered):
    plan, result, _ = rendered
    video = probe(result.path)["video"]
    assert (video["width"], video["height"]) == (180, 320) == (result.width, result.height)
    assert video["sample_aspect_ratio"] in ("1:1", None) or video.get("sample_aspect_ratio") is None
    assert video["avg_frame_rate"] == video["r_frame_rate"] == "30/1"
    assert int(video["nb_frames"]) == round(plan.duration * FPS) == 150


def test_the_video_is_h264_high_yuv420p_and_the_sound_aac_stereo_48k(rendered):
    _, result, _ = rendered
    info = probe(result.path)
    assert (info["video"]["codec_name"], info["video"]["profile"], info["video"]["pix_fmt"]) == (
        "h264", "High", "yuv420p")
    assert (info["audio"]["codec_name"], info["audio"]["channels"], info["audio"]["sample_rate"]) == (
        "aac", 2, "48000")
    # Asked for 192k; ffmpeg's AAC encoder spends less on a simple drum loop.
    assert 64_000 < int(info["audio"]["bit_rate"]) < 230_000


def test_the_duration_is_the_plans_within_a_frame_and_picture_and_sound_end_together(rendered):
    plan, result, _ = rendered
    info = probe(result.path)
    assert abs(float(info["format"]["duration"]) - plan.duration) <= FRAME
    assert abs(result.duration - plan.duration) <= FRAME
    assert abs(float(info["video"]["duration"]) - float(info["audio"]["duration"])) <= FRAME


def test_the_file_starts_with_its_index_so_it_plays_while_downloading(rendered):
    _, result, _ = rendered
    atoms = top_level_atoms(result.path)
    assert atoms[0] == "ftyp"
    assert atoms.index("moov") < atoms.index("mdat")


def test_no_partial_file_is_left_next_to_a_finished_render(rendered):
    _, result, _ = rendered
    assert not os.path.exists(partial_path(result.path))
    assert result.size_bytes == os.path.getsize(result.path) > 10_000


def test_progress_rises_steadily_and_ends_at_100(rendered):
    _, _, updates = rendered
    percents = [p for p, _ in updates]
    assert len(updates) >= 5
    assert percents == sorted(percents)
    # Each update moves on: a higher percent, or a new step at the same one (the worker times steps by them).
    assert all(now != before for before, now in zip(updates, updates[1:]))
    assert percents[0] == 0 and percents[-1] == 100
    assert any(0 < p < 99 for p in percents)
    assert {step for _, step in updates} >= {"Rendering", "Done"}


def test_the_picture_changes_exactly_at_a_planned_hard_cut(media, tmp_path):
    plan = build_plan([media["black"], media["phone"]], media["song"], [Shot(0, 1.4), Shot(1, 1.6)])
    out = tmp_path / "cut.mp4"
    render(plan, str(out), style=make_style())
    frames = gray_frames(str(out), tmp_path)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))  # change[k]: frame k -> k + 1
    cut = round(plan.cuts[0] * FPS)  # frame 42 is the first of the second shot
    assert int(np.argmax(change)) == cut - 1
    assert change[cut - 1] > 40
    assert change[cut - 2] < 5 and change[cut] < 20


def transition_frames(media, tmp_path, first: str, second: str, transition: str):
    """Render two 1.5 s shots joined by a 0.4 s transition: (frames, first frame of it, frame after it)."""
    plan = build_plan([media[first], media[second]], media["song"], [Shot(0, 1.5), Shot(1, 1.5, transition, 0.4)])
    out = tmp_path / f"{transition}.mp4"
    render(plan, str(out), style=make_style())
    start, end = round(plan.segments[1].start * FPS), round(plan.segments[0].end * FPS)
    return gray_frames(str(out), tmp_path), start, end


def test_a_crossfade_blends_the_two_shots_over_the_planned_frames(media, tmp_path):
    frames, start, end = transition_frames(media, tmp_path, "black", "phone", "fade")
    brightness = frames.mean(axis=(1, 2))
    assert brightness[start - 1] < 20  # still black
    assert brightness[end] > 60  # all phone clip
    ramp = brightness[start:end]
    assert np.all(np.diff(ramp) > 0) and ramp[0] < 40 and ramp[-1] > 60


def test_a_slide_moves_the_next_shot_in_from_the_right_over_the_planned_frames(media, tmp_path):
    frames, start, end = transition_frames(media, tmp_path, "black", "phone", "slideleft")
    assert frames[start].mean() < 5  # the first frame of the slide is still all black
    middle = frames[(start + end) // 2]
    assert middle[:, :60].mean() < 10 and middle[:, 120:].mean() > 60  # black on the left, the next shot on the right
    # The edge of the incoming picture moves left on every frame.
    edges = [int(np.argmax(frame.mean(axis=0) > 30)) for frame in frames[start + 1:end]]
    assert all(b < a for a, b in zip(edges, edges[1:]))


def test_a_dip_to_black_darkens_to_black_between_the_shots_and_comes_back(media, tmp_path):
    frames, start, end = transition_frames(media, tmp_path, "phone", "wide", "fadeblack")
    brightness = frames.mean(axis=(1, 2))
    middle = (start + end) // 2
    assert brightness[start - 1] > 60 and brightness[end] > 60
    assert brightness[middle] < 20  # the middle frame, the planned cut, is black
    assert brightness[start] > 60  # the first frame of the window is still all first shot, as in a crossfade
    assert np.all(np.diff(brightness[start:middle + 1]) < 0)  # darker every frame on the way out
    assert np.all(np.diff(brightness[middle:end + 1]) > 0)  # brighter every frame on the way in


def test_blur_grade_and_clip_sound_render_to_spec_too(media, tmp_path):
    style = make_style(
        reframe=BLUR,
        grade=Grade(temperature=0.3, contrast=1.1, vignette=0.4, grain=6),
        audio=AudioTreatment(clip_volume=0.4, lowpass_hz=9000),
    )
    plan = build_plan(
        [media["phone"], media["wide"], media["photo"]],
        media["song"],
        [Shot(1, 1.5, reframe=BLUR), Shot(0, 1.5, "dissolve", 0.3, reframe=BLUR),
         Shot(2, 1.0, "fadeblack", 0.3, reframe=BLUR, motion=Motion(1.2, 1.0, 0.4, 0.5, 0.5, 0.5))],
    )
    result = render(plan, str(tmp_path / "styled.mp4"), style=style)
    info = probe(result.path)
    assert int(info["video"]["nb_frames"]) == 120
    assert abs(float(info["video"]["duration"]) - float(info["audio"]["duration"])) <= FRAME
    assert (info["video"]["width"], info["video"]["height"]) == (180, 320)


def test_a_letterboxed_wide_clip_keeps_black_bars_above_and_below(media, tmp_path):
    plan = build_plan([media["wide"]], media["song"], [Shot(0, 1.0, reframe=LETTERBOX)])
    result = render(plan, str(tmp_path / "bars.mp4"), style=make_style(reframe=LETTERBOX))
    frame = gray_frames(result.path, tmp_path)[10]
    assert frame[:70].mean() < 20 and frame[-70:].mean() < 20
    assert frame[100:220].mean() > 60  # the bars' picture, 180x152 in the middle


def test_a_letterboxed_photo_zooms_inside_bars_that_stay_put(media, tmp_path):
    plan = build_plan([media["photo"]], media["song"],
                      [Shot(0, 1.5, reframe=LETTERBOX, motion=Motion(1.0, 1.4, 0.5, 0.5, 0.5, 0.5))])
    result = render(plan, str(tmp_path / "boxed.mp4"), style=make_style(reframe=LETTERBOX))
    frames = gray_frames(result.path, tmp_path)
    first, last = frames[1], frames[-2]
    # The 4:3 photo fills rows 92-227 of 320. Zooming the bars along with it would cover rows
    # 66-254 by the end; they stay black, and the picture changes inside its box.
    for frame in (first, last):
        assert frame[:88].mean() < 20 and frame[232:].mean() < 20
        assert frame[100:220].mean() > 40
    assert np.abs(last[100:220] - first[100:220]).mean() > 10, "the photo moved"


def test_a_tinting_grade_leaves_letterbox_bars_black_and_colours_only_the_picture(media, tmp_path):
    # Vintage's curves lift black towards purple: graded after the bars, the bars would be purple too.
    grade = Grade(temperature=0.5, saturation=0.6, curves="vintage")
    plan = build_plan(
        [media["wide"], media["photo"]], media["song"],
        [Shot(0, 1.0, reframe=LETTERBOX), Shot(1, 1.0, "fade", 0.3, reframe=LETTERBOX,
                                               motion=Motion(1.0, 1.1, 0.5, 0.5, 0.5, 0.5))],
    )
    styled = render(plan, str(tmp_path / "graded.mp4"), style=make_style(reframe=LETTERBOX, grade=grade))
    plain = render(plan, str(tmp_path / "plain.mp4"), style=make_style(reframe=LETTERBOX))
    frames, reference = rgb_frames(styled.path, tmp_path), rgb_frames(plain.path, tmp_path)
    for n in (10, 50):  # the clip, then the photo in motion
        bars = frames[n][:40]
        assert bars.max() < 30, "the bars stay black"
        assert np.abs(bars[..., 0] - bars[..., 2]).max() < 8, "and untinted"
        picture, untouched = frames[n][140:180], reference[n][140:180]
        assert np.abs(picture - untouched).mean() > 10, "the picture itself is graded"


def test_a_clip_that_runs_out_a_few_frames_early_holds_its_last_frame(media, tmp_path):
    # The phone clip lasts 3.0 s; the plan asks for footage up to 3.1 s.
    plan = build_plan([media["wide"], media["phone"]], media["song"], [Shot(0, 1.0), Shot(1, 1.2, source_in=1.9)])
    result = render(plan, str(tmp_path / "short.mp4"), style=make_style())
    assert int(probe(result.path)["video"]["nb_frames"]) == 66


@pytest.mark.parametrize("style_name", ["CLEAN_VLOG", "VINTAGE_FILM", "NEON_NIGHT"])
def test_a_plan_from_the_planner_in_a_real_style_renders_to_spec(media, tmp_path, style_name):
    # The contract between planner and renderer, end to end: probed files, a beat
    # grid known from the synthetic song (no beat analysis), plan_edit, render.
    from media_pipeline.facts import BeatGrid
    from media_pipeline.planner import plan_edit
    from media_pipeline.probe import probe_audio, probe_visual
    from media_pipeline.style import get_style

    visuals = [probe_visual(media[k].path) for k in ("phone", "wide", "photo", "black")]
    song = probe_audio(media["song"].path)
    beats = tuple(i * 0.5 for i in range(16))
    grid = BeatGrid(8.0, 120.0, beats, beats[::4], 10.0, (0.5,) * 80)
    plan = plan_edit(visuals, song, grid, get_style(style_name), duration=5.0, size=(180, 320))
    result = render(plan, str(tmp_path / "planned.mp4"))
    info = probe(result.path)
    assert int(info["video"]["nb_frames"]) == round(plan.duration * FPS)
    assert (info["video"]["width"], info["video"]["height"]) == (180, 320)
    assert abs(float(info["video"]["duration"]) - float(info["audio"]["duration"])) <= FRAME


# ---------------------------------------------------------------- failures leave nothing behind


def test_a_missing_source_fails_clearly_and_leaves_no_file(media, tmp_path):
    gone = tmp_path / "gone.mp4"
    make_clip(gone, seconds=2)
    plan = build_plan([replace(media["phone"], path=str(gone))], media["song"], [Shot(0, 1.0)])
    gone.unlink()
    out = tmp_path / "out" / "edit.mp4"
    out.parent.mkdir()
    with pytest.raises(RenderFailed, match="ffmpeg failed"):
        render(plan, str(out), style=make_style())
    assert leftovers(out.parent) == []


def test_a_render_past_its_time_limit_is_stopped_and_leaves_no_file(media, tmp_path):
    out = tmp_path / "out" / "edit.mp4"
    out.parent.mkdir()
    with pytest.raises(RenderTimeout):
        render(mixed_plan(media), str(out), style=make_style(), timeout=0.05)
    assert leftovers(out.parent) == []


def test_a_cancelled_render_stops_and_leaves_no_file(media, tmp_path):
    out = tmp_path / "out" / "edit.mp4"
    out.parent.mkdir()
    with pytest.raises(RenderCancelled):
        render(mixed_plan(media), str(out), lambda p, s: None, style=make_style(), should_cancel=lambda: True)
    assert leftovers(out.parent) == []


def test_an_output_that_does_not_match_its_plan_is_rejected(rendered):
    plan, result, _ = rendered
    with pytest.raises(RenderFailed, match="long"):
        verify_output(result.path, replace(plan, duration=plan.duration + 0.5))
    with pytest.raises(RenderFailed, match="size"):
        verify_output(result.path, replace(plan, width=360))


def test_a_phone_photo_stored_on_its_side_comes_out_upright(media, tmp_path):
    from PIL import Image

    from media_pipeline.probe import probe as probe_file

    # Upright the portrait is white on the left, black on the right; the file stores it
    # turned a quarter anticlockwise with EXIF orientation 6 ("turn clockwise to show").
    upright = Image.new("RGB", (400, 600), "black")
    upright.paste((255, 255, 255), (0, 0, 200, 600))
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    info = probe_file(str(path))
    assert (info.width, info.height, info.rotation) == (400, 600, 90)
    plan = build_plan([info], media["song"], [Shot(0, 1.0, reframe=LETTERBOX)])
    out = tmp_path / "upright.mp4"
    render(plan, str(out), style=make_style(reframe=LETTERBOX))
    first = gray_frames(str(out), tmp_path)[0]  # 320 rows x 180 columns; the picture fills rows 25-295
    picture = first[40:280]
    assert picture[:, :80].mean() > 200, "the left half is white"
    assert picture[:, 100:].mean() < 50, "the right half is black"


def _mean_rgb(path: Path, tmp_path: Path, *, hdr: str = "") -> np.ndarray:
    """The mean colour of a clip's first frame as a player shows 8-bit BT.709, tone-mapped first for hdr "pq" or "hlg"."""
    info = replace(clip_info(str(path), 320, 180, 2.0), hdr=hdr)
    out = tmp_path / "frame.rgb"
    chain = ",".join([*tone_map_filters(info), "scale=in_color_matrix=bt709:in_range=tv", "format=rgb24"])
    ffmpeg.run([ffmpeg.FFMPEG, "-y", "-loglevel", "error", "-i", str(path), "-frames:v", "1", "-vf", chain,
                "-f", "rawvideo", str(out)], timeout=60)
    return np.fromfile(out, dtype=np.uint8).reshape(-1, 3).astype(float).mean(axis=0)


@pytest.mark.parametrize(("transfer", "hdr"), [("smpte2084", "pq"), ("arib-std-b67", "hlg")])
@pytest.mark.parametrize("size", [(320, 180), (640, 360)])  # mapped before the reframe's scale, and after it
def test_an_hdr_clip_comes_out_sdr_in_the_colours_a_phone_shows(tmp_path, transfer, hdr, size):
    clip = make_hdr_clip(tmp_path / f"{hdr}.mp4", transfer=transfer, colour="0x00a000", seconds=2,
                         width=size[0], height=size[1])
    song = make_song(tmp_path / "song.m4a", bpm=120, seconds=4)
    plan = build_plan([replace(clip_info(str(clip), *size, 2.0), hdr=hdr)], song_info(str(song), 4.0),
                      [Shot(0, 1.5)])
    out = tmp_path / "out.mp4"
    render(plan, str(out), style=make_style())
    assert probe(str(out))["video"]["pix_fmt"] == "yuv420p"
    # Read as if it were SDR, BT.2020's green comes out dull; mapped to BT.709 it is vivid.
    naive, mapped = _mean_rgb(clip, tmp_path), _mean_rgb(clip, tmp_path, hdr=hdr)
    assert mapped[1] - max(mapped[0], mapped[2]) > naive[1] - max(naive[0], naive[2]) + 12
    assert np.abs(_mean_rgb(out, tmp_path) - mapped).max() < 8


@pytest.mark.parametrize(("transfer", "hdr"), [("smpte2084", "pq"), ("arib-std-b67", "hlg")])
def test_hdr_greys_stay_grey_and_in_order_with_highlights_short_of_white(tmp_path, transfer, hdr):
    levels = []
    for colour in ("0x606060", "0x909090", "0xb0b0b0"):
        clip = make_hdr_clip(tmp_path / f"{hdr}_{colour}.mp4", transfer=transfer, colour=colour, seconds=1)
        r, g, b = _mean_rgb(clip, tmp_path, hdr=hdr)
        assert max(r, g, b) - min(r, g, b) < 6
        levels.append(g)
    assert 20 < levels[0] < levels[1] < levels[2] < 250


@pytest.mark.parametrize(("transfer", "hdr"), [("smpte2084", "pq"), ("arib-std-b67", "hlg")])
def test_an_hdr_clip_tagged_only_with_its_transfer_still_renders(tmp_path, transfer, hdr):
    clip = make_hdr_clip(tmp_path / f"{hdr}.mp4", transfer=transfer, transfer_only=True, seconds=1.5)
    song = make_song(tmp_path / "song.m4a", bpm=120, seconds=4)
    plan = build_plan([replace(clip_info(str(clip), 320, 180, 1.5), hdr=hdr)], song_info(str(song), 4.0),
                      [Shot(0, 1.2)])
    out = tmp_path / "out.mp4"
    render(plan, str(out), style=make_style())
    assert abs(float(probe(str(out))["video"]["duration"]) - 1.2) < 0.04
