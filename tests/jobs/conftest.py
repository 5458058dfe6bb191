import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.models import Audio, Job, Visual
from jobs.ownership import SESSION_KEY
from jobs.worker import output_name
from tests.media_factory import make_clip, make_song


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BEAT_CACHE_DIR = tmp_path / "media" / "cache" / "beats"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple]:
    """Records what would be handed to django-q2 instead of queueing it."""
    calls: list[tuple] = []
    monkeypatch.setattr("jobs.wakeups.async_task", lambda *args, **kwargs: calls.append(args))
    return calls


@pytest.fixture
def make_job(db):
    def make(status=Job.Status.PENDING, heartbeat_age: float | None = None, **fields) -> Job:
        job = Job.objects.create(style=fields.pop("style", "CLEAN_VLOG"), status=status, **fields)
        if heartbeat_age is not None:
            Job.objects.filter(id=job.id).update(
                heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age),
                updated_at=timezone.now() - timedelta(seconds=heartbeat_age),
            )
            job.refresh_from_db()
        return job

    return make


@pytest.fixture
def own(db):
    """Make a test client the browser that made a job: an owner key in its session, the key's hash on the job."""

    def own(client, job: Job) -> Job:
        session = client.session
        secret = session.get(SESSION_KEY) or secrets.token_urlsafe(16)
        session[SESSION_KEY] = secret
        session.save()
        Job.objects.filter(id=job.id).update(owner_key=hashlib.sha256(secret.encode()).hexdigest())
        job.refresh_from_db()
        return job

    return own


@pytest.fixture(scope="session")
def rendered_mp4(tmp_path_factory) -> Path:
    """A small real MP4 with picture and sound, standing in for a render."""
    return make_clip(tmp_path_factory.mktemp("render") / "render.mp4", seconds=2.0, audio=True)


@pytest.fixture
def completed_job(make_job, media_root, rendered_mp4) -> Job:
    job = make_job(status=Job.Status.COMPLETED, style="ENERGETIC_DANCE", progress=100, current_step="Done")
    target = media_root / output_name(job)
    target.parent.mkdir(parents=True)
    target.write_bytes(rendered_mp4.read_bytes())
    Job.objects.filter(id=job.id).update(output_video=output_name(job))
    job.refresh_from_db()
    return job


@pytest.fixture(scope="session")
def clip_and_song(tmp_path_factory) -> tuple[Path, Path]:
    """A 1 s clip and a 4 s song, made once: what tests/jobs/uploading.post_job sends."""
    folder = tmp_path_factory.mktemp("clip-and-song")
    return make_clip(folder / "clip.mp4", seconds=1.0), make_song(folder / "song.mp3", seconds=4.0)


@pytest.fixture
def store_inputs(media_root):
    """Gives a job a stored photo and song (tiny stand-in bytes) and their rows; returns the job's folder."""

    def store(job: Job) -> Path:
        folder = media_root / "jobs" / str(job.id)
        folder.mkdir(parents=True)
        (folder / "visual-1.jpg").write_bytes(b"picture")
        Visual.objects.create(job=job, file=f"jobs/{job.id}/visual-1.jpg", original_name="me.jpg", file_size=7,
                              width=640, height=360, file_type="image")
        (folder / "music.mp3").write_bytes(b"song")
        Audio.objects.create(job=job, file=f"jobs/{job.id}/music.mp3", original_name="song.mp3", file_size=4, duration=9.0)
        return folder

    return store
