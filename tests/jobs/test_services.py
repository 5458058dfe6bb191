"""Services outside the worker: a job is queued only once it is committed, and the sweep rescues and tidies."""

import os
import time
import uuid
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from django_q.models import Schedule

from jobs import services
from jobs.models import Audio, Job, Visual

S = Job.Status


# ---------------------------------------------------------------- queueing


def test_creating_a_job_enqueues_it_only_after_commit(make_job, enqueued, django_capture_on_commit_callbacks):
    job = make_job()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.job_enqueue(job.id)
    assert enqueued == []
    callbacks[0]()
    assert enqueued == [("jobs.tasks.render_next",)]


# ---------------------------------------------------------------- retrying


RETRIES = {
    "a failed job": (dict(status=S.FAILED), (True, "queued again")),
    "a finished job": (dict(status=S.COMPLETED), (True, "queued again")),
    "a job whose worker died": (dict(status=S.PROCESSING, heartbeat_age=10_000), (True, "queued again")),
    "a queued job no worker took": (dict(status=S.PENDING, heartbeat_age=10_000), (True, "queued again")),
    "a job a live worker renders": (dict(status=S.PROCESSING, heartbeat_age=2), (False, "a worker is rendering it right now")),
    "a job still uploading": (dict(status=S.UPLOADING), (False, "its files are still being uploaded")),
    "a job queued a moment ago": (dict(status=S.PENDING), (False, "it is already queued")),
}


@pytest.mark.parametrize("job, answer", RETRIES.values(), ids=RETRIES.keys())
def test_a_retry_queues_an_ended_or_stuck_job_and_says_why_it_will_not_queue_the_others(make_job, enqueued, job, answer):
    job = make_job(**job)
    assert services.job_retry(job.id, enqueue=False) == answer
    assert (Job.objects.get(id=job.id).status == S.PENDING) is (answer[0] or job.status == S.PENDING)
    assert enqueued == []


def test_a_retry_of_a_job_that_does_not_exist_says_so(db):
    assert services.job_retry(uuid.uuid4()) == (False, "no such job")


# ---------------------------------------------------------------- the sweep


def migrated_sweep_schedule() -> Schedule:
    """The sweep's schedule as migrations 0002 and 0005 leave it. A transactional test's flush empties the table
    (on a pytest-xdist worker such a test may run first): then those two migrations' data steps run again."""
    if not Schedule.objects.filter(func="jobs.tasks.sweep").exists():
        for name in ("0002_sweep_schedule", "0005_sweep_on_housekeeping"):
            for operation in import_module(f"jobs.migrations.{name}").Migration.operations:
                operation.code(django_apps, None)
    return Schedule.objects.get(func="jobs.tasks.sweep")


def test_the_sweep_is_scheduled_every_minute_on_the_housekeeping_cluster(db, settings):
    schedule = migrated_sweep_schedule()
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert schedule.cluster == settings.HOUSEKEEPING_CLUSTER == "housekeeping"


def test_a_sweep_run_makes_a_pass_every_sweep_every_s_until_the_next_run_is_due(monkeypatch, settings):
    from jobs import tasks

    settings.SWEEP_EVERY_S = 20
    clock = {"now": 0.0}
    monkeypatch.setattr("jobs.tasks.time.monotonic", lambda: clock["now"])
    monkeypatch.setattr("jobs.tasks.time.sleep", lambda seconds: clock.__setitem__("now", clock["now"] + seconds))
    monkeypatch.setattr("jobs.services.job_sweep", lambda: {"requeued": 1})
    monkeypatch.setattr("jobs.tasks.close_old_connections", lambda: None)  # no database here
    monkeypatch.setattr("jobs.tasks.deliver_callbacks", lambda: 1)
    # at 0, 20 and 40 s; the next run starts at 60 s
    assert tasks.sweep() == {"requeued": 3, "callbacks_delivered": 3}


def test_the_sweep_wakes_a_worker_for_a_job_whose_worker_died(make_job, enqueued, settings):
    make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 30, attempts=1)
    alive = make_job(status=S.PROCESSING, heartbeat_age=2, attempts=1)
    assert services.job_sweep()["requeued"] == 1
    assert enqueued == [("jobs.tasks.render_next",)]
    assert Job.objects.get(id=alive.id).status == S.PROCESSING


def test_the_sweep_wakes_workers_for_queued_jobs_left_without_a_wake_up_a_few_seconds_on(make_job, enqueued):
    make_job(heartbeat_age=services.WAKE_AFTER_S + 1)
    make_job(heartbeat_age=services.WAKE_AFTER_S + 1)
    make_job()  # its own wake-up is on its way
    assert services.job_sweep()["requeued"] == 2
    assert len(enqueued) == 2


def test_the_sweep_adds_no_wake_up_while_enough_wait_untaken(make_job, enqueued, monkeypatch):
    make_job(heartbeat_age=services.WAKE_AFTER_S + 1)
    make_job(heartbeat_age=services.WAKE_AFTER_S + 1)
    monkeypatch.setattr("jobs.wakeups.untaken", lambda: 2)
    assert services.job_sweep()["requeued"] == 0


def test_the_sweep_forgets_workers_silent_for_an_hour(db, enqueued):
    from jobs.models import Worker

    now = timezone.now()
    Worker.objects.create(host="gone", pid=1, last_seen=now - timedelta(hours=2))
    Worker.objects.create(host="here", pid=2, last_seen=now)
    assert services.job_sweep()["workers_forgotten"] == 1
    assert list(Worker.objects.values_list("host", flat=True)) == ["here"]


def test_the_sweep_removes_uploads_whose_request_died_with_their_files(make_job, media_root, enqueued):
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

    assert services.job_sweep() == {
        "requeued": 0, "abandoned_uploads": 1, "temp_files": 1, "workers_forgotten": 0, "expired_jobs": 0,
        "freed_bytes": 0,
    }
    assert list(Job.objects.values_list("id", flat=True)) == [recent.id]
    assert not (media_root / "jobs" / str(old.id)).exists()
    assert not stray.exists() and fresh.exists()


# ---------------------------------------------------------------- deleting


def stored(media_root, name: str, size: int = 10) -> str:
    (media_root / name).parent.mkdir(parents=True, exist_ok=True)
    (media_root / name).write_bytes(b"x" * size)
    return name


def on_files(job: Job, media_root, inputs: list[str] | None = None) -> Job:
    """The job with clip and song rows naming `inputs` (by default files of its own), and a render and a poster
    in its folder."""
    inputs = inputs or [stored(media_root, f"jobs/{job.id}/visual-1.mp4"), stored(media_root, f"jobs/{job.id}/music.mp3")]
    output, poster = stored(media_root, f"jobs/{job.id}/out.mp4"), stored(media_root, f"jobs/{job.id}/poster.jpg")
    Job.objects.filter(id=job.id).update(output_video=output, poster=poster)
    Visual.objects.create(job=job, file=inputs[0], original_name="a.mp4", file_size=10, file_type="video")
    Audio.objects.create(job=job, file=inputs[1], original_name="s.mp3", file_size=10)
    return Job.objects.get(id=job.id)


DELETES = {
    "a finished job": (S.COMPLETED, (True, "deleted")),
    "a failed job": (S.FAILED, (True, "deleted")),
    "a queued job": (S.PENDING, (True, "deleted")),
    "a job being rendered": (S.PROCESSING, (False, "a worker is rendering it right now")),
    "a job being uploaded": (S.UPLOADING, (False, "its files are still being uploaded")),
}


@pytest.mark.parametrize("status, answer", DELETES.values(), ids=DELETES.keys())
def test_a_delete_removes_an_ended_or_queued_job_at_once_and_refuses_one_in_progress(
    make_job, media_root, status, answer
):
    job = on_files(make_job(status=status), media_root)
    assert services.job_delete(job.id) == answer
    assert Job.objects.filter(id=job.id).exists() is not answer[0]
    assert (media_root / "jobs" / str(job.id)).exists() is not answer[0]


def test_a_delete_of_a_job_that_does_not_exist_says_so(db):
    assert services.job_delete(uuid.uuid4()) == (False, "no such job")


@pytest.mark.parametrize("delete", ["service", "orm"], ids=["through job_delete", "through the admin or a cascade"])
def test_shared_input_files_survive_deleting_one_of_two_jobs_and_go_with_the_last(
    make_job, media_root, delete, django_capture_on_commit_callbacks
):
    first = on_files(make_job(status=S.COMPLETED), media_root)
    inputs = [first.visuals.get().file.name, first.audio.file.name]
    remix = on_files(make_job(status=S.COMPLETED, remixed_from=first), media_root, inputs)

    def remove(job: Job) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.job_delete(job.id) if delete == "service" else Job.objects.get(id=job.id).delete()

    remove(first)
    assert all((media_root / name).is_file() for name in inputs)
    assert not (media_root / first.output_video.name).exists()
    assert (media_root / remix.output_video.name).is_file()
    remove(remix)
    assert not any((media_root / name).exists() for name in inputs)
    assert not (media_root / "jobs" / str(first.id)).exists() and not (media_root / "jobs" / str(remix.id)).exists()
    assert (media_root / "jobs").is_dir()  # only job folders are removed


def test_deleting_a_job_deletes_each_file_through_its_storage_never_by_folder(make_job, media_root, monkeypatch):
    from django.core.files.storage import default_storage

    job = on_files(make_job(status=S.FAILED), media_root)
    inputs = [job.visuals.get().file.name, job.audio.file.name]
    deleted: list[str] = []
    real = type(default_storage._wrapped).delete
    monkeypatch.setattr(type(default_storage._wrapped), "delete", lambda self, name: (deleted.append(name), real(self, name)))
    monkeypatch.setattr("shutil.rmtree", lambda *a, **k: pytest.fail("a job folder was removed by path"))
    services.job_delete(job.id)
    assert sorted(set(deleted)) == sorted([*inputs, f"jobs/{job.id}/out.mp4", f"jobs/{job.id}/poster.jpg"])


def refuse_to_delete(monkeypatch, name_part: str) -> None:
    """The storage refuses to delete files whose name contains `name_part` (a bucket out of reach)."""
    from django.core.files.storage import default_storage

    real = type(default_storage._wrapped).delete

    def delete(self, name):
        if name_part in name:
            raise ConnectionError("the bucket did not answer")
        real(self, name)

    monkeypatch.setattr(type(default_storage._wrapped), "delete", delete)


def test_a_job_whose_files_the_storage_refuses_is_kept_for_another_try(make_job, media_root, monkeypatch):
    from jobs.stored_files import NotDeleted

    job = on_files(make_job(status=S.FAILED), media_root)
    refuse_to_delete(monkeypatch, "music")
    with pytest.raises(NotDeleted, match="music.mp3"):
        services.job_delete(job.id)
    assert Job.objects.filter(id=job.id).exists() and Audio.objects.filter(job=job).exists()
    monkeypatch.undo()
    assert services.job_delete(job.id) == (True, "deleted")
    assert not (media_root / "jobs" / str(job.id)).exists()


def test_the_purge_keeps_a_job_whose_files_the_storage_refuses_and_goes_on(make_job, media_root, monkeypatch):
    stuck, other = on_files(make_job(status=S.FAILED), media_root), on_files(make_job(status=S.FAILED), media_root)
    refuse_to_delete(monkeypatch, str(stuck.id))
    freed = services.job_purge(timedelta(0))
    assert freed.jobs == 1
    assert list(Job.objects.values_list("id", flat=True)) == [stuck.id]
    assert not (media_root / "jobs" / str(other.id)).exists()
