"""Abuse limits counted from the Job table: uploads an hour and unfinished jobs per client, refused with
429 and Retry-After before any of the body is stored."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import quotas, uploads
from jobs.models import Job
from tests.jobs.uploading import post_job

S = Job.Status
ADDRESS = "198.51.100.20"


@pytest.fixture
def jobs_from(db):
    def make(count, address=ADDRESS, status=S.COMPLETED, age=timedelta(minutes=5)):
        made = [Job.objects.create(style="CLEAN_VLOG", status=status, client_address=address) for _ in range(count)]
        Job.objects.filter(id__in=[job.id for job in made]).update(created_at=timezone.now() - age)
        return made

    return make


def test_a_client_under_both_limits_may_upload(settings, jobs_from):
    settings.UPLOADS_PER_HOUR, settings.MAX_QUEUED_PER_CLIENT = 4, 2
    jobs_from(2)
    jobs_from(1, status=S.PENDING)
    assert quotas.upload_refusal(ADDRESS) is None


def test_the_hourly_limit_says_when_the_oldest_upload_of_the_hour_frees_a_place(settings, jobs_from):
    settings.UPLOADS_PER_HOUR = 3
    jobs_from(1, age=timedelta(minutes=50))
    jobs_from(2, age=timedelta(minutes=5))
    jobs_from(5, age=timedelta(minutes=61))  # outside the hour
    jobs_from(5, address="198.51.100.21")  # another client
    refusal = quotas.upload_refusal(ADDRESS)
    assert refusal.reason == "rate_limited"
    assert 590 <= refusal.retry_after <= 601  # the 50-minute-old upload leaves the hour in 10 minutes
    assert refusal.detail == "Too many videos started from your address: at most 3 an hour (uploads and remixes). Try again in 10 minutes."


def test_unfinished_jobs_past_the_limit_are_refused_until_one_ends(settings, jobs_from):
    settings.MAX_QUEUED_PER_CLIENT = 2
    jobs_from(1, status=S.PENDING)
    jobs_from(1, status=S.PROCESSING)
    refusal = quotas.upload_refusal(ADDRESS)
    assert refusal.reason == "queue_full"
    assert refusal.retry_after == quotas.QUEUE_RETRY_AFTER_S
    assert "Try again when one has finished" in refusal.detail


def test_a_limit_of_zero_is_no_limit(settings, jobs_from):
    settings.UPLOADS_PER_HOUR = settings.MAX_QUEUED_PER_CLIENT = 0
    jobs_from(50, status=S.PENDING)
    assert quotas.upload_refusal(ADDRESS) is None


def test_an_upload_over_the_rate_answers_429_with_retry_after_and_leaves_no_file(
    client, settings, jobs_from, clip_and_song, media_root, monkeypatch
):
    settings.UPLOADS_PER_HOUR = 2
    jobs_from(2, address="127.0.0.1")
    staged = []
    monkeypatch.setattr(uploads, "StagedFile", lambda *args: staged.append(args))
    response = post_job(client, clip_and_song)
    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many videos started from your address")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert staged == []  # decided before any of the body was stored
    assert Job.objects.count() == 2
    assert [path for path in media_root.rglob("*") if path.is_file()] == []


def test_uploads_are_stamped_with_their_client_and_counted_against_it(client, settings, clip_and_song, db):
    settings.MAX_QUEUED_PER_CLIENT = 2
    assert post_job(client, clip_and_song).status_code == 200
    assert post_job(client, clip_and_song).status_code == 200
    third = post_job(client, clip_and_song)
    assert third.status_code == 429
    assert "at most 2 at a time" in third.json()["detail"]
    assert list(Job.objects.values_list("client_address", flat=True)) == ["127.0.0.1", "127.0.0.1"]
    # another client (its address given by our one trusted proxy) is not held back by the first one's jobs
    settings.TRUSTED_PROXY_COUNT = 1
    assert post_job(client, clip_and_song, HTTP_X_FORWARDED_FOR="198.51.100.30").status_code == 200


def test_the_page_shows_the_limit_as_a_form_error(client, settings, jobs_from, clip_and_song):
    settings.MAX_QUEUED_PER_CLIENT = 1
    jobs_from(1, address="127.0.0.1", status=S.PENDING)
    clip, song = clip_and_song
    with open(clip, "rb") as video, open(song, "rb") as music:
        response = client.post("/", {"style": "CLEAN_VLOG", "videos": video, "music": music}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Try again when one has finished" in response.content.decode()


def test_uploads_sent_side_by_side_are_counted_again_once_their_job_exists(
    client, settings, jobs_from, clip_and_song, media_root, monkeypatch
):
    settings.MAX_QUEUED_PER_CLIENT = 1
    # This upload passed the early check before another of the client's uploads made its job row.
    monkeypatch.setattr(quotas, "upload_refusal", lambda *args, **kwargs: None)
    jobs_from(1, address="127.0.0.1", status=S.UPLOADING)
    response = post_job(client, clip_and_song)
    assert response.status_code == 429
    assert "at most 1 at a time" in response.json()["detail"]
    assert Job.objects.count() == 1
    assert [path for path in media_root.rglob("*") if path.is_file()] == []


def test_a_refused_upload_is_counted_by_its_reason(client, settings, jobs_from, clip_and_song, monkeypatch):
    from jobs import metrics

    counted = []
    monkeypatch.setattr(metrics, "upload_refused", counted.append)
    settings.MAX_QUEUED_PER_CLIENT = 1
    jobs_from(1, address="127.0.0.1", status=S.PENDING)
    assert post_job(client, clip_and_song).status_code == 429
    assert counted == ["queue_full"]
