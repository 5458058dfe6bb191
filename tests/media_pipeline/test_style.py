"""The style presets: complete, distinct, and only using transitions ffmpeg 5.1 can render."""

import re

import pytest

from media_pipeline.plan import BLUR, CUT, FILL, REFRAME_MODES
from media_pipeline.style import STYLE_NAMES, STYLES, Style, get_style

# `ffmpeg -h filter=xfade` on ffmpeg 5.1.
XFADE_5_1 = set(
    "custom fade wipeleft wiperight wipeup wipedown slideleft slideright slideup slidedown circlecrop rectcrop "
    "distance fadeblack fadewhite radial smoothleft smoothright smoothup smoothdown circleopen circleclose "
    "vertopen vertclose horzopen horzclose dissolve pixelize diagtl diagtr diagbl diagbr hlslice hrslice "
    "vuslice vdslice hblur fadegrays wipetl wipetr wipebl wipebr squeezeh squeezev zoomin fadefast fadeslow".split()
)
CURVES_PRESETS = {
    "",
    "color_negative",
    "cross_process",
    "darker",
    "increase_contrast",
    "lighter",
    "linear_contrast",
    "medium_contrast",
    "negative",
    "strong_contrast",
    "vintage",
}
ALL = list(STYLES.values())


def test_there_are_at_least_six_presets_listed_in_ui_order():
    assert len(STYLES) >= 6
    assert list(STYLE_NAMES) == list(STYLES)
    assert {"CINEMATIC_DRAMA", "ENERGETIC_DANCE", "CHILL_LOFI", "VINTAGE_FILM", "CLEAN_VLOG", "NEON_NIGHT"} <= set(
        STYLE_NAMES
    )


def test_names_are_unique_upper_snake_and_match_their_keys():
    for key, style in STYLES.items():
        assert key == style.name
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)*", style.name)
    assert len({s.label for s in ALL}) == len(ALL)


@pytest.mark.parametrize("style", ALL, ids=STYLE_NAMES)
def test_every_preset_is_complete_and_in_range(style: Style):
    assert style.label and style.description and "\n" not in style.description
    assert style.beats_per_cut and all(isinstance(b, int) and b >= 1 for b in style.beats_per_cut)
    assert style.transitions
    assert 0 < style.transition_beats < 1, "a transition lasts a fraction of a beat"
    assert style.reframe in REFRAME_MODES
    assert 0 <= style.audio.clip_volume <= 1
    assert style.photo_zoom > 1.0
    assert -1 <= style.grade.temperature <= 1
    assert -0.2 <= style.grade.brightness <= 0.2
    assert style.grade.curves in CURVES_PRESETS


@pytest.mark.parametrize("style", ALL, ids=STYLE_NAMES)
def test_every_transition_is_a_hard_cut_or_an_ffmpeg_5_1_xfade(style: Style):
    assert set(style.transitions) <= XFADE_5_1 | {CUT}


def test_the_set_uses_hard_cuts_crossfades_dips_to_black_and_more():
    used = {t for s in ALL for t in s.transitions}
    assert {CUT, "fade", "fadeblack"} <= used
    assert len(used - {CUT, "fade", "fadeblack"}) >= 2


def test_fill_and_blur_reframing_are_both_offered():
    assert {FILL, BLUR} <= {s.reframe for s in ALL}


def test_no_two_presets_share_a_grade():
    assert len({s.grade for s in ALL}) == len(ALL)


def test_pacing_runs_from_fast_dance_to_long_cinematic_shots():
    def mean(style):
        return sum(style.beats_per_cut) / len(style.beats_per_cut)

    assert mean(STYLES["CINEMATIC_DRAMA"]) > mean(STYLES["CLEAN_VLOG"]) > mean(STYLES["ENERGETIC_DANCE"])


def test_most_presets_play_music_only_but_the_vlog_keeps_clip_sound_low():
    assert STYLES["CLEAN_VLOG"].audio.clip_volume == 0.25
    assert sum(s.audio.clip_volume == 0 for s in ALL) >= len(ALL) - 1


def test_get_style_returns_the_preset():
    assert get_style("NEON_NIGHT") is STYLES["NEON_NIGHT"]


def test_an_unknown_style_error_names_every_choice():
    with pytest.raises(KeyError) as error:
        get_style("DISCO")
    assert "DISCO" in str(error.value)
    assert all(name in str(error.value) for name in STYLE_NAMES)


def test_presets_cannot_be_changed_at_runtime():
    with pytest.raises(TypeError):
        STYLES["NEW"] = STYLES["CLEAN_VLOG"]  # type: ignore[index]


# ---------------------------------------------------------------- letterbox only where bars belong

from media_pipeline import ffmpeg, framing  # noqa: E402
from media_pipeline.plan import LETTERBOX  # noqa: E402
from media_pipeline.render import render  # noqa: E402
from media_pipeline.style import VINTAGE_FILM, reframe_for  # noqa: E402
from tests.media_factory import make_clip, make_song  # noqa: E402
from tests.media_pipeline.test_graph import Shot, build_plan, clip_info, photo_info, song_info  # noqa: E402
from tests.media_pipeline.test_render import gray_frames  # noqa: E402

WIDE = clip_info("/media/wide.mp4", 1920, 1080, 10.0)


def test_a_letterbox_keeps_its_bars_on_a_landscape_output():
    assert reframe_for(LETTERBOX, clip_info("/media/tall.mp4", 1080, 1920, 10.0), 1920, 1080) == LETTERBOX


def test_a_letterbox_fills_a_vertical_or_square_output():
    assert reframe_for(LETTERBOX, WIDE, 1080, 1920) == FILL  # 9:16
    assert reframe_for(LETTERBOX, WIDE, 1080, 1350) == FILL  # 4:5
    assert reframe_for(LETTERBOX, WIDE, 1080, 1080) == FILL


def test_a_picture_that_nearly_fits_keeps_its_thin_bars():
    almost = photo_info("/media/p.jpg", 3000, 4000)  # 3:4 in 4:5: bars of 6%
    assert reframe_for(LETTERBOX, almost, 1080, 1350) == LETTERBOX


def test_a_panorama_is_fitted_over_its_blurred_copy_rather_than_cut_to_a_sliver():
    assert reframe_for(LETTERBOX, photo_info("/media/pano.jpg", 8000, 2000), 1080, 1920) == BLUR


def test_other_modes_are_left_as_the_style_says():
    assert reframe_for(BLUR, WIDE, 1080, 1920) == BLUR
    assert reframe_for(FILL, WIDE, 1920, 1080) == FILL


@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg")
def test_vintage_film_on_a_vertical_output_fills_the_screen_and_keeps_its_grain(tmp_path):
    clip = make_clip(tmp_path / "wide.mp4", width=320, height=180, seconds=3)
    song = make_song(tmp_path / "song.m4a", seconds=4)
    plan = build_plan([clip_info(str(clip), 320, 180, 3.0)], song_info(str(song), 4.0),
                      [Shot(0, 1.0, reframe=LETTERBOX), Shot(0, 1.0, source_in=1.0, reframe=LETTERBOX)],
                      style="VINTAGE_FILM")
    framed = framing.with_focus(plan)
    assert {seg.reframe for seg in framed.segments} == {FILL}
    out = render(framed, str(tmp_path / "vintage.mp4"), style=VINTAGE_FILM)
    video = next(s for s in ffmpeg.ffprobe_json(out.path)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (180, 320)
    frame = gray_frames(out.path, tmp_path)[15]
    dark_rows = (frame.mean(axis=1) < 24).mean()
    assert dark_rows < 0.1, f"{dark_rows:.0%} of the rows are black"
    assert frame[100:220].std(axis=1).mean() > 5, "picture, not a flat colour"
