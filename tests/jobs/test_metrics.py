"""/metrics: Prometheus text that prometheus-client's own parser reads, whose job gauges match the Job table,
whose counters follow what happened, and which answers only the addresses in METRICS_ALLOWED_IPS.

Counters are checked in this process's own values (prometheus_client.REGISTRY): the scrape adds up every
process writing to the shared folder, and other test runs may be writing there too."""

import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from functools import cache
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from jobs import metrics, services, worker
from jobs.models import Job
from jobs.services import SourceFile
from media_pipeline import ffmpeg
from tests.media_factory import make_photo, make_song

S = Job.Status


def scrape(client, **extra) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def own(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_jobs_by_status_and_the_queue_depth_match_the_job_table(client, make_job):
    for status, count in ((S.PENDING, 3), (S.PROCESSING, 1), (S.COMPLETED, 4), (S.FAILED, 2)):
        for _ in range(count):
            make_job(status=status)
    samples = scrape(client)
    for status in S.values:
        assert samples[("cutline_jobs", (("status", status),))] == Job.objects.filter(status=status).count()
    assert samples[("cutline_queue_depth", ())] == Job.objects.filter(status=S.PENDING).count() == 3


def test_the_oldest_pending_job_s_age_is_read_from_the_job_table(client, make_job):
    assert scrape(client)[("cutline_oldest_pending_age_seconds", ())] == 0
    old = make_job()
    Job.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(minutes=5))
    make_job()
    make_job(status=S.FAILED)
    age = scrape(client)[("cutline_oldest_pending_age_seconds", ())]
    assert 300 <= age < 400


def test_finished_and_failed_jobs_are_counted_with_their_render_and_job_seconds(client, make_job, monkeypatch):
    before = {name: own(name) for name in (
        "cutline_jobs_finished_total", "cutline_jobs_failed_total", "cutline_render_seconds_count",
        "cutline_job_seconds_count",
    )}

    def engine(job, report):
        if job.style == "VINTAGE_FILM":
            raise ZeroDivisionError("boom")
        report(50, "Rendering")
        return f"jobs/{job.id}/out.mp4", {"segments": []}

    monkeypatch.setattr("jobs.worker.make_video", engine)
    for style in ("CLEAN_VLOG", "CLEAN_VLOG", "VINTAGE_FILM"):
        job = make_job(style=style)
        try:
            worker.run(job.id)
        except ZeroDivisionError:
            pass
    assert own("cutline_jobs_finished_total") - before["cutline_jobs_finished_total"] == 2
    assert own("cutline_jobs_failed_total") - before["cutline_jobs_failed_total"] == 1
    assert own("cutline_render_seconds_count") - before["cutline_render_seconds_count"] == 2
    assert own("cutline_job_seconds_count") - before["cutline_job_seconds_count"] == 2
    # The scrape adds up every process's files: it has at least this process's counts.
    samples = scrape(client)
    assert samples[("cutline_jobs_finished_total", ())] >= own("cutline_jobs_finished_total")
    assert samples[("cutline_jobs", (("status", S.COMPLETED),))] == 2
    assert samples[("cutline_jobs", (("status", S.FAILED),))] == 1


def test_a_job_failed_twice_is_counted_once(make_job):
    job = make_job(status=S.PROCESSING)
    before = own("cutline_jobs_failed_total")
    worker.fail(job.id, "first")
    worker.fail(job.id, "second")
    assert own("cutline_jobs_failed_total") - before == 1


@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")
def test_a_created_job_is_counted(db, tmp_path, enqueued):
    before = own("cutline_jobs_created_total")
    services.job_create(
        visuals=[SourceFile("a.png", make_photo(tmp_path / "a.png"))],
        music=SourceFile("song.wav", make_song(tmp_path / "song.wav", seconds=4.0)),
        style="CLEAN_VLOG",
    )
    assert own("cutline_jobs_created_total") - before == 1


@pytest.mark.skipif(not ffmpeg.available(), reason="needs ffmpeg and ffprobe")
def test_a_remix_is_counted_as_a_created_job(db, tmp_path, enqueued):
    source = services.job_create(
        visuals=[SourceFile("a.png", make_photo(tmp_path / "a.png"))],
        music=SourceFile("song.wav", make_song(tmp_path / "song.wav", seconds=4.0)),
        style="CLEAN_VLOG",
    )
    Job.objects.filter(id=source.id).update(status=S.COMPLETED)
    source.refresh_from_db()
    before = own("cutline_jobs_created_total")
    services.job_remix(source, style="VINTAGE_FILM")
    assert own("cutline_jobs_created_total") - before == 1


def test_refused_uploads_are_counted_by_reason(client, db):
    before = own("cutline_uploads_refused_total", reason="too_large")
    metrics.upload_refused("too_large")
    metrics.upload_refused("Too Large")  # one spelling of a reason, one time series
    assert own("cutline_uploads_refused_total", reason="too_large") - before == 2
    assert scrape(client)[("cutline_uploads_refused_total", (("reason", "too_large"),))] >= 2


def test_an_address_not_allowed_gets_403(client, db):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"cutline_" not in response.content


def test_loopback_is_allowed_by_default_including_ipv4_mapped_ipv6(client, db):
    scrape(client, REMOTE_ADDR="127.0.0.1")
    scrape(client, REMOTE_ADDR="::1")
    scrape(client, REMOTE_ADDR="::ffff:127.0.0.1")


def test_networks_may_be_allowed_by_cidr(client, db, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]
    scrape(client, REMOTE_ADDR="10.20.30.40")
    scrape(client, REMOTE_ADDR="2001:db8::5")
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="not an address").status_code == 403


def test_a_bad_allowed_entry_is_named():
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        metrics.allowed_networks(["127.0.0.1", "10.0.0.300"])


def test_reset_empties_the_metrics_folder(tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"x")
    (folder / "histogram_123.db").write_bytes(b"x")
    assert metrics.reset(folder) == 2
    assert list(folder.iterdir()) == []
    assert metrics.reset(tmp_path / "new") == 0 and (tmp_path / "new").is_dir()


def test_the_reset_command_empties_the_configured_folder(settings, tmp_path):
    folder = settings.PROMETHEUS_MULTIPROC_DIR = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_99.db").write_bytes(b"x")
    out = StringIO()
    call_command("reset_metrics", stdout=out)
    assert list(folder.iterdir()) == []
    assert "1 files" in out.getvalue()


def test_behind_a_trusted_proxy_the_address_it_saw_is_checked(client, db, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # nginx on the host connects from loopback: the client it forwards for is the one checked.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 127.0.0.1"
    ).status_code == 200
    # A scraper talking to gunicorn directly sends no X-Forwarded-For: its own address counts.
    scrape(client, REMOTE_ADDR="127.0.0.1")


def test_a_bad_allowed_entry_stops_the_start_with_its_name():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "1", "METRICS_ALLOWED_IPS": "127.0.0.1,10.0.0.0/33",
           "DJANGO_SETTINGS_MODULE": "editor_site.settings"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode != 0 and "METRICS_ALLOWED_IPS: '10.0.0.0/33' is not" in result.stderr



def test_threads_counting_their_first_event_at_once_make_the_metrics_once(monkeypatch):
    made = []

    @cache
    def make():
        made.append(1)
        time.sleep(0.05)  # a window for a second thread to come in, were there no lock
        return "events"

    monkeypatch.setattr(metrics, "_made_events", make)
    barrier = threading.Barrier(8)
    results = []

    def first_event():
        barrier.wait()
        results.append(metrics._events())

    threads = [threading.Thread(target=first_event) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1] and results == ["events"] * 8


def test_a_render_host_serves_its_own_counters_to_allowed_addresses_only(settings):
    metrics.job_failed(0)  # the metrics exist
    server = metrics.serve_host(0)  # any free port
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
        names = {family.name for family in text_string_to_metric_families(text)}
        assert "cutline_jobs_finished" in names and "cutline_jobs" not in names  # the Job table is the web's
        settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 403
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_leaves_the_render_host_running_without_its_metrics():
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        assert metrics.serve_host(taken.getsockname()[1]) is None
