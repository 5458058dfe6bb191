"""The render worker: claim a job, run the media pipeline on its files with progress on the job row, end it.

django-q2's task (jobs/tasks.py) and the render_job command call run(); nothing here runs in the web process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from media_pipeline.errors import MediaError
from media_pipeline.pipeline import plan_job
from media_pipeline.plan import plan_to_dict
from media_pipeline.render import render

from .models import Job, job_dir

log = logging.getLogger(__name__)
Status = Job.Status

# Share of the progress bar each part takes: planning (probe, look, beats, plan, frame, level), then the render.
RENDER_FROM, RENDER_TO = 20.0, 99.0


def output_name(job: Job) -> str:
    """The render's path relative to MEDIA_ROOT."""
    return f"{job_dir(job.id)}/cutline-{job.id.hex[:8]}.mp4"


# ---------------------------------------------------------------- claiming


def claim(job_id) -> Job | None:
    """Take the job for this worker. Returns it, or None when another worker has it or it has ended.

    One conditional UPDATE: of any number of workers racing for a job, the one whose count is 1 won.
    """
    now = timezone.now()
    won = Job.objects.claimable().filter(id=job_id, attempts__lt=F("attempt_limit")).update(
        status=Status.PROCESSING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        updated_at=now, progress=0, current_step="Starting", error_message="", completed_at=None,
    )
    if won:
        return Job.objects.get(id=job_id)
    gave_up = Job.objects.claimable().filter(id=job_id).update(
        status=Status.FAILED, completed_at=now, updated_at=now, current_step="Failed",
        error_message="Rendering was interrupted too many times (the worker stopped or ran out of memory).",
    )
    if gave_up:
        log.warning("job %s: attempts used up, marked FAILED", job_id)
    return None


# ---------------------------------------------------------------- progress


class ProgressReporter:
    """Writes percent and step to the job row, at most about once a second, and says if the job was taken away."""

    def __init__(
        self,
        job: Job,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        listener: Callable[[float, str], None] | None = None,
    ):
        self.job_id = job.id
        self.listener = listener
        self.attempt = job.attempts
        self.interval = interval
        self.clock = clock
        self.percent = 0
        self.step = ""
        self.lost = False
        self._last_write = float("-inf")

    def __call__(self, percent: float, step: str) -> None:
        if self.listener is not None:
            self.listener(percent, step)
        percent = max(self.percent, min(99, int(percent)))  # 100 only when the file is in place
        now = self.clock()
        if step == self.step and (percent == self.percent or now - self._last_write < self.interval):
            return
        self.percent, self.step, self._last_write = percent, step, now
        updated = Job.objects.filter(id=self.job_id, status=Status.PROCESSING, attempts=self.attempt).update(
            progress=percent, current_step=step[:200], heartbeat_at=timezone.now(), updated_at=timezone.now()
        )
        self.lost = updated == 0

    def should_cancel(self) -> bool:
        """True once the job is no longer this worker's (failed, retried or re-claimed elsewhere)."""
        return self.lost


# ---------------------------------------------------------------- ending


def save_plan(job_id, plan: dict) -> None:
    """Store the plan as soon as it is made, so the job page and the API show it while the render runs."""
    Job.objects.filter(id=job_id).update(plan=plan, updated_at=timezone.now())


def complete(job_id, output_name: str, plan: dict | None = None) -> None:
    """COMPLETED with its output; the plan, now with where each cut came out, is stored with it."""
    now = timezone.now()
    fields = dict(
        status=Status.COMPLETED, progress=100, current_step="Done", output_video=output_name,
        completed_at=now, updated_at=now, heartbeat_at=now, error_message="",
    )
    if plan is not None:
        fields["plan"] = plan
    Job.objects.filter(id=job_id, status=Status.PROCESSING).update(**fields)


def fail(job_id, message: str) -> None:
    now = timezone.now()
    Job.objects.filter(id=job_id).exclude(status=Status.COMPLETED).update(
        status=Status.FAILED, error_message=message[:2000], current_step="Failed",
        completed_at=now, updated_at=now,
    )


# ---------------------------------------------------------------- running


def make_video(job: Job, reporter: ProgressReporter) -> tuple[str, dict]:
    """Plan and render the job's files into its output MP4. Returns (output name, plan with its "sync" report)."""
    plan = plan_job(
        [visual.file.path for visual in job.visuals.all()],
        job.audio.file.path,
        job.style,
        duration=job.duration,
        aspect=job.aspect_ratio,
        cache_dir=str(settings.BEAT_CACHE_DIR),
        on_progress=lambda percent, step: reporter(percent * RENDER_FROM / 100, step),
    )
    plan_dict = plan_to_dict(plan)
    save_plan(job.id, plan_dict)
    reporter(RENDER_FROM, "Rendering")
    name = output_name(job)
    span = RENDER_TO - RENDER_FROM
    result = render(
        plan,
        str(Path(settings.MEDIA_ROOT) / name),
        on_progress=lambda percent, step: reporter(RENDER_FROM + percent * span / 100, step),
        timeout=settings.RENDER_TIMEOUT_S,
        stall_timeout=settings.RENDER_STALL_S,
        should_cancel=reporter.should_cancel,
    )
    # Where each cut came out and how far from its beat, stored with the plan the job completes with.
    plan_dict["sync"] = result.sync.as_dict()
    return name, plan_dict


def run(job_id, *, listener: Callable[[float, str], None] | None = None) -> Job | None:
    """Claim the job, make its video and end it COMPLETED or FAILED. None if it was not ours to run.

    `listener` also gets every progress report (the render_job command draws its bar with it).
    """
    job = claim(job_id)
    if job is None:
        return None
    reporter = ProgressReporter(job, listener=listener)
    try:
        name, plan = make_video(job, reporter)
    except MediaError as exc:
        log.info("job %s failed: %s", job_id, exc)
        fail(job_id, str(exc))
    except Exception as exc:
        log.exception("job %s crashed", job_id)
        fail(job_id, f"Something went wrong on our side while rendering ({type(exc).__name__}). Try again.")
        raise
    except BaseException:
        # Ctrl-C on `render_job`, or the worker shutting down: stopped on purpose, so the sweep must not
        # hand it to another worker behind the operator's back.
        fail(job_id, "Rendering was stopped before it finished. Retry the job to render it again.")
        raise
    else:
        complete(job_id, name, plan)
    return Job.objects.get(id=job_id)
