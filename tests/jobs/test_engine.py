"""The job engine: probe, beats, plan, framing and loudness end up in the plan stored on the job."""

from pathlib import Path

import pytest
from django.core.management import call_command

from jobs.models import Job
from media_pipeline import ffmpeg
from tests.media_factory import make_song, make_subject

pytestmark = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


def test_the_stored_plan_frames_each_fill_shot_on_its_subject(db, tmp_path, monkeypatch):
    def fake_render(plan, path, on_progress=None, **options):
        Path(path).write_bytes(b"an mp4")  # the plan is what this test is about

    monkeypatch.setattr("media_pipeline.render.render", fake_render)
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
