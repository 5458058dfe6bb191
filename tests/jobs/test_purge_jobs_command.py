"""manage.py purge_jobs: finished and failed jobs past retention go with their files (files first, then
rows); queued and rendering jobs never do; --dry-run deletes nothing; a bad age is one line and exit 1."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs import services, stored_files
from jobs.models import Audio, Job, Visual, job_dir

S = Job.Status
MB = 1024 * 1024


@pytest.fixture
def job_with_files(make_job, media_root):
    """A job whose clip, song and render are on disk (1, 2 and 3 MB), ended `days` ago."""

    def make(status=S.COMPLETED, days: float = 10, **fields) -> Job:
        job = make_job(status=status, **fields)
        folder = media_root / job_dir(job.id)
        folder.mkdir(parents=True)
        for name, size in (("visual-1.mp4", 1), ("music.mp3", 2), ("out.mp4", 3)):
            (folder / name).write_bytes(b"x" * size * MB)
        Visual.objects.create(job=job, file=f"{job_dir(job.id)}/visual-1.mp4", original_name="a.mp4",
                              file_size=MB, file_type="video")
        Audio.objects.create(job=job, file=f"{job_dir(job.id)}/music.mp3", original_name="s.mp3", file_size=2 * MB)
        ended = timezone.now() - timedelta(days=days)
        Job.objects.filter(id=job.id).update(
            output_video=f"{job_dir(job.id)}/out.mp4", updated_at=ended,
            completed_at=ended if status in Job.ENDED else None,
        )
        return Job.objects.get(id=job.id)

    return make


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_jobs", *args, stdout=out)
    return out.getvalue().strip()


def test_purge_deletes_jobs_past_retention_with_their_files_and_says_what_it_freed(job_with_files, media_root):
    done, failed = job_with_files(S.COMPLETED), job_with_files(S.FAILED)
    recent = job_with_files(S.COMPLETED, days=2)
    assert purge() == "Deleted 2 jobs that ended more than 7d ago; freed 12.0 MB."
    assert list(Job.objects.values_list("id", flat=True)) == [recent.id]
    for gone in (done, failed):
        assert not (media_root / job_dir(gone.id)).exists()
        assert not Visual.objects.filter(job_id=gone.id).exists()
    assert len(list((media_root / job_dir(recent.id)).iterdir())) == 3


def test_purge_never_deletes_a_queued_uploading_or_rendering_job_however_old(job_with_files, media_root):
    waiting = [job_with_files(status, days=30) for status in (S.PENDING, S.UPLOADING, S.PROCESSING)]
    assert purge("--older-than", "1d") == "Deleted 0 jobs that ended more than 1d ago; freed 0.0 MB."
    assert Job.objects.count() == 3
    assert all(len(list((media_root / job_dir(job.id)).iterdir())) == 3 for job in waiting)


def test_purge_deletes_the_files_first_then_the_row(job_with_files, monkeypatch):
    job = job_with_files()
    rows_when_files_went = []
    delete = stored_files.delete

    def spy(files):
        rows_when_files_went.append(Job.objects.filter(id=job.id).exists())
        return delete(files)

    monkeypatch.setattr("jobs.services.stored_files.delete", spy)
    purge()
    assert rows_when_files_went == [True]
    assert not Job.objects.filter(id=job.id).exists()


def test_a_dry_run_deletes_nothing_and_says_what_would_go(job_with_files, media_root):
    job = job_with_files()
    assert purge("--dry-run") == "Dry run: would delete 1 job that ended more than 7d ago and free 6.0 MB; nothing deleted."
    assert Job.objects.filter(id=job.id).exists()
    assert len(list((media_root / job_dir(job.id)).iterdir())) == 3


def test_older_than_takes_weeks_days_hours_minutes_and_seconds(job_with_files):
    job_with_files(days=0.5)
    assert purge("--older-than", "13h").startswith("Deleted 0 jobs")
    assert purge("--older-than", "11h").startswith("Deleted 1 job ")


@pytest.mark.parametrize("age", ["7", "seven days", "7x", "-1d", ""])
def test_a_bad_older_than_is_refused_in_one_line(db, age):
    with pytest.raises(CommandError, match="--older-than must be a number and a unit"):
        purge(f"--older-than={age}")


def test_a_bad_older_than_exits_non_zero_with_one_line_and_no_traceback(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "manage.py", "purge_jobs", "--older-than", "soon"], env=env,
                         cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "CommandError: --older-than must be a number and a unit (w, d, h, m or s), e.g. 7d or 12h, not 'soon'"
    ]


def test_with_retention_off_nothing_is_deleted_unless_an_age_is_given(job_with_files, settings):
    settings.JOB_RETENTION_DAYS = 0
    job_with_files(days=400)
    assert "kept forever" in purge()
    assert Job.objects.count() == 1
    assert purge("--older-than", "30d").startswith("Deleted 1 job ")


def test_the_sweep_applies_the_retention_on_its_own(job_with_files, settings, enqueued):
    settings.JOB_RETENTION_DAYS = 3
    job_with_files(days=4)
    kept = job_with_files(days=2)
    result = services.job_sweep()
    assert (result["expired_jobs"], result["freed_bytes"]) == (1, 6 * MB)
    assert list(Job.objects.values_list("id", flat=True)) == [kept.id]


def test_a_job_that_never_recorded_its_end_counts_from_its_last_change(job_with_files):
    job = job_with_files(S.FAILED)
    Job.objects.filter(id=job.id).update(completed_at=None)
    assert purge().startswith("Deleted 1 job ")


def test_the_sweep_deletes_a_backlog_oldest_first_a_pass_at_a_time(job_with_files, settings, enqueued, monkeypatch):
    monkeypatch.setattr("jobs.services.PURGE_PER_PASS", 2)
    job_with_files(days=30), job_with_files(days=20)
    old = job_with_files(days=10)
    assert services.job_sweep()["expired_jobs"] == 2
    assert list(Job.objects.values_list("id", flat=True)) == [old.id]
    assert services.job_sweep()["expired_jobs"] == 1 and not Job.objects.exists()
