"""django-q2 tasks: a wake-up that renders the oldest waiting job (and calls its callback), and the housekeeping
sweep (with the callbacks due again)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from . import callbacks, host, services, wakeups, worker
from .api import job_to_dict

log = logging.getLogger(__name__)


def render_next() -> str:
    """A wake-up: claim the oldest waiting job and render it, then wake another worker if jobs still wait."""
    with host.busy():
        job = worker.run_next()
        if job is None:
            return "nothing waiting" if not host.STOP.requested else "stopping: no new render"
        # A job handed back by a stopping worker waits too: another worker takes it at once.
        wakeups.top_up(at_most=1)
        if job.is_finished:
            deliver_callbacks(job_id=job.id)
        return job.status


def deliver_callbacks(job_id=None) -> int:
    """Make the callback attempts that are due (this job's only, right after its render); how many were delivered.

    A failure here never fails the task: whatever was not sent stays due for the sweep.
    """
    try:
        return callbacks.deliver_due(job_to_dict, job_id=job_id)
    except Exception:
        log.exception("callbacks: delivery pass failed; the sweep tries again")
        return 0


def render_job(job_id: str = "") -> str:
    """What wake-ups were called before the Job table became the queue: messages queued by an older
    version name a job; the oldest waiting job is taken all the same."""
    return render_next()


def sweep() -> dict:
    """Scheduled every minute on the housekeeping cluster (migrations 0002 and 0005): one pass every
    SWEEP_EVERY_S until the next run is due, so lost wake-ups are found within seconds."""
    every = settings.SWEEP_EVERY_S
    ends = time.monotonic() + 60 - every
    totals: dict[str, int] = {}
    while True:
        # A run lasts a minute: its connection is checked before each pass, as django-q2 does before a task.
        close_old_connections()
        try:
            for key, value in services.job_sweep().items():
                totals[key] = totals.get(key, 0) + value
            totals["callbacks_delivered"] = totals.get("callbacks_delivered", 0) + deliver_callbacks()
        except DatabaseError as exc:
            log.warning("sweep pass skipped (database unavailable: %s)", exc)
        if time.monotonic() + every > ends:
            return totals
        time.sleep(every)
