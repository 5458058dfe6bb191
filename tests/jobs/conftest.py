from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.models import Job


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
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: calls.append(args))
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
