"""The job's life outside the worker: create (store and check the files), enqueue, retry, delete, purge, sweep.

Forms, views, the admin, tasks and the render_job command call these; the render itself is jobs/worker.py.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from media_pipeline.accept import MUSIC_SUFFIXES, VISUAL_SUFFIXES, check_music, check_visual, readable_photo
from media_pipeline.errors import UnsupportedMedia
from media_pipeline.limits import DEFAULT_ASPECT, DEFAULT_DURATION, MAX_DURATION, MIN_DURATION
from media_pipeline.style import STYLES

from . import callbacks, metrics, quotas, stored_files, wakeups
from .host import forget_silent
from .logs import job_fields
from .models import ASPECT_CHOICES, Audio, Job, JobQuerySet, Visual, job_dir, upload_cutoff, upload_temp_dir
from .storage import job_storage

T = TypeVar("T")
log = logging.getLogger(__name__)

Status = Job.Status
# A PENDING job this old with no wake-up a free worker could take has lost its own (or its host died).
WAKE_AFTER_S = 3


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
    if style not in STYLES:
        raise JobInputError("style", f"Unknown style {style!r}: choose one of {', '.join(STYLES)}.")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise JobInputError("duration", f"Duration must be between {MIN_DURATION:g} and {MAX_DURATION:g} seconds.")
    ratios = [ratio for ratio, _ in ASPECT_CHOICES]
    if aspect_ratio not in ratios:
        raise JobInputError("aspect_ratio", f"Aspect ratio must be one of {', '.join(ratios)}.")


def validate_callback_url(url: str) -> None:
    """Raise JobInputError for a callback_url the server will not call (jobs/callbacks.py); "" asks for none."""
    if not url:
        return
    try:
        callbacks.check_url(url)
    except callbacks.CallbackRefused as exc:
        raise JobInputError("callback_url", str(exc)) from exc


def job_create(
    *,
    visuals: Sequence[SourceFile],
    music: SourceFile,
    style: str,
    duration: float = DEFAULT_DURATION,
    aspect_ratio: str = DEFAULT_ASPECT,
    enqueue: bool = True,
    client_address: str | None = None,
    callback_url: str = "",
    owner_key: str = "",
    token_hash: str = "",
    seed: int = 0,
) -> Job:
    """Store the files under a new job, check each by content, and queue it. `owner_key` and `token_hash`
    say who may act on it (jobs/ownership.py); a job with neither is the operators' alone. `seed` picks
    among equally good edits (0: the planner's own first choice).

    Raises JobInputError on bad input; then nothing is left behind (no job row, no files).
    """
    validate_settings(style, duration, aspect_ratio)
    if not visuals:
        raise JobInputError("videos", "Add at least one video or photo.")
    if len(visuals) > settings.MAX_VISUALS:
        raise JobInputError("videos", f"At most {settings.MAX_VISUALS} videos or photos per job.")
    validate_callback_url(callback_url)
    seed = validate_seed(seed)
    job = Job.objects.create(
        style=style, duration=duration, aspect_ratio=aspect_ratio, seed=seed, status=Status.UPLOADING,
        client_address=client_address,  # what the abuse limits count (jobs/quotas.py)
        callback_url=callback_url, owner_key=owner_key, token_hash=token_hash,
    )
    if refusal := quotas.refusal_counting(job):  # uploads sent side by side all passed the early check
        _discard(job)
        raise quotas.OverLimit(refusal)
    try:
        _store_files(job, visuals, music)
    except BaseException:
        _discard(job)
        raise
    Job.objects.filter(id=job.id).update(status=Status.PENDING, current_step="Queued", updated_at=timezone.now())
    metrics.job_created()
    job.refresh_from_db()
    if enqueue:
        job_enqueue(job.id)
    return job


def _store_files(job: Job, visuals: Sequence[SourceFile], music: SourceFile) -> None:
    """Check every file on local disk first, then store them all: a refused upload stores nothing."""
    staging = upload_temp_dir() / f"job-{job.id}"
    staging.mkdir()
    try:
        checked: list[tuple[Path, type[Visual] | type[Audio], dict]] = []
        for order, source in enumerate(visuals):
            path = _write(source, staging / f"visual-{order + 1}{_suffix(source.name, VISUAL_SUFFIXES)}", "videos")
            path = _checked(readable_photo, path, source.name, "videos")
            info = _checked(check_visual, path, source.name, "videos")
            checked.append((path, Visual, dict(
                original_name=source.name[:255], duration=info.duration, width=info.width, height=info.height,
                file_type=info.kind, order=order,
            )))
        path = _write(music, staging / f"music{_suffix(music.name, MUSIC_SUFFIXES)}", "music")
        info = _checked(check_music, path, music.name, "music")
        checked.append((path, Audio, dict(original_name=music.name[:255], duration=info.duration)))
        for path, model, fields in checked:
            size = path.stat().st_size
            name = _relative(job, path)
            model.objects.create(job=job, file=job_storage().keep(path, name), file_size=size, **fields)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _checked(check: Callable[[Path], T], path: Path, name: str, field: str) -> T:
    """Run a content check; its refusal becomes the field's error, prefixed with the creator's file name."""
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


def _suffix(name: str, allowed: frozenset[str]) -> str:
    # The stored name is ours; the extension is kept only when it is one we know.
    suffix = Path(name).suffix.lower()
    return suffix if suffix in allowed else ""


def _relative(job: Job, path: Path) -> str:
    """The stored name of a checked file: the job's folder and the name we gave it."""
    return f"{job_dir(job.id)}/{path.name}"


def _discard(job: Job) -> None:
    """Remove what was stored of a job that was never queued, then its row. When the storage cannot be
    reached the row stays (UPLOADING), so the sweep tries again once the upload counts as abandoned."""
    try:
        job_storage().delete_folder(job_dir(job.id))  # whatever was stored before the failure
    except Exception:  # a bucket's client errors have no common base class
        log.exception("job %s: its stored files could not be removed; the sweep will try again", job.id)
        return
    Job.objects.filter(id=job.id).delete()


# ---------------------------------------------------------------- queueing


def job_enqueue(job_id) -> None:
    """Wake a worker once the current transaction commits; it claims the oldest waiting job, not
    necessarily this one (the Job table is the queue; jobs/wakeups.py)."""
    transaction.on_commit(wakeups.wake)


# ---------------------------------------------------------------- operators


def job_retry(job_id, *, enqueue: bool = True) -> tuple[bool, str]:
    """Put a failed, finished or stuck job back in the queue. Refuses one that a live worker is rendering.

    With enqueue=False the job is left PENDING for the caller to render (the render_job command).
    """
    requeued = Job.objects.retryable().filter(id=job_id).update(
        status=Status.PENDING, progress=0, current_step="Queued again", error_message="",
        completed_at=None, updated_at=timezone.now(), attempt_limit=F("attempts") + settings.RENDER_MAX_ATTEMPTS,
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


# ---------------------------------------------------------------- deleting and retention

# A queued job may be withdrawn (the lock keeps a worker from taking it meanwhile); one being uploaded or
# rendered may not.
DELETABLE = (*Job.ENDED, Status.PENDING)
MB = 1024 * 1024
# Jobs the sweep deletes in one pass, oldest first: a backlog (retention just turned on) goes over a few
# passes instead of one pass outliving the housekeeping task's timeout.
PURGE_PER_PASS = 100


@dataclass(frozen=True)
class Freed:
    """What a delete or a purge removed: jobs and the bytes of their files (shared files only with the last)."""

    jobs: int = 0
    bytes: int = 0

    def __add__(self, other: Freed) -> Freed:
        return Freed(self.jobs + other.jobs, self.bytes + other.bytes)

    @property
    def megabytes(self) -> float:
        return self.bytes / MB

    def __str__(self) -> str:
        return f"{self.jobs} job{'s' if self.jobs != 1 else ''} ({self.megabytes:.1f} MB)"


def job_delete(job_id) -> tuple[bool, str]:
    """Delete a job now: the files no other job uses first, then its row. Refuses one being uploaded or
    rendered (the row is locked meanwhile, so no worker takes a queued one while it goes).

    Raises stored_files.NotDeleted, the job kept, when the storage refuses a file."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(id=job_id).first()
        if job is None:
            return False, "no such job"
        if job.status == Status.PROCESSING:
            return False, "a worker is rendering it right now"
        if job.status not in DELETABLE:
            return False, "its files are still being uploaded"
        _delete(job)
    return True, "deleted"


def _delete(job: Job) -> Freed:
    freed = stored_files.delete(stored_files.unshared(stored_files.job_files(job), besides=[job.id]))
    job.delete()  # jobs/signals.py finds the files gone already
    return Freed(1, freed)


def expired(cutoff) -> JobQuerySet:
    """Jobs that ended (finished or failed) before `cutoff`; a job that never says when it ended counts
    from its last change. Never a queued, uploading or rendering job."""
    ended_at = Coalesce("completed_at", "updated_at")
    return Job.objects.filter(status__in=Job.ENDED).alias(ended_at=ended_at).filter(ended_at__lt=cutoff)


def job_purge(older_than: timedelta, *, dry_run: bool = False, at_most: int | None = None) -> Freed:
    """Delete the jobs that ended more than `older_than` ago (the oldest `at_most` of them), each with its
    files first, then its row; a file shared with a job that stays is kept. With dry_run, only says what
    would go."""
    cutoff = timezone.now() - older_than
    ids = list(expired(cutoff).order_by("ended_at").values_list("id", flat=True)[:at_most])
    if dry_run:
        files = [file for job in Job.objects.filter(id__in=ids) for file in stored_files.job_files(job)]
        return Freed(len(ids), sum(map(stored_files.size_of, stored_files.unshared(files, besides=ids))))
    freed = Freed()
    for job_id in ids:
        try:
            with transaction.atomic():
                # Locked and asked again: a job retried since the list was made stays.
                job = expired(cutoff).select_for_update().filter(id=job_id).first()
                if job is not None:
                    freed += _delete(job)
        except stored_files.NotDeleted as exc:
            log.warning("job %s kept for the next clean-up: %s", job_id, exc, extra=job_fields(job_id, "purge"))
    return freed


def purge_expired() -> Freed:
    """The retention clean-up (JOB_RETENTION_DAYS; 0 keeps every job), on the housekeeping sweep."""
    if settings.JOB_RETENTION_DAYS <= 0:
        return Freed()
    freed = job_purge(timedelta(days=settings.JOB_RETENTION_DAYS), at_most=PURGE_PER_PASS)
    if freed.jobs:
        log.info("retention: deleted %s older than %s days", freed, settings.JOB_RETENTION_DAYS)
    return freed


# ---------------------------------------------------------------- remixing

MAX_SEED = 2**31 - 1  # Job.seed is a PositiveIntegerField


class JobConflict(Exception):
    """The job is not in a state that allows this (a remix of a job still rendering); the message says why."""


def validate_seed(seed: object) -> int:
    """The seed as a whole number from 0 to MAX_SEED; JobInputError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise JobInputError("seed", f"Seed must be a whole number from 0 to {MAX_SEED}.")
    return seed


def new_seed(other_than: int = 0) -> int:
    """A random seed from 1 to MAX_SEED, other than the given one, so the edit differs from it."""
    while (seed := secrets.randbelow(MAX_SEED) + 1) == other_than:
        pass
    return seed


def job_remix(
    source: Job,
    *,
    style: str,
    duration: float | None = None,
    aspect_ratio: str | None = None,
    seed: int | None = None,
    client_address: str | None = None,
    enqueue: bool = True,
    callback_url: str = "",
) -> Job:
    """A new job on the source job's stored files, queued: another style, length, shape or seed, no upload.

    The new Visual and Audio rows name the very files the source's do (no copies; a file is deleted
    with the last job that uses it, jobs/signals.py), and the new job belongs to whoever the source
    belongs to (its owner key and token hash are copied). duration and aspect_ratio default to the
    source's; seed None picks a random one other than the source's, so the edit differs from it.
    Raises JobInputError for a bad setting and JobConflict for a source that has not ended or whose
    files are no longer kept.
    """
    duration = source.duration if duration is None else duration
    aspect_ratio = aspect_ratio or source.aspect_ratio
    validate_settings(style, duration, aspect_ratio)
    seed = new_seed(other_than=source.seed) if seed is None else validate_seed(seed)
    validate_callback_url(callback_url)
    if source.status not in Job.ENDED:
        raise JobConflict("This video is still being made: remix it once it has finished.")
    visuals = list(source.visuals.all())
    audio = Audio.objects.filter(job=source).first()
    if not visuals or audio is None or not all(f.file.storage.exists(f.file.name) for f in [*visuals, audio]):
        raise JobConflict("The files of this video are no longer kept: upload them again to make another.")
    with transaction.atomic():
        job = Job.objects.create(
            style=style, duration=duration, aspect_ratio=aspect_ratio, seed=seed, remixed_from=source,
            owner_key=source.owner_key, token_hash=source.token_hash, client_address=client_address,
            status=Status.PENDING, current_step="Queued", callback_url=callback_url,
        )
        if refusal := quotas.refusal_counting(job):  # remixes sent side by side all passed the early check
            raise quotas.OverLimit(refusal)  # rolls the new row back
        Visual.objects.bulk_create(
            Visual(
                job=job, file=visual.file.name, original_name=visual.original_name, file_size=visual.file_size,
                duration=visual.duration, width=visual.width, height=visual.height, file_type=visual.file_type,
                order=visual.order,
            )
            for visual in visuals
        )
        Audio.objects.create(
            job=job, file=audio.file.name, original_name=audio.original_name, file_size=audio.file_size,
            duration=audio.duration,
        )
        if enqueue:
            job_enqueue(job.id)
    metrics.job_created()
    return job


def job_sweep() -> dict[str, int]:
    """One pass: wake workers for jobs left without a wake-up (lost messages, dead hosts, dead workers'
    jobs), forget workers long silent, clear what crashed uploads left behind, and delete the jobs past
    retention."""
    # A worker's claim decides a dead worker's job: it re-takes it, or fails it once its attempts are used up.
    requeued = wakeups.top_up(waited_s=WAKE_AFTER_S)
    abandoned = list(Job.objects.abandoned_uploads())
    for job in abandoned:
        _discard(job)
    tmp_files = 0
    cutoff = upload_cutoff().timestamp()
    for leftover in upload_temp_dir().iterdir():
        if leftover.stat().st_mtime >= cutoff:
            continue
        if leftover.is_dir():  # a job's files being checked when its process died
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        tmp_files += 1
    expired_jobs = purge_expired()
    return {
        "requeued": requeued, "abandoned_uploads": len(abandoned), "temp_files": tmp_files,
        "workers_forgotten": forget_silent(), "expired_jobs": expired_jobs.jobs, "freed_bytes": expired_jobs.bytes,
    }
