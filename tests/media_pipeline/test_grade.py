"""Colour grades as ffmpeg filter text: only cheap filters, and they do what they say to real pixels."""

from pathlib import Path

import numpy as np
import pytest

from media_pipeline import ffmpeg
from media_pipeline.grade import chroma_offsets, grade_graph, grain_filter, is_neutral, tone_filter
from media_pipeline.style import Grade

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="ffmpeg is not installed")

EXPENSIVE = ("colorbalance", "lut3d", "colorchannelmixer", "geq", "frei0r")
W, H = 64, 48


def graded_rgb(grade: Grade, tmp_path: Path, *, colour: str = "0x808080", frames: int = 3) -> np.ndarray:
    """Run the grade over a flat-colour clip and return its frames as RGB arrays (frames, H, W, 3)."""
    out = tmp_path / "graded.rgb"
    graph = grade_graph(grade, "in", "out", width=W, height=H, fps=30)
    ffmpeg.run(
        [
            ffmpeg.FFMPEG, "-y", "-loglevel", "error",
            "-filter_complex",
            f"color=c={colour}:s={W}x{H}:r=30,format=yuv420p,trim=end_frame={frames}[in];"
            f"{graph};[out]format=rgb24[rgb]",
            "-map", "[rgb]", "-f", "rawvideo", str(out),
        ],
        timeout=30,
    )
    data = np.fromfile(out, dtype=np.uint8)
    return data.reshape(-1, H, W, 3).astype(float)


def test_a_neutral_grade_adds_no_filters():
    assert is_neutral(Grade())
    assert tone_filter(Grade()) == ""
    assert grade_graph(Grade(), "a", "b", width=W, height=H, fps=30) == "[a]null[b]"


def test_contrast_brightness_saturation_and_gamma_go_into_one_eq_filter():
    text = tone_filter(Grade(contrast=1.2, brightness=-0.05, saturation=0.8, gamma=0.9))
    assert text.startswith("eq=")
    assert text.count("eq=") == 1
    for option in ("contrast=1.2", "brightness=-0.05", "saturation=0.8", "gamma=0.9"):
        assert option in text


def test_warmth_raises_the_red_gamma_and_lowers_the_blue_and_cool_does_the_opposite():
    warm = dict(kv.split("=") for kv in tone_filter(Grade(temperature=0.5)).removeprefix("eq=").split(":"))
    cool = dict(kv.split("=") for kv in tone_filter(Grade(temperature=-0.5)).removeprefix("eq=").split(":"))
    assert float(warm["gamma_r"]) > 1 > float(warm["gamma_b"])
    assert float(cool["gamma_r"]) < 1 < float(cool["gamma_b"])


def test_grain_is_temporal_noise_on_brightness_only():
    assert grain_filter(Grade()) == ""
    assert grain_filter(Grade(grain=8)) == "noise=c0s=12:c0f=t+a"


def test_no_preset_like_grade_uses_an_expensive_filter():
    grade = Grade(temperature=0.4, saturation=0.7, contrast=1.1, gamma=1.05, vignette=0.5, grain=10, curves="vintage")
    text = grade_graph(grade, "a", "b", width=W, height=H, fps=30)
    assert not any(name in text for name in EXPENSIVE)
    assert "curves=" not in text  # vintage has a cheap YUV approximation


def test_the_vignette_is_drawn_once_and_multiplied_onto_brightness_only():
    text = grade_graph(Grade(vignette=0.5), "a", "b", width=W, height=H, fps=30)
    assert "trim=end_frame=1,vignette=angle=0.5" in text
    assert "blend=c0_mode=multiply:c1_mode=normal:c2_mode=normal:repeatlast=1" in text


def test_the_vignette_mask_is_drawn_small_and_scaled_up_to_the_frame():
    text = grade_graph(Grade(vignette=0.5), "a", "b", width=1080, height=1920, fps=30)
    assert "color=c=white:s=270x480:" in text
    assert "scale=1080:1920:flags=bilinear" in text


def test_the_small_vignette_mask_darkens_as_the_vignette_filter_does_at_full_size(tmp_path):
    width, height = 360, 640
    ours, theirs = tmp_path / "ours.y", tmp_path / "theirs.y"
    grey = f"color=c=0xc0c0c0:s={width}x{height}:r=30,format=yuv420p,trim=end_frame=1"
    graph = grade_graph(Grade(vignette=0.5), "in", "out", width=width, height=height, fps=30)
    for filters, out in (
        (f"{grey}[in];{graph};[out]extractplanes=y[y]", ours),
        (f"{grey},vignette=angle=0.5,extractplanes=y[y]", theirs),
    ):
        ffmpeg.run(
            [ffmpeg.FFMPEG, "-y", "-loglevel", "error", "-filter_complex", filters,
             "-map", "[y]", "-f", "rawvideo", str(out)],
            timeout=30,
        )
    a = np.fromfile(ours, dtype=np.uint8).astype(float)
    b = np.fromfile(theirs, dtype=np.uint8).astype(float)
    assert a.shape == b.shape == (width * height,)
    assert b.min() < 120  # the corners really are dark
    assert np.abs(a - b).mean() < 1.0
    assert np.abs(a - b).max() <= 4


def test_a_warm_grade_makes_grey_redder_than_blue(tmp_path):
    frame = graded_rgb(Grade(temperature=0.8), tmp_path)[0]
    red, blue = frame[..., 0].mean(), frame[..., 2].mean()
    assert red > blue + 10


def test_a_cool_grade_makes_grey_bluer_than_red(tmp_path):
    frame = graded_rgb(Grade(temperature=-0.8), tmp_path)[0]
    assert frame[..., 2].mean() > frame[..., 0].mean() + 10


def test_the_vignette_darkens_the_corners_not_the_centre_on_every_frame(tmp_path):
    frames = graded_rgb(Grade(vignette=0.6), tmp_path, colour="0xc0c0c0", frames=5)
    plain = graded_rgb(Grade(), tmp_path, colour="0xc0c0c0", frames=5)
    assert len(frames) == len(plain) == 5
    for frame, reference in zip(frames, plain):
        centre = frame[H // 2 - 2 : H // 2 + 2, W // 2 - 2 : W // 2 + 2].mean()
        corner = frame[:3, :3].mean()
        assert abs(centre - reference[H // 2, W // 2].mean()) < 4
        assert corner < centre - 25
        # Grey stays grey: the vignette does not tint.
        assert abs(frame[:3, :3, 0].mean() - frame[:3, :3, 2].mean()) < 6


def test_grain_changes_from_frame_to_frame(tmp_path):
    frames = graded_rgb(Grade(grain=12), tmp_path, frames=3)
    assert np.abs(frames[1] - frames[0]).mean() > 1.0
    assert abs(frames[0].mean() - 128) < 8


def test_contrast_and_brightness_move_a_grey_frame_the_expected_way(tmp_path):
    darker = graded_rgb(Grade(brightness=-0.1), tmp_path)[0].mean()
    plain = graded_rgb(Grade(), tmp_path)[0].mean()
    assert darker < plain - 10


def test_the_vintage_curves_preset_is_approximated_in_yuv_and_stays_close_to_the_real_one(tmp_path):
    text = grade_graph(Grade(curves="vintage"), "a", "b", width=W, height=H, fps=30)
    assert "curves" not in text and "colorcorrect" in text and "lutyuv" in text
    out = tmp_path / "pair.rgb"
    approx = grade_graph(Grade(curves="vintage"), "x", "approx", width=180, height=320, fps=30)
    ffmpeg.run(
        [
            ffmpeg.FFMPEG, "-y", "-loglevel", "error", "-filter_complex",
            "testsrc2=s=180x320:d=0.1,format=yuv420p,split[x][y];"
            f"{approx};[y]curves=preset=vintage,format=yuv420p[real];"
            "[approx][real]hstack,format=rgb24,trim=end_frame=1[out]",
            "-map", "[out]", "-f", "rawvideo", str(out),
        ],
        timeout=30,
    )
    pair = np.fromfile(out, dtype=np.uint8).reshape(320, 360, 3).astype(float)
    assert np.abs(pair[:, :180] - pair[:, 180:]).mean() < 12


def test_a_curves_preset_without_an_approximation_uses_the_curves_filter():
    assert "curves=preset=lighter" in grade_graph(Grade(curves="lighter"), "a", "b", width=W, height=H, fps=30)


def test_with_a_vignette_the_tone_rides_on_its_blend_and_eq_keeps_to_contrast_and_colour():
    text = grade_graph(Grade(temperature=-0.6, contrast=1.2, saturation=1.5, vignette=0.5), "a", "b",
                       width=W, height=H, fps=30)
    assert "gamma" not in text  # any eq gamma is a per-pixel table
    assert "eq=contrast=1.2:saturation=1.5" in text
    assert ":u=133:v=123," in text  # cool: more blue, less red
    assert "blend=c0_mode=multiply:c1_mode=grainmerge:c2_mode=grainmerge" in text


def test_the_tone_on_the_blend_matches_eqs_tone_on_grey(tmp_path):
    for temperature in (-0.6, 0.35):
        blended = graded_rgb(Grade(temperature=temperature, vignette=0.01), tmp_path)[0]
        eq_tone = graded_rgb(Grade(temperature=temperature), tmp_path)[0]
        centre = (slice(H // 2 - 2, H // 2 + 2), slice(W // 2 - 2, W // 2 + 2))
        assert np.abs(blended[centre].mean(axis=(0, 1)) - eq_tone[centre].mean(axis=(0, 1))).max() <= 2.5


def test_a_warm_vignetted_grade_makes_grey_redder_than_blue(tmp_path):
    frame = graded_rgb(Grade(temperature=0.8, vignette=0.3), tmp_path)[0]
    assert frame[..., 0].mean() > frame[..., 2].mean() + 10


def test_letterboxed_pictures_keep_their_tone_so_the_vignettes_blend_leaves_the_bars_neutral():
    text = grade_graph(Grade(temperature=0.5, vignette=0.5), "a", "b", width=W, height=H, fps=30,
                       pictures_graded=True)
    assert "c1_mode=normal:c2_mode=normal" in text
    assert ":u=128:v=128," in text


def test_chroma_offsets_are_opposite_and_grow_with_the_temperature():
    assert chroma_offsets(0.0) == (0, 0)
    warm_u, warm_v = chroma_offsets(0.5)
    assert warm_u < 0 < warm_v
    cool_u, cool_v = chroma_offsets(-0.5)
    assert abs(cool_u + warm_u) <= 1 and abs(cool_v + warm_v) <= 1
    assert abs(chroma_offsets(1.0)[1]) > abs(warm_v)
