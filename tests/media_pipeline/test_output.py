"""The output spec is one description: the render command encodes to it and the output check holds files to it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from media_pipeline import render
from media_pipeline.errors import RenderFailed
from media_pipeline.output import OUTPUT
from tests.media_pipeline.test_graph import command, filter_graph, mixed_plan, option


def test_the_render_command_encodes_to_the_output_spec():
    args = command(mixed_plan())
    assert option(args, "-c:v") == OUTPUT.video_encoder and option(args, "-profile:v") == OUTPUT.profile
    assert option(args, "-pix_fmt") == OUTPUT.pixel_format
    assert (option(args, "-b:v"), option(args, "-maxrate"), option(args, "-bufsize")) == (
        OUTPUT.video_bitrate, OUTPUT.maxrate, OUTPUT.bufsize)
    assert (option(args, "-c:a"), option(args, "-b:a")) == (OUTPUT.audio_codec, OUTPUT.audio_bitrate)
    assert (option(args, "-ar"), option(args, "-ac")) == (str(OUTPUT.sample_rate), str(OUTPUT.channels))
    assert (option(args, "-movflags"), option(args, "-f")) == (OUTPUT.movflags, OUTPUT.container)


def test_the_sound_is_mixed_at_the_spec_rate_and_layout_before_it_is_encoded():
    text = filter_graph(command(mixed_plan()))
    assert f"sample_rates={OUTPUT.sample_rate}:channel_layouts=stereo" in text and OUTPUT.channels == 2


def probed(**changes: object) -> dict:
    """ffprobe's answer for a file as the spec says (mixed_plan: 10 s of 180x320 at 30 fps), with `changes`."""
    video = {"codec_type": "video", "codec_name": OUTPUT.video_codec, "pix_fmt": OUTPUT.pixel_format,
             "width": 180, "height": 320, "avg_frame_rate": "30/1", "nb_frames": "300", "duration": "10.0"}
    audio = {"codec_type": "audio", "codec_name": OUTPUT.audio_codec, "channels": OUTPUT.channels,
             "sample_rate": str(OUTPUT.sample_rate), "duration": "10.0"}
    for key, value in changes.items():
        kind, name = key.split("_", 1)
        (video if kind == "video" else audio)[name] = value
    return {"format": {"duration": "10.0"}, "streams": [video, audio]}


def test_a_file_as_the_spec_says_passes_the_output_check(monkeypatch):
    monkeypatch.setattr(render.ffmpeg, "ffprobe_json", lambda path, **options: probed())
    facts = render.verify_output("/out/edit.mp4", mixed_plan())
    assert (facts.width, facts.height, facts.frames) == (180, 320, 300)


@pytest.mark.parametrize("change, said", [
    ({"video_codec_name": "hevc"}, f"not {OUTPUT.video_codec}"),
    ({"video_pix_fmt": "yuv444p"}, f"not {OUTPUT.pixel_format}"),
    ({"audio_codec_name": "mp3"}, f"not {OUTPUT.audio_codec}"),
    ({"audio_channels": 1}, f"not {OUTPUT.channels}"),
    ({"audio_sample_rate": "44100"}, f"not {OUTPUT.sample_rate}"),
])
def test_the_output_check_refuses_a_file_that_is_not_the_spec(monkeypatch, change, said):
    monkeypatch.setattr(render.ffmpeg, "ffprobe_json", lambda path, **options: probed(**change))
    with pytest.raises(RenderFailed, match=said):
        render.verify_output("/out/edit.mp4", mixed_plan())


def test_the_output_check_reads_the_spec_it_is_given(monkeypatch):
    # One place: a spec asking for 44.1 kHz sound turns a 48 kHz file away.
    monkeypatch.setattr(render, "OUTPUT", replace(OUTPUT, sample_rate=44100))
    monkeypatch.setattr(render.ffmpeg, "ffprobe_json", lambda path, **options: probed())
    with pytest.raises(RenderFailed, match="not 44100"):
        render.verify_output("/out/edit.mp4", mixed_plan())
