import threading

import pytest
from django.db import connection

from jobs import services
from jobs.models import Job

S = Job.Status


def test_a_pending_job_is_claimed_once(make_job):
    job = make_job()
    first = services.job_claim(job.id)
    second = services.job_claim(job.id)
    assert first is not None and first.status == S.PROCESSING
    assert second is None
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.started_at is not None and job.heartbeat_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_a_job_produce_one_winner():
    if connection.vendor == "sqlite":
        pytest.skip("the in-memory SQLite test database is not shared between threads")
    job = Job.objects.create(style="CLEAN_VLOG", status=S.PENDING)
    barrier = threading.Barrier(4)
    results = []

    def worker():
        barrier.wait()
        results.append(services.job_claim(job.id) is not None)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert Job.objects.get(id=job.id).attempts == 1


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED, S.UPLOADING])
def test_a_job_that_is_not_queued_cannot_be_claimed(make_job, status):
    job = make_job(status=status)
    assert services.job_claim(job.id) is None
    job.refresh_from_db()
    assert job.status == status and job.attempts == 0


def test_a_job_whose_worker_is_alive_cannot_be_claimed_again(make_job):
    job = make_job(status=S.PROCESSING, heartbeat_age=5, attempts=1)
    assert services.job_claim(job.id) is None
    assert Job.objects.get(id=job.id).attempts == 1


def test_a_job_whose_worker_died_is_claimed_again(make_job, settings):
    job = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=1)
    claimed = services.job_claim(job.id)
    assert claimed is not None and claimed.attempts == 2


def test_a_job_that_keeps_killing_its_worker_is_given_up(make_job, settings):
    job = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 5, attempts=settings.RENDER_MAX_ATTEMPTS)
    assert services.job_claim(job.id) is None
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert "interrupted too many times" in job.error_message
