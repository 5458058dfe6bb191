"""The finished video's poster: made by the worker after a real render, stored beside the video, served by
GET /api/jobs/<id>/poster and shown by the job page's <video>, the recent-jobs list and the admin."""

import hashlib
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.test import Client

from jobs.models import Job
from jobs.ownership import SESSION_KEY
from media_pipeline import ffmpeg
from tests.media_factory import make_clip, make_song

needs_ffmpeg = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


def jpeg_size(path: Path) -> tuple[int, int]:
    probe = subprocess.run(
        [ffmpeg.FFPROBE, "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True, text=True, check=True,
    )
    (stream,) = json.loads(probe.stdout)["streams"]
    assert stream["codec_name"] == "mjpeg"
    return stream["width"], stream["height"]


@pytest.fixture
def rendered(db, tmp_path, media_root) -> Job:
    clip = make_clip(tmp_path / "clip.mp4", width=640, height=360, seconds=3.0, pattern="testsrc")
    song = make_song(tmp_path / "song.wav", bpm=120, seconds=8.0)
    call_command("render_job", "--video", str(clip), "--music", str(song), "--style", "CLEAN_VLOG",
                 "--duration", "5", "--aspect", "9:16")
    return Job.objects.get()


@needs_ffmpeg
@pytest.mark.render
def test_a_finished_job_has_a_small_jpeg_poster_stored_beside_its_video(rendered, media_root):
    assert rendered.status == Job.Status.COMPLETED
    assert rendered.poster.name == rendered.output_video.name.removesuffix(".mp4") + ".jpg"
    stored = media_root / rendered.poster.name
    assert stored.is_file() and 5_000 < stored.stat().st_size < 200_000
    assert jpeg_size(stored) == (540, 960)
    assert not list(stored.parent.glob(".*")), "no partial file left behind"

    response = Client().get(f"/api/jobs/{rendered.id}/poster")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == stored.read_bytes()
    page = Client().get(f"/jobs/{rendered.id}").content.decode()
    assert f'poster="/api/jobs/{rendered.id}/poster"' in page
    assert Client().get(f"/api/jobs/{rendered.id}").json()["poster_url"] == f"http://testserver/api/jobs/{rendered.id}/poster"


@needs_ffmpeg
def test_a_poster_that_cannot_be_made_is_left_out_rather_than_failing_the_job(tmp_path, make_job):
    from jobs import worker

    not_a_video = tmp_path / "cutline-x.mp4"
    not_a_video.write_bytes(b"not a video: no frame to take a poster from")
    plan = SimpleNamespace(segments=(), duration=5.0)  # poster_time needs only these without segments
    assert worker.poster(plan, not_a_video, tmp_path / "cutline-x.jpg") == {}
    assert not list(tmp_path.glob("*.jpg")) and not list(tmp_path.glob(".*"))
    assert worker.poster_name(make_job()).endswith(".jpg")


def test_a_job_without_a_poster_answers_404_and_its_page_has_none(client, completed_job):
    response = client.get(f"/api/jobs/{completed_job.id}/poster")
    assert response.status_code == 404 and response.json()["detail"]
    assert 'poster="' not in client.get(f"/jobs/{completed_job.id}").content.decode()


def test_an_unknown_jobs_poster_is_404(client, db):
    assert client.get("/api/jobs/not-a-job/poster").json() == {"detail": "Job not found"}


@pytest.fixture
def with_poster(make_job, media_root, rendered_mp4):
    job = make_job(status=Job.Status.COMPLETED, owner_key=hashlib.sha256(b"mine").hexdigest())
    name = f"jobs/{job.id}/cutline-{job.id.hex[:8]}.jpg"
    (media_root / name).parent.mkdir(parents=True)
    (media_root / name).write_bytes(b"\xff\xd8 a jpeg")
    Job.objects.filter(id=job.id).update(poster=name)
    return job


def test_the_recent_jobs_list_shows_each_poster_as_a_thumbnail(client, with_poster):
    session = client.session
    session[SESSION_KEY] = "mine"
    session.save()
    page = client.get("/jobs/").content.decode()
    assert f'<img src="/api/jobs/{with_poster.id}/poster"' in page


def test_the_admin_shows_the_poster_in_the_list_and_on_the_job(admin_client, with_poster):
    listing = admin_client.get(_admin_url("changelist")).content.decode()
    assert f'src="/api/jobs/{with_poster.id}/poster"' in listing
    detail = admin_client.get(_admin_url("change", with_poster.id)).content.decode()
    assert f'src="/api/jobs/{with_poster.id}/poster"' in detail


def _admin_url(view: str, *args) -> str:
    from django.urls import reverse

    return reverse(f"admin:jobs_job_{view}", args=args)
