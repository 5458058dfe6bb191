import os
import time
from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule

from jobs import services
from jobs.models import Job

S = Job.Status


def test_the_sweep_is_scheduled_every_minute(db):
    schedule = Schedule.objects.get(func="jobs.tasks.sweep")
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_it_hands_a_job_whose_worker_died_back_to_the_queue(make_job, enqueued, settings):
    dead = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 30, attempts=1)
    alive = make_job(status=S.PROCESSING, heartbeat_age=2, attempts=1)
    assert services.job_sweep()["requeued"] == 1
    assert enqueued == [("jobs.tasks.render_job", str(dead.id))]
    assert Job.objects.get(id=alive.id).status == S.PROCESSING


def test_it_removes_uploads_whose_request_died_with_their_files(make_job, media_root, enqueued):
    old = make_job(status=S.UPLOADING)
    Job.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(hours=2))
    (media_root / "jobs" / str(old.id)).mkdir(parents=True)
    (media_root / "jobs" / str(old.id) / "visual-1.mp4").write_bytes(b"half")
    recent = make_job(status=S.UPLOADING)
    stray = media_root / "tmp" / "upload-abc"
    stray.parent.mkdir()
    stray.write_bytes(b"x")
    an_hour_ago = time.time() - 2 * 3600
    os.utime(stray, (an_hour_ago, an_hour_ago))
    fresh = media_root / "tmp" / "upload-now"
    fresh.write_bytes(b"y")

    assert services.job_sweep() == {"requeued": 0, "abandoned_uploads": 1, "temp_files": 1}
    assert list(Job.objects.values_list("id", flat=True)) == [recent.id]
    assert not (media_root / "jobs" / str(old.id)).exists()
    assert not stray.exists() and fresh.exists()
