"""Disk space as a resource: uploads keep MIN_FREE_DISK_MB free (507, in plain words), a worker leaves a job
queued when it has no room to render it, and a disk that fills mid-upload or mid-render loses nothing."""

import subprocess
from pathlib import Path

import pytest

from jobs import disk, services, uploads, worker
from jobs.models import Job
from media_pipeline import ffmpeg
from tests.jobs.uploading import post_job

S = Job.Status
needs_ffmpeg = pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.fixture
def small_disk(tmp_path, settings):
    """MEDIA_ROOT on its own 20 MB tmpfs (as root), so writes meet a real ENOSPC."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    settings.MEDIA_ROOT = folder / "media"
    settings.BEAT_CACHE_DIR = settings.MEDIA_ROOT / "cache" / "beats"
    settings.MEDIA_ROOT.mkdir()
    settings.MIN_FREE_DISK_MB = 0
    try:
        yield settings.MEDIA_ROOT
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem holding `folder` until about `leave` bytes are free."""
    filler = folder / "filler.bin"
    with open(filler, "wb") as out:
        while (free := disk.free_bytes(folder) - leave) > 0:
            out.write(b"\0" * min(free, 1024 * 1024))
            out.flush()
    return filler


# ---------------------------------------------------------------- uploads


def test_an_upload_that_would_leave_too_little_free_is_refused_507_before_storing(
    client, db, clip_and_song, media_root, settings, monkeypatch
):
    settings.MIN_FREE_DISK_MB = 1024
    monkeypatch.setattr(disk, "free_bytes", lambda path: 1024 * disk.MB + 100_000)  # the upload is larger
    staged = []
    monkeypatch.setattr(uploads, "StagedFile", lambda *args: staged.append(args))
    response = post_job(client, clip_and_song)
    assert response.status_code == 507
    assert response.json()["detail"] == disk.UPLOAD_DISK_FULL
    assert str(media_root) not in response.content.decode()
    assert staged == [] and Job.objects.count() == 0
    assert files_under(media_root) == []


def test_the_page_says_the_disk_is_full_as_a_form_error(client, db, clip_and_song, settings, monkeypatch):
    monkeypatch.setattr(disk, "free_bytes", lambda path: 0)
    response = post_job(client, clip_and_song, url="/", HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "out of storage space" in response.content.decode()


def test_a_disk_that_fills_during_the_upload_answers_507_and_keeps_no_temporary(client, db, clip_and_song, small_disk):
    filler = fill(small_disk, leave=20_000)  # less than the clip
    response = post_job(client, clip_and_song)
    assert response.status_code == 507, response.content
    assert response.json()["detail"] == disk.UPLOAD_DISK_FULL
    assert Job.objects.count() == 0
    assert files_under(small_disk) == [filler]


@needs_ffmpeg
def test_a_disk_that_fills_while_the_files_are_kept_answers_507_and_keeps_nothing(
    client, db, clip_and_song, media_root, monkeypatch
):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(media_root / "jobs" / "x"))

    monkeypatch.setattr(services, "_store_files", full)
    response = post_job(client, clip_and_song)
    assert response.status_code == 507
    assert response.json()["detail"] == disk.UPLOAD_DISK_FULL
    assert Job.objects.count() == 0
    assert files_under(media_root) == []


# ---------------------------------------------------------------- renders


def test_a_worker_without_room_for_the_render_leaves_the_job_queued(make_job, monkeypatch):
    job = make_job(duration=60)
    asked = []
    monkeypatch.setattr(disk, "free_bytes", lambda path: asked.append(path) or disk.render_need_bytes(60) - 1)
    assert worker.run_next() is None
    job.refresh_from_db()
    assert job.status == S.PENDING and job.attempts == 0
    assert asked
    monkeypatch.setattr(disk, "free_bytes", lambda path: disk.render_need_bytes(60))
    monkeypatch.setattr(worker, "_engine", lambda: lambda job, reporter: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        worker.run_next()  # with room it is claimed (and this stand-in engine crashes it)
    assert Job.objects.get(id=job.id).attempts == 1


def test_a_full_disk_raised_by_the_render_fails_the_job_in_plain_words(make_job, media_root, monkeypatch):
    queued = make_job()

    def engine(job, reporter):
        raise OSError(28, "No space left on device", str(media_root / "scratch" / "part.mp4"))

    monkeypatch.setattr(worker, "_engine", lambda: engine)
    ended = worker.run_next()  # returns: the worker goes on to its next job
    assert ended.id == queued.id and ended.status == S.FAILED
    assert ended.error_message == disk.RENDER_DISK_FULL
    assert "/" not in ended.error_message


@needs_ffmpeg
@pytest.mark.render
def test_a_render_that_fills_the_disk_fails_plainly_and_leaves_no_partial_file(db, small_disk, clip_and_song, monkeypatch):
    clip, song = clip_and_song
    job = services.job_create(
        visuals=[services.SourceFile(name="clip.mp4", path=clip)], music=services.SourceFile(name="song.mp3", path=song),
        style="CLEAN_VLOG", duration=5, enqueue=False,
    )
    stored = set(files_under(small_disk))
    monkeypatch.setattr(disk, "render_fits", lambda duration: True)  # another process fills the disk meanwhile
    filler = fill(small_disk, leave=300_000)
    ended = worker.run(job.id)
    assert ended.status == S.FAILED
    assert ended.error_message == disk.RENDER_DISK_FULL, ended.error_message
    cache = Path(small_disk / "cache")  # the analysis caches are kept on purpose
    left = {path for path in files_under(small_disk) if cache not in path.parents} - {filler}
    assert left <= stored  # nothing of the render is left: no partial MP4, no scratch
    assert not ended.output_video
