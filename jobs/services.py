"""The job flow: create, queue, claim, report progress, finish, retry. Views, tasks and commands call these."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from media_pipeline.accept import MUSIC_SUFFIXES, VISUAL_SUFFIXES, check_music, check_visual, readable_photo

from . import engine as default_engine
from .models import Audio, Job, Video, job_dir, upload_temp_dir

log = logging.getLogger(__name__)
T = TypeVar("T")

Status = Job.Status
MIN_DURATION, MAX_DURATION = 5, 60
ASPECT_RATIOS = ("9:16", "1:1", "4:5", "16:9")


class JobInputError(ValueError):
    """Something the user sent is wrong; `field` names the form field, the message says what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SourceFile:
    """A file to add to a job: its original name and where its bytes are."""

    name: str
    path: Path | None = None  # a file on disk (moved when `move`, else copied)
    stream: BinaryIO | None = None  # or a readable stream
    move: bool = False


# ---------------------------------------------------------------- creating


def validate_settings(style: str, duration: float, aspect_ratio: str) -> None:
    """Raise JobInputError for a style, duration or aspect ratio out of range."""
    from media_pipeline.style import STYLES

    if style not in STYLES:
        raise JobInputError("style", f"Unknown style {style!r}: choose one of {', '.join(STYLES)}.")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise JobInputError("duration", f"Duration must be between {MIN_DURATION} and {MAX_DURATION} seconds.")
    if aspect_ratio not in ASPECT_RATIOS:
        raise JobInputError("aspect_ratio", f"Aspect ratio must be one of {', '.join(ASPECT_RATIOS)}.")


def job_create(
    *,
    visuals: Sequence[SourceFile],
    music: SourceFile,
    style: str,
    duration: float = 30.0,
    aspect_ratio: str = "9:16",
    enqueue: bool = True,
) -> Job:
    """Store the files under a new job, check each by content, and queue it.

    Raises JobInputError on bad input; then nothing is left behind (no job row, no files).
    """
    validate_settings(style, duration, aspect_ratio)
    if not visuals:
        raise JobInputError("videos", "Add at least one video or photo.")
    if len(visuals) > settings.MAX_VISUALS:
        raise JobInputError("videos", f"At most {settings.MAX_VISUALS} videos or photos per job.")
    job = Job.objects.create(style=style, duration=duration, aspect_ratio=aspect_ratio, status=Status.UPLOADING)
    try:
        _store_files(job, visuals, music)
    except BaseException:
        _discard(job)
        raise
    Job.objects.filter(id=job.id).update(status=Status.PENDING, current_step="Queued", updated_at=timezone.now())
    job.refresh_from_db()
    if enqueue:
        job_enqueue(job.id)
    return job


def _store_files(job: Job, visuals: Sequence[SourceFile], music: SourceFile) -> None:
    folder = Path(settings.MEDIA_ROOT) / job_dir(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    for order, source in enumerate(visuals):
        path = _write(source, folder / f"visual-{order + 1}{_suffix(source.name, VISUAL_SUFFIXES)}", "videos")
        path = _checked(readable_photo, path, source.name, "videos")
        info = _checked(check_visual, path, source.name, "videos")
        Video.objects.create(
            job=job, file=_relative(path), original_name=source.name[:255], file_size=path.stat().st_size,
            duration=info.duration, width=info.width, height=info.height, file_type=info.kind, order=order,
        )
    path = _write(music, folder / f"music{_suffix(music.name, MUSIC_SUFFIXES)}", "music")
    info = _checked(check_music, path, music.name, "music")
    Audio.objects.create(
        job=job, file=_relative(path), original_name=music.name[:255],
        file_size=path.stat().st_size, duration=info.duration,
    )


def _checked(check: Callable[[Path], T], path: Path, name: str, field: str) -> T:
    """Run a content check; its refusal becomes the field's error, prefixed with the creator's file name."""
    from media_pipeline.errors import UnsupportedMedia

    try:
        return check(path)
    except UnsupportedMedia as exc:
        raise JobInputError(field, f"{name}: {exc}") from exc


def _write(source: SourceFile, target: Path, field: str) -> Path:
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if source.path is not None:
        if not source.path.is_file():
            raise JobInputError(field, f"{source.name}: no such file.")
        if source.path.stat().st_size > limit:
            raise JobInputError(field, f"{source.name}: larger than {settings.MAX_UPLOAD_MB} MB.")
        (shutil.move if source.move else shutil.copyfile)(source.path, target)
        return target
    written = 0
    with open(target, "wb") as out:
        while chunk := source.stream.read(1024 * 1024):
            written += len(chunk)
            if written > limit:
                raise JobInputError(field, f"{source.name}: larger than {settings.MAX_UPLOAD_MB} MB.")
            out.write(chunk)
    if written == 0:
        raise JobInputError(field, f"{source.name}: the file is empty.")
    return target


def _suffix(name: str, allowed: set[str]) -> str:
    # The stored name is ours; the extension is kept only when it is one we know.
    suffix = Path(name).suffix.lower()
    return suffix if suffix in allowed else ""


def _relative(path: Path) -> str:
    return str(path.relative_to(settings.MEDIA_ROOT))


def _discard(job: Job) -> None:
    shutil.rmtree(Path(settings.MEDIA_ROOT) / job_dir(job.id), ignore_errors=True)
    Job.objects.filter(id=job.id).delete()


# ---------------------------------------------------------------- queueing


def job_enqueue(job_id) -> None:
    """Hand the job to a worker once the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("jobs.tasks.render_job", str(job_id), group="render"))


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.RENDER_LEASE_S)


def _claimable() -> Q:
    # A PENDING job, or a PROCESSING one whose worker stopped writing (killed, OOM):
    # django-q2 redelivers such a task and the lease lets it be taken again.
    return Q(status=Status.PENDING) | Q(status=Status.PROCESSING, heartbeat_at__lt=_stale_before())


def job_claim(job_id) -> Job | None:
    """Take the job for this worker. Returns it, or None when another worker has it or it has ended."""
    now = timezone.now()
    won = Job.objects.filter(_claimable(), id=job_id, attempts__lt=F("attempt_limit")).update(
        status=Status.PROCESSING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        updated_at=now, progress=0, current_step="Starting", error_message="", completed_at=None,
    )
    if won:
        return Job.objects.get(id=job_id)
    gave_up = Job.objects.filter(_claimable(), id=job_id).update(
        status=Status.FAILED, completed_at=now, updated_at=now, current_step="Failed",
        error_message="Rendering was interrupted too many times (the worker stopped or ran out of memory).",
    )
    if gave_up:
        log.warning("job %s: attempts used up, marked FAILED", job_id)
    return None


# ---------------------------------------------------------------- running


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
        return self.lost


def job_complete(job_id, output_name: str, plan: dict | None = None) -> None:
    now = timezone.now()
    fields = dict(
        status=Status.COMPLETED, progress=100, current_step="Done", output_video=output_name,
        completed_at=now, updated_at=now, heartbeat_at=now, error_message="",
    )
    if plan is not None:
        fields["plan"] = plan
    Job.objects.filter(id=job_id, status=Status.PROCESSING).update(**fields)


def job_fail(job_id, message: str) -> None:
    now = timezone.now()
    Job.objects.filter(id=job_id).exclude(status=Status.COMPLETED).update(
        status=Status.FAILED, error_message=message[:2000], current_step="Failed",
        completed_at=now, updated_at=now,
    )


def job_render(
    job_id, *, engine: Callable | None = None, listener: Callable[[float, str], None] | None = None
) -> Job | None:
    """Claim the job, run the media pipeline on it and end it COMPLETED or FAILED. None if not ours to run."""
    from media_pipeline.errors import MediaError

    job = job_claim(job_id)
    if job is None:
        return None
    report = ProgressReporter(job, listener=listener)
    run = engine or default_engine.render_job_media  # looked up now: tests and operators may replace it
    try:
        output_name, plan = run(job, report)
    except MediaError as exc:
        log.info("job %s failed: %s", job_id, exc)
        job_fail(job_id, str(exc))
    except Exception as exc:
        log.exception("job %s crashed", job_id)
        job_fail(job_id, f"Something went wrong on our side while rendering ({type(exc).__name__}). Try again.")
        raise
    except BaseException:
        # Ctrl-C on `render_job`, or the worker shutting down: stopped on purpose, so the sweep must not
        # hand it to another worker behind the operator's back.
        job_fail(job_id, "Rendering was stopped before it finished. Retry the job to render it again.")
        raise
    else:
        job_complete(job_id, output_name, plan)
    return Job.objects.get(id=job_id)


# ---------------------------------------------------------------- operators


def job_retry(job_id, *, enqueue: bool = True) -> tuple[bool, str]:
    """Put a failed, finished or stuck job back in the queue. Refuses one that a live worker is rendering.

    With enqueue=False the job is left PENDING for the caller to render (the render_job command).
    """
    now = timezone.now()
    stuck = Q(status=Status.PROCESSING, heartbeat_at__lt=_stale_before()) | Q(
        status=Status.PENDING, updated_at__lt=_stale_before()
    )
    retryable = Q(status__in=[Status.FAILED, Status.COMPLETED]) | stuck
    requeued = Job.objects.filter(retryable, id=job_id).update(
        status=Status.PENDING, progress=0, current_step="Queued again", error_message="",
        completed_at=None, updated_at=now, attempt_limit=F("attempts") + settings.RENDER_MAX_ATTEMPTS,
    )
    if requeued:
        if enqueue:
            job_enqueue(job_id)
        return True, "queued again"
    status = Job.objects.filter(id=job_id).values_list("status", flat=True).first()
    if status is None:
        return False, "no such job"
    if status == Status.PROCESSING:
        return False, "a worker is rendering it right now"
    if status == Status.UPLOADING:
        return False, "its files are still being uploaded"
    return False, "it is already queued"


UPLOAD_ABANDONED_S = 3600  # an upload request never takes this long: its process died


def job_sweep() -> dict[str, int]:
    """Rescue jobs whose worker died, and clear what crashed uploads left behind. Runs every minute."""
    from django_q.tasks import async_task

    stale = Job.objects.filter(status=Status.PROCESSING, heartbeat_at__lt=_stale_before())
    requeued = 0
    for job_id in stale.values_list("id", flat=True):
        # Let job_claim decide: it re-takes the job, or fails it once its attempts are used up.
        async_task("jobs.tasks.render_job", str(job_id), group="render")
        requeued += 1
    cutoff = timezone.now() - timedelta(seconds=UPLOAD_ABANDONED_S)
    abandoned = list(Job.objects.filter(status=Status.UPLOADING, created_at__lt=cutoff))
    for job in abandoned:
        _discard(job)
    tmp_files = 0
    tmp = upload_temp_dir()
    if tmp.is_dir():
        for leftover in tmp.iterdir():
            if leftover.is_file() and leftover.stat().st_mtime < cutoff.timestamp():
                leftover.unlink(missing_ok=True)
                tmp_files += 1
    return {"requeued": requeued, "abandoned_uploads": len(abandoned), "temp_files": tmp_files}
