"""The operators' view: inspect jobs, their media and plan; retry or re-render."""

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import services, stored_files
from .models import Audio, Job, Visual, Worker
from .step_timings import in_step_order


class VisualInline(admin.TabularInline):
    model = Visual
    extra = 0
    can_delete = False
    fields = ("order", "original_name", "file_type", "width", "height", "duration", "file_size", "file")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AudioInline(admin.StackedInline):
    model = Audio
    extra = 0
    can_delete = False
    fields = ("original_name", "duration", "file_size", "file")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "poster_thumbnail", "id", "status", "style", "progress", "duration", "aspect_ratio", "attempts",
        "worker_host", "created_at", "updated_at",
    )
    list_filter = ("status", "style", "aspect_ratio")
    search_fields = ("id", "visuals__original_name", "audio__original_name")
    date_hierarchy = "created_at"
    inlines = (VisualInline, AudioInline)
    actions = ("retry_jobs",)
    readonly_fields = (
        "id", "status", "progress", "current_step", "error_message", "attempts", "attempt_limit",
        "created_at", "updated_at", "started_at", "completed_at", "heartbeat_at", "worker_host", "worker_pid",
        "output_video", "poster_thumbnail", "seed", "remixed_from", "step_timings_table", "plan_pretty",
        "callback_url", "callback_attempts", "callback_due_at", "callback_delivered_at", "callback_error",
    )
    exclude = ("plan", "step_timings", "poster")

    @admin.display(description="Poster")
    def poster_thumbnail(self, job: Job) -> str:
        if not job.poster:
            return "-"
        return format_html('<img src="{}" alt="" height="64" loading="lazy">', reverse("api-job-poster", args=[job.id]))

    @admin.display(description="Step timings")
    def step_timings_table(self, job: Job) -> str:
        if not job.step_timings:
            return "-"
        rows = format_html_join("", "<tr><th>{}</th><td>{} s</td></tr>", (
            (step, f"{job.step_timings[step]:.2f}") for step in in_step_order(job.step_timings)
        ))
        return format_html("<table>{}</table>", rows)

    @admin.display(description="Plan")
    def plan_pretty(self, job: Job) -> str:
        if not job.plan:
            return "-"
        return format_html("<pre style='max-height:30em;overflow:auto'>{}</pre>", json.dumps(job.plan, indent=2))

    @admin.action(description="Retry / re-render selected jobs")
    def retry_jobs(self, request, queryset) -> None:
        for job in queryset:
            ok, why = services.job_retry(job.id)
            level = messages.SUCCESS if ok else messages.WARNING
            self.message_user(request, f"Job {job.id}: {why}.", level)

    # Deleting goes through services.job_delete, as the creators' delete does: each job's files first (those
    # no remix still uses), then its row; a job being uploaded or rendered is kept, or its render would be
    # written for a job that is gone.
    def has_delete_permission(self, request, obj: Job | None = None) -> bool:
        busy = obj is not None and obj.status not in services.DELETABLE
        return not busy and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj: Job) -> None:
        self.delete_queryset(request, Job.objects.filter(id=obj.id))

    def delete_queryset(self, request, queryset) -> None:
        for job_id in queryset.values_list("id", flat=True):
            try:
                deleted, why = services.job_delete(job_id)
            except stored_files.NotDeleted as exc:
                deleted, why = False, f"the storage did not delete its files ({exc})"
            if not deleted:
                self.message_user(request, f"Job {job_id} was kept: {why}.", messages.WARNING)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """The render fleet: one row per worker process, written by itself; read-only here."""

    list_display = ("host", "pid", "state", "job", "last_seen", "is_alive", "started_at")
    list_filter = ("state", "host")
    readonly_fields = ("host", "pid", "state", "job", "last_seen", "started_at")

    @admin.display(boolean=True, description="Alive")
    def is_alive(self, worker: Worker) -> bool:
        return worker.alive

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
