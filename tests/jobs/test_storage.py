"""jobs/storage.py and jobs/scratch.py with the local file system (the default): files are moved, not
copied, read in place, and a render's scratch folder is gone once it ends. The same operations against a
real bucket are tests/jobs/test_object_storage.py."""

import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import storages

from jobs import services, worker
from jobs.models import Audio, Job, upload_temp_dir
from jobs.scratch import InputMissing, Scratch, remove_orphans, scratch_root
from jobs.storage import LocalStorage, job_storage
from media_pipeline.errors import RenderFailed

S = Job.Status


def test_the_default_storage_is_the_local_one_under_media_root(media_root):
    assert isinstance(storages["default"], LocalStorage)
    storage = job_storage()
    assert Path(storage.path("jobs/x/a.mp4")) == media_root / "jobs/x/a.mp4"
    assert storage.problem() is None


def test_keeping_a_local_file_moves_it_into_place_without_copying(media_root):
    source = upload_temp_dir() / "clip.mp4"
    source.write_bytes(b"0123456789")
    inode = source.stat().st_ino
    name = job_storage().keep(source, "jobs/abc/visual-1.mp4")
    assert name == "jobs/abc/visual-1.mp4"
    kept = media_root / name
    assert kept.read_bytes() == b"0123456789" and kept.stat().st_ino == inode
    assert not source.exists()


def test_keeping_a_file_under_a_name_already_stored_replaces_it(media_root):
    for body in (b"first", b"second"):
        source = upload_temp_dir() / "out.mp4"
        source.write_bytes(body)
        assert job_storage().keep(source, "jobs/abc/out.mp4") == "jobs/abc/out.mp4"
    assert (media_root / "jobs/abc/out.mp4").read_bytes() == b"second"
    assert os.listdir(media_root / "jobs/abc") == ["out.mp4"]


def test_a_stored_file_is_read_in_place_and_in_ranges(media_root, tmp_path):
    stored = media_root / "jobs/abc/music.wav"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(bytes(range(100)))
    storage = job_storage()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert storage.fetch("jobs/abc/music.wav", scratch) == stored
    assert list(scratch.iterdir()) == []  # nothing copied
    stat = storage.stat("jobs/abc/music.wav")
    assert stat.size == 100 and abs(stat.modified.timestamp() - stored.stat().st_mtime) < 1e-3
    part = storage.open_range("jobs/abc/music.wav", 10, 5)
    assert (part.read(), part.read()) == (bytes(range(10, 15)), b"")
    part.close()
    with pytest.raises(FileNotFoundError):
        storage.stat("jobs/abc/nothing.mp4")


def test_deleting_a_folder_removes_every_file_in_it_and_nothing_else(media_root):
    for name in ("jobs/a/visual-1.mp4", "jobs/a/music.wav", "jobs/b/music.wav"):
        (media_root / name).parent.mkdir(parents=True, exist_ok=True)
        (media_root / name).write_bytes(b"x")
    job_storage().delete_folder("jobs/a")
    assert not (media_root / "jobs/a").exists() and (media_root / "jobs/b/music.wav").is_file()
    assert job_storage().presigned_url("jobs/b/music.wav", "x.mp4") is None


# ---------------------------------------------------------------- scratch


def test_scratch_is_under_media_root_unless_scratch_dir_is_set(media_root, settings, tmp_path):
    assert scratch_root() == media_root / "scratch"
    settings.SCRATCH_DIR = str(tmp_path / "elsewhere")
    assert Scratch.of("3f0c2a9e-0000-4000-8000-000000000000").folder == tmp_path / "elsewhere/3f0c2a9e-0000-4000-8000-000000000000"


def test_upload_temporaries_go_to_upload_temp_dir_when_set(media_root, settings, tmp_path):
    assert upload_temp_dir() == media_root / "tmp"
    settings.UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    assert upload_temp_dir() == tmp_path / "uploads" and upload_temp_dir().is_dir()


def test_a_scratch_folder_starts_empty_and_stores_what_the_render_produced_in_the_jobs_folder(make_job, media_root):
    job = make_job()
    work = Scratch.of(job.id)
    work.folder.mkdir(parents=True)
    (work.folder / "left-by-a-dead-attempt").write_bytes(b"x")
    assert list(work.create().iterdir()) == []
    produced = work.output(f"jobs/{job.id}/cutline-1.mp4")
    assert produced == work.folder / "cutline-1.mp4"
    produced.write_bytes(b"video")
    assert work.store({"output_video": produced}) == {"output_video": f"jobs/{job.id}/cutline-1.mp4"}
    assert (media_root / f"jobs/{job.id}/cutline-1.mp4").read_bytes() == b"video"
    work.remove()
    assert not work.folder.exists()


def test_a_claim_removes_scratch_a_killed_render_left_on_this_host_and_nothing_else(make_job, media_root):
    # sibling: rendered by another process of this host, or another host sharing the scratch folder
    dead, sibling, waiting = make_job(), make_job(status=S.PROCESSING, worker_host="render2"), make_job()
    Job.objects.filter(id=dead.id).update(status=S.FAILED)  # its render was killed, then it was failed
    for job in (dead, sibling):
        Scratch.of(job.id).create()
        (Scratch.of(job.id).folder / "visual-1.mp4").write_bytes(b"x")
    not_ours = scratch_root() / "notes"
    not_ours.mkdir()
    assert worker.claim(waiting.id).id == waiting.id
    assert not Scratch.of(dead.id).folder.exists()
    assert Scratch.of(sibling.id).folder.is_dir()  # still being rendered
    assert not_ours.is_dir()


def test_a_folder_another_host_makes_while_orphans_are_looked_for_is_kept(make_job, media_root):
    # Host b claims a job and makes its folder just after this host asked which jobs are being rendered:
    # the answer cannot name it, so only folders listed before the question may go.
    dead, claimed_meanwhile = make_job(status=S.FAILED), make_job()
    Scratch.of(dead.id).create()

    def rendering() -> set[str]:
        Scratch.of(claimed_meanwhile.id).create()
        return set()

    assert remove_orphans(rendering) == 1
    assert not Scratch.of(dead.id).folder.exists()
    assert Scratch.of(claimed_meanwhile.id).folder.is_dir()


def test_an_input_missing_from_storage_is_a_media_error_naming_the_file(make_job, media_root, monkeypatch):
    job = make_job()
    audio = Audio.objects.create(job=job, file=f"jobs/{job.id}/music.wav", original_name="song.wav", file_size=1)
    work = Scratch.of(job.id)
    work.create()
    assert work.input(audio.file) == media_root / f"jobs/{job.id}/music.wav"  # on disk: the path, read in place

    class Gone:  # a bucket whose object was deleted behind Cutline's back
        def fetch(self, name, folder):
            raise FileNotFoundError(name)

    monkeypatch.setattr("jobs.scratch.job_storage", Gone)
    with pytest.raises(InputMissing, match="music.wav is missing from storage"):
        work.input(audio.file)


def test_a_finished_render_leaves_its_output_stored_and_no_scratch_folder(make_job, media_root, monkeypatch):
    job = make_job()

    def engine(job, report):
        work = Scratch.of(job.id)
        out = work.output(worker.output_name(job))
        out.write_bytes(b"a video")
        (work.folder / ".cutline.sync.gray").write_bytes(b"frames")
        return job_storage().keep(out, worker.output_name(job)), {"segments": []}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    done = worker.run(job.id)
    assert done.status == S.COMPLETED
    assert (media_root / done.output_video.name).read_bytes() == b"a video"
    assert not Scratch.of(job.id).folder.exists()
    assert list(scratch_root().iterdir()) == []


def test_a_failed_render_leaves_no_scratch_folder(make_job, monkeypatch):
    job = make_job()

    def engine(job, report):
        (Scratch.of(job.id).folder / "visual-1.mp4").write_bytes(b"a copied input")
        raise RenderFailed("ffmpeg stopped")

    monkeypatch.setattr("jobs.worker.make_video", engine)
    assert worker.run(job.id).status == S.FAILED
    assert not Scratch.of(job.id).folder.exists()


# ---------------------------------------------------------------- uploads


def test_a_refused_upload_stores_none_of_its_files_and_leaves_no_temporary(db, media_root, tmp_path):
    from tests.media_factory import make_clip

    good = make_clip(tmp_path / "good.mp4", seconds=1.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    song = tmp_path / "song.txt"
    song.write_bytes(b"not a song")
    with pytest.raises(services.JobInputError):
        services.job_create(
            visuals=[services.SourceFile("good.mp4", path=good), services.SourceFile("bad.mp4", path=bad)],
            music=services.SourceFile("song.mp3", path=song), style="CLEAN_VLOG", enqueue=False,
        )
    assert not Job.objects.exists()
    assert not (media_root / "jobs").exists() or list((media_root / "jobs").iterdir()) == []
    assert list(upload_temp_dir().iterdir()) == []


def test_an_abandoned_upload_whose_files_cannot_be_removed_is_kept_for_the_next_sweep(make_job, enqueued):
    from datetime import timedelta

    from django.utils import timezone

    abandoned = make_job(status=S.UPLOADING)
    Job.objects.filter(id=abandoned.id).update(created_at=timezone.now() - timedelta(hours=2))

    def unreachable(name):
        raise ConnectionError("the bucket's endpoint does not answer")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storages["default"], "delete_folder", unreachable)
        services.job_sweep()
    assert Job.objects.filter(id=abandoned.id, status=S.UPLOADING).exists()
    services.job_sweep()
    assert not Job.objects.filter(id=abandoned.id).exists()


def test_the_sweep_removes_a_checking_folder_left_by_a_dead_upload(db, media_root, enqueued):
    stale = upload_temp_dir() / "job-3f0c2a9e"
    stale.mkdir()
    (stale / "visual-1.mp4").write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    fresh = upload_temp_dir() / "job-recent"
    fresh.mkdir()
    assert services.job_sweep()["temp_files"] == 1
    assert not stale.exists() and fresh.exists()
