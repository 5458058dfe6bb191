"""Prometheus metrics for /metrics.

Two kinds: events counted where they happen (jobs created, finished and failed, uploads refused, render and
whole-job seconds), and the Job table's state read when /metrics is scraped (jobs by status, the queue's depth,
the age of its oldest job), so those always match the table whichever host changed it.

Events use prometheus-client's multiprocess mode: every process (gunicorn's workers, the qcluster processes)
writes its own files into PROMETHEUS_MULTIPROC_DIR (settings.py puts it in the environment before this module
imports the client, which chooses its mode at import) and the scrape adds them up. The folder is emptied
before a host's processes start (`manage.py reset_metrics`), never while they run: a process's files stay
after it exits, so its counts are kept when django-q2 recycles a worker. Only counters and histograms are
written (live gauges would need gunicorn's child_exit hook to drop a dead worker's values), and the client's
process and platform collectors do not work in this mode.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from .models import Job

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# A 30 s video renders in about 25-60 s on 2 cores; the time limit is RENDER_TIMEOUT_S (600 s by default).
RENDER_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, float("inf"))
JOB_BUCKETS = (10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 3600, float("inf"))
STEP_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, float("inf"))
_REASON = re.compile(r"[^a-z0-9_]+")
_FIRST_USE = threading.Lock()


@dataclass(frozen=True)
class _Events:
    jobs_created: Counter
    jobs_finished: Counter
    jobs_failed: Counter
    uploads_refused: Counter
    render_seconds: Histogram
    job_seconds: Histogram
    step_seconds: Histogram


def _events() -> _Events:
    """The client's metric objects, made on first use: a process that counts nothing (a page-only web worker,
    manage.py migrate) leaves no file in the folder. Made once per process, as the client requires, even when
    two of gunicorn's threads count their first event at once."""
    with _FIRST_USE:
        return _made_events()


@cache
def _made_events() -> _Events:
    values.ValueClass = values.MultiProcessValue(process_identifier=_process_id)
    return _Events(
        jobs_created=Counter("cutline_jobs_created", "Jobs created and queued (uploads, remixes, render_job)"),
        jobs_finished=Counter("cutline_jobs_finished", "Jobs that ended COMPLETED"),
        jobs_failed=Counter("cutline_jobs_failed", "Jobs that ended FAILED"),
        uploads_refused=Counter(
            "cutline_uploads_refused", "Uploads refused before a job was made, by reason", ["reason"]
        ),
        render_seconds=Histogram(
            "cutline_render_seconds", "Seconds a worker spent on a job it completed (from its claim: plan and render)",
            buckets=RENDER_BUCKETS,
        ),
        job_seconds=Histogram(
            "cutline_job_seconds", "Seconds from upload to COMPLETED, waiting in the queue included",
            buckets=JOB_BUCKETS,
        ),
        step_seconds=Histogram(
            "cutline_step_seconds", "Seconds each step of a render took (probe, analysis, plan, render, check)",
            ["step"], buckets=STEP_BUCKETS,
        ),
    )


def _process_id() -> str:
    """Names this process's files. Containers sharing the folder each number their processes from 1, so the
    host name (a container's id) goes with the pid; "_" separates the parts of a file name, so it is replaced."""
    return f"{socket.gethostname()}-{os.getpid()}".replace("_", "-")


def upload_refused(reason: str) -> None:
    """Count an upload refused before a job was made. `reason` is a short fixed word such as
    "too_large", "rate_limited", "queue_full", "disk_full" or "bad_file": one time series each."""
    label = _REASON.sub("_", reason.strip().lower()).strip("_")[:40] or "other"
    _events().uploads_refused.labels(reason=label).inc()


def job_created() -> None:
    _events().jobs_created.inc()


def job_finished(started_at: datetime | None, created_at: datetime | None) -> None:
    """A job ended COMPLETED: count it and observe its render and whole-job seconds."""
    events = _events()
    events.jobs_finished.inc()
    now = timezone.now()
    if started_at is not None:
        events.render_seconds.observe(max(0.0, (now - started_at).total_seconds()))
    if created_at is not None:
        events.job_seconds.observe(max(0.0, (now - created_at).total_seconds()))


def step_took(step: str, seconds: float) -> None:
    _events().step_seconds.labels(step=step).observe(max(0.0, seconds))


def job_failed(count: int = 1) -> None:
    if count > 0:
        _events().jobs_failed.inc(count)


class JobTableCollector:
    """Gauges read from the Job table at scrape time: they describe the whole fleet, not one process."""

    def collect(self):
        by_status = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
        jobs = GaugeMetricFamily("cutline_jobs", "Jobs in the Job table, by status", labels=["status"])
        for status in Job.Status.values:
            jobs.add_metric([status], by_status.get(status, 0))
        yield jobs
        yield GaugeMetricFamily(
            "cutline_queue_depth", "Jobs waiting for a render worker (PENDING)", value=by_status.get(Job.Status.PENDING, 0)
        )
        oldest = Job.objects.filter(status=Job.Status.PENDING).aggregate(at=Min("created_at"))["at"]
        age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
        yield GaugeMetricFamily(
            "cutline_oldest_pending_age_seconds", "Seconds the oldest PENDING job has waited since it was made (0: none)",
            value=age,
        )


def exposition() -> bytes:
    """Every process's counters and histograms, added up, and the Job table's gauges, in Prometheus text format."""
    registry = _host_registry()  # every counter is listed, at 0 until something happens
    registry.register(JobTableCollector())
    return generate_latest(registry)


def serve_host(port: int) -> ThreadingWSGIServer | None:
    """On a render host of its own (no web server beside it), serve this host's counters and histograms on
    `port`, to METRICS_ALLOWED_IPS only, from a thread of the calling process. The Job table's gauges are left
    to the web's /metrics, so a sum over every target counts each job once. None when the port is taken."""
    app = make_wsgi_app(_host_registry())

    def guarded(environ, start_response):
        if not may_read(environ.get("REMOTE_ADDR", "")):
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"Forbidden: metrics are open only to METRICS_ALLOWED_IPS.\n"]
        return app(environ, start_response)

    try:
        server = make_server("0.0.0.0", port, guarded, ThreadingWSGIServer, handler_class=_QuietHandler)
    except OSError as exc:
        log.warning("metrics not served on port %s: %s", port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # a scrape every few seconds is not news
        pass


def _host_registry() -> CollectorRegistry:
    _events()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir()))
    return registry


def may_read(address: str) -> bool:
    """True when this client address is in METRICS_ALLOWED_IPS (addresses or CIDR networks)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:  # gunicorn bound to [::] sees IPv4 clients so
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks(settings.METRICS_ALLOWED_IPS))


def allowed_networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOWED_IPS as networks (an address is a network of one); ValueError names a bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"METRICS_ALLOWED_IPS: {entry!r} is not an IP address or network") from None
    return networks


def metrics_dir() -> Path:
    return Path(settings.PROMETHEUS_MULTIPROC_DIR)


def reset(folder: Path | None = None) -> int:
    """Empty the metrics folder before a host's processes start; returns the number of files removed."""
    folder = folder or metrics_dir()
    removed = 0
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.db"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
