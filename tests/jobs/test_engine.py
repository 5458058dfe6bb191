"""The job engine: probe, beats, plan, framing and loudness end up in the plan stored on the job."""

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job
from media_pipeline import ffmpeg
from tests.media_factory import make_montage, make_song, make_subject, make_waking_clip

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


@pytest.fixture
def no_render(monkeypatch):
    from media_pipeline.sync import SyncReport

    def fake_render(plan, path, on_progress=None, **options):
        Path(path).write_bytes(b"an mp4")  # the plan is what these tests are about
        nothing_measured = SyncReport(fps=plan.fps, basis="beats", cuts=(), seen=0, on_beat=0, summary="")
        return SimpleNamespace(sync=nothing_measured)

    monkeypatch.setattr("media_pipeline.render.render", fake_render)


def test_the_stored_plan_frames_each_fill_shot_on_its_subject(db, tmp_path, no_render):
    clip = make_subject(tmp_path / "right.mp4", at=(0.85, 0.5), seconds=6)
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "ENERGETIC_DANCE",
                 "--duration", "5")
    job = Job.objects.get()
    assert job.status == Job.Status.COMPLETED
    segments = job.plan["segments"]
    assert segments and all(s["reframe"] == "fill" for s in segments)
    assert all(0.7 < s["focus_x"] <= 0.85 and s["focus_y"] == 0.5 for s in segments)
    assert job.plan["music_gain_db"] is not None


def test_the_stored_plan_starts_a_clip_where_it_comes_alive(db, tmp_path, no_render):
    clip = make_waking_clip(tmp_path / "wakes.mp4", still_for=6.0, seconds=10.0)
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "CINEMATIC_DRAMA",
                 "--duration", "5")
    first = Job.objects.get().plan["segments"][0]
    assert first["source_in"] >= 5.5, "not the still first 10-20% of the clip"


def test_no_stored_segment_shows_a_change_of_shot_inside_a_clip(db, tmp_path, no_render):
    cuts = (1.4, 2.3, 3.7, 5.2)  # each between two keyframes (one a second), as an editor's export has them
    clip = make_montage(tmp_path / "montage.mp4", cuts=cuts, seconds=7.0)
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "ENERGETIC_DANCE",
                 "--duration", "5")
    for s in Job.objects.get().plan["segments"]:
        assert not [c for c in cuts if s["source_in"] + 0.04 < c < s["source_out"] - 0.04], s


def test_a_hung_render_fails_the_job_after_render_stall_s_with_a_message(db, tmp_path, monkeypatch, settings):
    from media_pipeline.errors import RenderStalled

    settings.RENDER_STALL_S = 7
    seen: dict = {}

    def hung_render(plan, path, on_progress=None, **options):
        seen.update(options)
        raise RenderStalled("ffmpeg made no progress for 7 s (stuck at 3.2 s of the video) and was stopped")

    monkeypatch.setattr("media_pipeline.render.render", hung_render)
    clip = make_subject(tmp_path / "clip.mp4", at=(0.5, 0.5), seconds=6)
    song = make_song(tmp_path / "song.wav", seconds=8)
    with pytest.raises(CommandError, match="no progress for 7 s"):
        call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "CLEAN_VLOG", "--duration", "5",
                     "--output", str(tmp_path / "out.mp4"))
    assert seen["stall_timeout"] == 7
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED
    assert "no progress for 7 s" in job.error_message
    assert not (tmp_path / "out.mp4").exists()


def test_where_each_cut_came_out_is_stored_with_the_plan_served_by_the_api_and_said_on_the_page(
    db, tmp_path, monkeypatch, client
):
    from media_pipeline import render as render_module

    real_render = render_module.render

    def small_render(plan, path, on_progress=None, **options):
        # The real renderer and its sync check, on a small frame so the test stays quick.
        return real_render(replace(plan, width=180, height=320), path, on_progress, **options)

    monkeypatch.setattr("media_pipeline.render.render", small_render)
    clips = [make_subject(tmp_path / "a.mp4", at=(0.3, 0.5), seconds=6), make_waking_clip(tmp_path / "b.mp4")]
    song = make_song(tmp_path / "song.wav", seconds=8)
    call_command("render_job", "--video", str(clips[0]), "--video", str(clips[1]), "--music", str(song),
                 "--style", "ENERGETIC_DANCE", "--duration", "5")
    job = Job.objects.get()
    assert job.status == Job.Status.COMPLETED
    output = ffmpeg.ffprobe_json(str(job.output_video.path))
    assert output["streams"][0]["codec_name"] == "h264"
    sync = job.plan["sync"]
    cuts = len(job.plan["segments"]) - 1
    assert cuts >= 4 and len(sync["cuts"]) == cuts
    assert sync["basis"] == "beats" and sync["summary"] == f"{sync['on_beat']} of {cuts} cuts on the beat"
    assert all(abs(c["off_plan"]) <= c["tolerance"] for c in sync["cuts"] if c["measured"] is not None)
    assert client.get(f"/api/jobs/{job.id}/plan").json()["sync"] == sync
    page = client.get(f"/jobs/{job.id}").content.decode()
    assert f'<p class="meta sync" id="sync">{sync["summary"]}</p>' in page
