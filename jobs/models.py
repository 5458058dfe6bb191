"""Jobs and the media they are made of: what a job may ask for, and which jobs are ready for what."""

import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from media_pipeline.limits import ASPECT_LABELS, ASPECTS, DEFAULT_ASPECT, DEFAULT_DURATION, MAX_DURATION, MIN_DURATION

# The shapes a job may ask for, as the admin and the forms show them ("9:16 Vertical").
ASPECT_CHOICES = [(ratio, f"{ratio} {ASPECT_LABELS[ratio]}") for ratio in ASPECTS]

UPLOAD_TEMP_DIR_NAME = "tmp"  # under MEDIA_ROOT: the same filesystem as the job folders, so keeping a file is a rename
UPLOAD_ABANDONED_S = 3600  # an upload request never takes this long: its process died
# What the job page and the admin say while a job whose worker was lost or stopped waits for another one.
INTERRUPTED_STEP = "The render was interrupted; resuming"
WORKER_BEAT_S = 10  # a render worker process writes its row this often, rendering or idle
WORKER_FORGOTTEN_S = 3600  # the sweep removes rows of workers silent this long (hosts that went away)


def job_dir(job_id) -> str:
    """Where a job's files live, relative to MEDIA_ROOT."""
    return f"jobs/{job_id}"


def upload_temp_dir() -> Path:
    """Where uploads stream to before they are checked (read at call time: tests move MEDIA_ROOT); made if missing."""
    folder = Path(settings.UPLOAD_TEMP_DIR or Path(settings.MEDIA_ROOT) / UPLOAD_TEMP_DIR_NAME)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lease_start():
    """A worker that has not written to its job since this moment is taken as dead (RENDER_LEASE_S)."""
    return timezone.now() - timedelta(seconds=settings.RENDER_LEASE_S)


def upload_cutoff():
    """An upload (a job or a temporary file) older than this was left by a request that died."""
    return timezone.now() - timedelta(seconds=UPLOAD_ABANDONED_S)


def _default_attempt_limit() -> int:
    return settings.RENDER_MAX_ATTEMPTS


def _stale() -> Q:
    return Q(status=Job.Status.PROCESSING, heartbeat_at__lt=lease_start())


class JobQuerySet(models.QuerySet):
    """Which jobs a worker, an operator or the sweep may act on (the lease is read at call time)."""

    def stale(self) -> "JobQuerySet":
        """PROCESSING jobs whose worker stopped writing for RENDER_LEASE_S (killed, out of memory)."""
        return self.filter(_stale())

    def claimable(self) -> "JobQuerySet":
        """Jobs a worker may take: PENDING ones, and stale ones (django-q2 redelivers their task)."""
        return self.filter(Q(status=Job.Status.PENDING) | _stale())

    def retryable(self) -> "JobQuerySet":
        """Jobs an operator may queue again: ended ones, stale ones, and PENDING ones no worker has taken."""
        stuck_in_queue = Q(status=Job.Status.PENDING, updated_at__lt=lease_start())
        return self.filter(Q(status__in=Job.ENDED) | _stale() | stuck_in_queue)

    def waiting_since(self, moment) -> "JobQuerySet":
        """Claimable jobs that have waited since before `moment`: PENDING ones not touched since, and stale ones."""
        return self.filter(Q(status=Job.Status.PENDING, updated_at__lt=moment) | _stale())

    def abandoned_uploads(self) -> "JobQuerySet":
        """Jobs still UPLOADING long after any upload would have finished: their request died."""
        return self.filter(status=Job.Status.UPLOADING, created_at__lt=upload_cutoff())


class Job(models.Model):
    class Status(models.TextChoices):
        UPLOADING = "UPLOADING", "Uploading"
        PENDING = "PENDING", "Queued"
        PROCESSING = "PROCESSING", "Processing"
        COMPLETED = "COMPLETED", "Completed"
        FAILED = "FAILED", "Failed"

    ENDED = (Status.COMPLETED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADING, db_index=True)
    style = models.CharField(max_length=32)
    duration = models.FloatField(
        default=DEFAULT_DURATION,
        validators=[MinValueValidator(MIN_DURATION), MaxValueValidator(MAX_DURATION)],
        help_text="Requested length of the video, in seconds",
    )
    aspect_ratio = models.CharField(max_length=8, choices=ASPECT_CHOICES, default=DEFAULT_ASPECT)
    progress = models.PositiveSmallIntegerField(default=0)
    current_step = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Written with every progress update: a PROCESSING job whose heartbeat is
    # older than RENDER_LEASE_S has lost its worker and may be claimed again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    output_video = models.FileField(upload_to=job_dir, max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker has claimed the job")
    # Claims allowed before a crash-looping job is given up; a retry from the admin raises it.
    attempt_limit = models.PositiveSmallIntegerField(default=_default_attempt_limit)
    plan = models.JSONField(null=True, blank=True, help_text="What the pipeline decided")
    # Who holds (or last held) the job: the render worker's host and process id.
    worker_host = models.CharField(max_length=255, blank=True)
    worker_pid = models.PositiveIntegerField(null=True, blank=True)
    # A remix is a new job on the same stored files; its seed picks among equally good edits.
    seed = models.PositiveIntegerField(default=0, help_text="Another seed gives another edit of the same files")
    remixed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="remixes")
    # Who may act on the job (retry, remix, delete): the browser that made it, or the API client holding its token.
    owner_key = models.CharField(max_length=64, blank=True, db_index=True, help_text="Hash of the maker's browser key")
    token_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the API token given once at upload")
    client_address = models.GenericIPAddressField(null=True, blank=True, help_text="Where the upload came from")
    step_timings = models.JSONField(default=dict, blank=True, help_text="Seconds each step of the last render took")
    poster = models.FileField(upload_to=job_dir, max_length=300, blank=True)
    # Where to POST the job's JSON when it ends, and how that delivery stands.
    callback_url = models.URLField(max_length=2000, blank=True)
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    callback_delivered_at = models.DateTimeField(null=True, blank=True)
    callback_error = models.CharField(max_length=300, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["client_address", "created_at"], name="job_client_created"),
        ]

    def __str__(self) -> str:
        return f"{self.style} job {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.ENDED

    @property
    def interrupted(self) -> bool:
        """Its worker was lost (silent for a lease) or stopped, and the job waits to be taken up again."""
        if self.status == self.Status.PROCESSING:
            return self.heartbeat_at is not None and self.heartbeat_at < lease_start()
        return self.status == self.Status.PENDING and self.current_step == INTERRUPTED_STEP


class Worker(models.Model):
    """One render worker process (a qcluster worker on some host): what it does and when it was last heard from."""

    class State(models.TextChoices):
        IDLE = "idle", "Idle"
        RENDERING = "rendering", "Rendering"
        STOPPING = "stopping", "Stopping"

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.IDLE)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["host", "pid"]
        constraints = [models.UniqueConstraint(fields=["host", "pid"], name="worker_host_pid")]

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"

    @property
    def alive(self) -> bool:
        """Heard from within three beats; a silent one was killed or its host went away."""
        return self.last_seen >= timezone.now() - timedelta(seconds=3 * WORKER_BEAT_S)


def _visual_path(instance: "Visual | Audio", filename: str) -> str:
    # Named in the 0001 migration; used by the song too.
    return f"{job_dir(instance.job_id)}/{filename}"


class Visual(models.Model):
    """One visual of a job: a clip or a photo (the API and the form call them `videos`)."""

    class FileType(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE = "image", "Image"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="visuals")
    file = models.FileField(upload_to=_visual_path, max_length=300)
    original_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField()
    duration = models.FloatField(default=0.0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    file_type = models.CharField(max_length=8, choices=FileType.choices)
    order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.original_name


class Audio(models.Model):
    """The job's song."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="audio")
    file = models.FileField(upload_to=_visual_path, max_length=300)
    original_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField()
    duration = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.original_name
