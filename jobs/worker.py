"""The render worker: claim a job, run the media pipeline on its files with progress on the job row, end it.

django-q2's wake-up task (jobs/tasks.py) calls run_next(), which claims the oldest waiting job; the
render_job command calls run() with a job id. Nothing here runs in the web process.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from media_pipeline.errors import MediaError
from media_pipeline.pipeline import plan_job
from media_pipeline.plan import Plan, plan_to_dict
from media_pipeline.poster import make_poster, poster_time
from media_pipeline.render import render

from . import disk, heap, metrics
from .callbacks import due_on_end
from .host import HOST, STOP, StopRendering, retrying, set_state
from .logs import job_fields
from .models import INTERRUPTED_STEP, Job, Worker, job_dir
from .scratch import Scratch, remove_orphans
from .step_timings import StepClock

log = logging.getLogger(__name__)
Status = Job.Status

# Share of the progress bar each part takes: planning (probe, look, beats, plan, frame, level), then the render.
RENDER_FROM, RENDER_TO = 20.0, 99.0


def output_name(job: Job) -> str:
    """The render's stored name (in the job's folder, on disk or in the bucket)."""
    return output_name_for(job.id)


def output_name_for(job_id: uuid.UUID | str) -> str:
    job_id = uuid.UUID(str(job_id))
    return f"{job_dir(job_id)}/cutline-{job_id.hex[:8]}.mp4"


# ---------------------------------------------------------------- claiming


def claim(job_id) -> Job | None:
    """Take this job (render_job JOB_ID). Returns it, or None when another worker has it or it has ended.

    One conditional UPDATE: of any number of workers racing for a job, the one whose count is 1 won.
    """
    if _take(job_id):
        return _claimed(job_id)
    if _give_up(Job.objects.claimable().filter(id=job_id)):
        log.warning("job %s: attempts used up, marked FAILED", job_id, extra=job_fields(job_id, "failed"))
    return None


def claim_next() -> Job | None:
    """Take the oldest claimable job (PENDING, or PROCESSING with a dead worker). None when none is waiting.

    The row is locked while it is taken and skipped by other workers meanwhile (SKIP LOCKED on
    PostgreSQL; SQLite's IMMEDIATE transactions take one claim at a time), so hosts share the queue in
    the order jobs were made. A job whose attempts are used up is failed on the way.
    """
    while True:
        with transaction.atomic():
            oldest = (
                Job.objects.claimable().select_for_update(skip_locked=True).order_by("created_at")
                .only("id", "attempts", "attempt_limit", "duration").first()
            )
            if oldest is None:
                return None
            if oldest.attempts >= oldest.attempt_limit:
                _give_up(Job.objects.filter(id=oldest.id))
                log.warning("job %s: attempts used up, marked FAILED", oldest.id, extra=job_fields(oldest.id, "failed"))
                continue
            if not disk.render_fits(oldest.duration):
                # Left PENDING for a host with room, or for this one once space is freed (the sweep wakes us).
                log.warning("not enough disk space to render job %s: left in the queue", oldest.id,
                            extra=job_fields(oldest.id, "claim"))
                return None
            won = _take(oldest.id)
        if won:
            return _claimed(oldest.id)


def _take(job_id) -> bool:
    now = timezone.now()
    return bool(Job.objects.claimable().filter(id=job_id, attempts__lt=F("attempt_limit")).update(
        status=Status.PROCESSING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        updated_at=now, progress=0, current_step="Starting", error_message="", completed_at=None,
        worker_host=HOST[:255], worker_pid=os.getpid(),
    ))


def _claimed(job_id) -> Job:
    job = Job.objects.get(id=job_id)
    log.info("claimed job %s (attempt %s of %s)", job.id, job.attempts, job.attempt_limit,
             extra=job_fields(job.id, "claim"))
    if job.attempts > 1:
        remove_leftovers(job)  # the files of the attempt that was interrupted
    # Scratch that renders killed on this host left; any job being rendered keeps its folder (SCRATCH_DIR may
    # be on storage that hosts share, as MEDIA_ROOT may).
    remove_orphans(_rendering)
    set_state(Worker.State.RENDERING, job.id)
    return job


def _rendering() -> set[str]:
    return {str(own) for own in Job.objects.filter(status=Status.PROCESSING).values_list("id", flat=True)}


def _give_up(jobs) -> int:
    now = timezone.now()
    ids = list(jobs.values_list("id", flat=True))
    gave_up = Job.objects.filter(id__in=ids).update(
        status=Status.FAILED, completed_at=now, updated_at=now, current_step="Failed",
        error_message="Rendering was interrupted too many times (the worker stopped or ran out of memory).",
        **due_on_end(now),
    )
    metrics.job_failed(gave_up)
    for job_id in ids:
        remove_leftovers(job_id)
    return gave_up


def remove_leftovers(job: Job | uuid.UUID | str) -> None:
    """Remove what an attempt that died left on this host: its scratch folder (the fetched inputs, the
    partial MP4, the sync check's frames, the proxies), where the render keeps everything it writes."""
    Scratch.of(job.id if isinstance(job, Job) else job).remove()


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
        if STOP.grace_over():
            raise StopRendering
        if self.listener is not None:
            self.listener(percent, step)
        percent = max(self.percent, min(99, int(percent)))  # 100 only when the file is in place
        now = self.clock()
        if step == self.step and (percent == self.percent or now - self._last_write < self.interval):
            return
        self.percent, self.step, self._last_write = percent, step, now
        updated = retrying(lambda: Job.objects.filter(id=self.job_id, status=Status.PROCESSING, attempts=self.attempt).update(
            progress=percent, current_step=step[:200], heartbeat_at=timezone.now(), updated_at=timezone.now()
        ))
        self.lost = updated == 0

    def should_cancel(self) -> bool:
        """True once the job is no longer this worker's (failed, retried or re-claimed elsewhere)."""
        return self.lost


# ---------------------------------------------------------------- ending


def save_plan(job_id, plan: dict) -> None:
    """Store the plan as soon as it is made, so the job page and the API show it while the render runs."""
    Job.objects.filter(id=job_id).update(plan=plan, updated_at=timezone.now())


def save_step_timings(job_id, timings: dict[str, float]) -> None:
    """Seconds each step of this attempt took (probe, analysis, plan, render, check), for the admin."""
    retrying(lambda: Job.objects.filter(id=job_id).update(step_timings=timings))


def complete(job_id, output_name: str, plan: dict | None = None) -> bool:
    """COMPLETED with its output; the plan, now with where each cut came out, is stored with it.
    False when the job was no longer this worker's."""
    now = timezone.now()
    fields = dict(
        status=Status.COMPLETED, progress=100, current_step="Done", output_video=output_name,
        completed_at=now, updated_at=now, heartbeat_at=now, error_message="", **due_on_end(now),
    )
    if plan is not None:
        fields["plan"] = plan
    return bool(retrying(lambda: Job.objects.filter(id=job_id, status=Status.PROCESSING).update(**fields)))


def fail(job_id, message: str) -> None:
    now = timezone.now()
    failed = retrying(lambda: Job.objects.filter(id=job_id).exclude(status__in=Job.ENDED).update(
        status=Status.FAILED, error_message=message[:2000], current_step="Failed",
        completed_at=now, updated_at=now, **due_on_end(now),
    ))
    metrics.job_failed(failed)
    remove_leftovers(job_id)


def hand_back(job: Job) -> None:
    """Back to PENDING with this attempt returned: the worker was stopped, the job did nothing wrong."""
    retrying(lambda: Job.objects.filter(id=job.id, status=Status.PROCESSING, attempts=job.attempts).update(
        status=Status.PENDING, attempts=F("attempts") - 1, progress=0, current_step=INTERRUPTED_STEP,
        heartbeat_at=None, updated_at=timezone.now(),
    ))
    remove_leftovers(job)
    log.info("job %s handed back to the queue (worker stopping)", job.id, extra=job_fields(job.id, "hand_back"))


# ---------------------------------------------------------------- running


def make_video(job: Job, reporter: ProgressReporter) -> tuple[str, dict]:
    """Plan and render the job's files into its output MP4 and store it. Returns (output name, plan with its
    "sync" report). Everything is read and written in the job's scratch folder (local files only)."""
    work = Scratch.of(job.id)
    plan = plan_job(
        [str(work.input(visual.file)) for visual in job.visuals.all()],
        str(work.input(job.audio.file)),
        job.style,
        duration=job.duration,
        aspect=job.aspect_ratio,
        seed=job.seed,  # a remix's: another edit of the same files
        cache_dir=str(settings.BEAT_CACHE_DIR),
        on_progress=lambda percent, step: reporter(percent * RENDER_FROM / 100, step),
    )
    plan_dict = plan_to_dict(plan)
    save_plan(job.id, plan_dict)
    reporter(RENDER_FROM, "Rendering")
    # Every file the render produces that is kept, by the Job field it fills (a poster goes here too).
    produced = {"output_video": work.output(output_name(job))}
    span = RENDER_TO - RENDER_FROM
    result = render(
        plan,
        str(produced["output_video"]),
        on_progress=lambda percent, step: reporter(RENDER_FROM + percent * span / 100, step),
        timeout=settings.RENDER_TIMEOUT_S,
        stall_timeout=settings.RENDER_STALL_S,
        should_cancel=reporter.should_cancel,
        low_memory=settings.RENDER_LOW_MEMORY,
    )
    # Where each cut came out and how far from its beat, stored with the plan the job completes with.
    plan_dict["sync"] = result.sync.as_dict()
    if reporter.should_cancel():  # the job was taken away meanwhile: what this attempt made is not stored
        return output_name(job), plan_dict
    produced.update(poster(plan, produced["output_video"], work.output(poster_name(job))))
    stored = work.store(produced)
    name = stored.pop("output_video")  # recorded by complete(), with the COMPLETED status
    if stored:
        Job.objects.filter(id=job.id).update(**stored)
    return name, plan_dict


def poster_name(job: Job) -> str:
    """The poster's stored name, beside the video's."""
    return output_name(job).removesuffix(".mp4") + ".jpg"


def poster(plan: Plan, video: Path, out: Path) -> dict[str, Path]:
    """{"poster": the JPEG} from the middle of the finished video's liveliest shot; {} when it cannot be
    made (the video is what the creator came for: a missing poster never fails the job)."""
    try:
        return {"poster": make_poster(video, poster_time(plan), out)}
    except MediaError as exc:
        log.warning("job poster not made: %s", exc)
        return {}


def run(job_id, *, listener: Callable[[float, str], None] | None = None) -> Job | None:
    """Claim this job, make its video and end it COMPLETED or FAILED. None if it was not ours to run.

    `listener` also gets every progress report (the render_job command draws its bar with it).
    """
    job = claim(job_id)
    return None if job is None else _render(job, listener)


def run_next() -> Job | None:
    """Claim the oldest waiting job and render it. None when none waits, or this worker is stopping."""
    if STOP.requested:
        return None
    job = claim_next()
    return None if job is None else _render(job, None)


def _render(job: Job, listener: Callable[[float, str], None] | None) -> Job:
    clock = StepClock(job.id, then=listener)
    reporter = ProgressReporter(job, listener=clock)
    work = Scratch.of(job.id)
    try:
        if STOP.requested:
            raise StopRendering  # the stop came while the job was being claimed: start no render
        work.create()
        name, plan = _engine()(job, reporter)
    except StopRendering:
        hand_back(job)
    except MediaError as exc:
        if STOP.requested:  # e.g. systemd's SIGTERM reached ffmpeg too: not the media's fault
            hand_back(job)
        else:
            log.info("job %s failed: %s", job.id, exc, extra=job_fields(job.id, "failed"))
            # ffmpeg's own words would show a server path: a full disk is said plainly.
            fail(job.id, disk.RENDER_DISK_FULL if disk.is_disk_full(exc) else str(exc))
    except Exception as exc:
        if STOP.requested:
            hand_back(job)
            raise
        if disk.is_disk_full(exc):  # the host's fault, not a bug: the worker goes on to the next job
            log.warning("job %s failed: disk full", job.id, extra=job_fields(job.id, "failed"))
            fail(job.id, disk.RENDER_DISK_FULL)
            return Job.objects.get(id=job.id)
        log.exception("job %s crashed", job.id, extra=job_fields(job.id, "crashed"))
        fail(job.id, f"Something went wrong on our side while rendering ({type(exc).__name__}). Try again.")
        raise
    except BaseException:
        # Ctrl-C on `render_job`: stopped on purpose, so the sweep must not
        # hand it to another worker behind the operator's back.
        fail(job.id, "Rendering was stopped before it finished. Retry the job to render it again.")
        raise
    else:
        if complete(job.id, name, plan):
            metrics.job_finished(job.started_at, job.created_at)
            took = (timezone.now() - job.started_at).total_seconds() if job.started_at else None
            log.info("job %s completed", job.id, extra=job_fields(job.id, "done", took))
    finally:
        save_step_timings(job.id, clock.finish())
        work.remove()  # after a success and after a failure alike: the host keeps nothing of the job
        heap.trim()  # nor its freed memory, which would sit beside the next job's render
        set_state(Worker.State.STOPPING if STOP.requested else Worker.State.IDLE)
    return Job.objects.get(id=job.id)


def _engine() -> Callable[[Job, ProgressReporter], tuple[str, dict]]:
    # Test hook: the multi-host tests start real qcluster processes whose renders only sleep
    # (CUTLINE_TEST_ENGINE=tests.jobs.sleepy_engine.make_video).
    hook = os.environ.get("CUTLINE_TEST_ENGINE")
    return import_string(hook) if hook else make_video
