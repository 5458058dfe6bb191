"""Jobs and the media they are made of."""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

UPLOAD_TEMP_DIR_NAME = "tmp"  # under MEDIA_ROOT: the same filesystem as the job folders, so keeping a file is a rename


def job_dir(job_id) -> str:
    """Where a job's files live, relative to MEDIA_ROOT."""
    return f"jobs/{job_id}"


def upload_temp_dir() -> Path:
    """Where uploads stream to before they are checked (read at call time: tests move MEDIA_ROOT); made if missing."""
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_TEMP_DIR_NAME
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def job_save_plan(job_id, plan: dict) -> None:
    """Store a job's plan (the engine saves it as soon as it is made, before the render)."""
    Job.objects.filter(id=job_id).update(plan=plan, updated_at=timezone.now())


def _default_attempt_limit() -> int:
    return settings.RENDER_MAX_ATTEMPTS


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
    duration = models.FloatField(default=30.0, help_text="Requested length of the video, in seconds")
    aspect_ratio = models.CharField(max_length=8, default="9:16")
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

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="job_status_created")]

    def __str__(self) -> str:
        return f"{self.style} job {self.id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.ENDED


def _visual_path(instance: "Video", filename: str) -> str:
    return f"{job_dir(instance.job_id)}/{filename}"


class Video(models.Model):
    """One visual of a job: a clip or a photo."""

    class FileType(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE = "image", "Image"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="videos")
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
