"""HTML pages and the health check."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from media_pipeline import ffmpeg
from media_pipeline.accept import (
    MUSIC_PICKER,
    MUSIC_SUFFIXES,
    MUSIC_TYPES_TEXT,
    PHOTO_SUFFIXES,
    VIDEO_TYPES_TEXT,
    VISUAL_PICKER,
)
from media_pipeline.image_check import PHOTO_TYPES_TEXT
from media_pipeline.limits import ASPECT_LABELS, DEFAULT_ASPECT, DEFAULT_DURATION, MAX_DURATION, MIN_DURATION
from media_pipeline.style import STYLES

from . import metrics as job_metrics
from . import quotas, services, stored_files
from .clients import client_address
from .forms import JobForm, PrefillForm, RemixForm, style_choices, submit, whole
from .models import Job
from .ownership import may_act, own_jobs, page_stamp
from .storage import job_storage

FORM_FIELDS = ("videos", "music", "style", "duration", "aspect_ratio", "__all__")
RECENT_JOBS = 50

@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, ffmpeg is installed and the storage is usable; 503 with the reason otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not healthy"
        return JsonResponse({"status": "error", "detail": f"database unavailable: {type(exc).__name__}"}, status=503)
    if not ffmpeg.available():
        return JsonResponse({"status": "error", "detail": "ffmpeg or ffprobe is not installed"}, status=503)
    if problem := job_storage().problem():  # a bucket that cannot be reached or refuses the credentials
        return JsonResponse({"status": "error", "detail": problem}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, only for the addresses in METRICS_ALLOWED_IPS (the rest get 403)."""
    # Behind our proxies (TRUSTED_PROXY_COUNT) the address they saw; else the connection's.
    if not job_metrics.may_read(client_address(request) or ""):
        return HttpResponse("Forbidden: /metrics is open only to METRICS_ALLOWED_IPS.\n", status=403,
                            content_type="text/plain; charset=utf-8")
    return HttpResponse(job_metrics.exposition(), content_type=job_metrics.CONTENT_TYPE)


@require_http_methods(["GET", "POST"])
def editor(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _submit(request)
    prefill = PrefillForm(request.GET).initial_values()
    form = JobForm(initial={"duration": whole(DEFAULT_DURATION), "aspect_ratio": DEFAULT_ASPECT, **prefill})
    return render(request, "jobs/editor.html", _editor_context(form))


def _submit(request: HttpRequest) -> HttpResponse:
    job, form = submit(request, **page_stamp(request))
    if job is not None:
        url = reverse("job", args=[job.id])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    # 422, not 400: django-htmx's debug script (DEBUG on) replaces the whole page on a 400.
    if request.htmx:  # the page keeps its form and files; only the messages change
        return render(request, "jobs/_form_errors.html", _editor_context(form), status=422)
    return render(request, "jobs/editor.html", {**_editor_context(form), "files_dropped": True}, status=422)


def _editor_context(form: JobForm) -> dict[str, Any]:
    """The page and its JavaScript read every rule from here (limits.py, accept.py, settings)."""

    def chosen(name: str, default: Any) -> Any:
        value = form[name].value()
        return default if value in (None, "") else value

    first_style = next(iter(STYLES), "")
    return {
        "form": form,
        "styles": list(STYLES.values()),
        "aspects": list(ASPECT_LABELS.items()),
        "chosen_style": chosen("style", first_style),
        "chosen_duration": chosen("duration", whole(DEFAULT_DURATION)),
        "chosen_aspect": chosen("aspect_ratio", DEFAULT_ASPECT),
        "errors": {name.strip("_"): form.errors.get(name, []) if form.is_bound else [] for name in FORM_FIELDS},
        "min_duration": whole(MIN_DURATION),
        "max_duration": whole(MAX_DURATION),
        "max_visuals": settings.MAX_VISUALS,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "video_types": VIDEO_TYPES_TEXT,
        "photo_types": PHOTO_TYPES_TEXT,
        "visual_picker": VISUAL_PICKER,
        "music_types": MUSIC_TYPES_TEXT,
        "music_picker": MUSIC_PICKER,
        "music_suffixes": " ".join(sorted(MUSIC_SUFFIXES)),
        "photo_suffixes": " ".join(sorted(PHOTO_SUFFIXES)),
    }


@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    # This browser's jobs only: the list would give away other people's job links.
    jobs = own_jobs(request).select_related("audio").annotate(visual_count=Count("visuals"))[:RECENT_JOBS]
    labels = dict(style_choices())
    now = timezone.now()
    rows = [{"job": job, "style_label": labels.get(job.style, job.style), "age": _age(job.created_at, now)} for job in jobs]
    return render(request, "jobs/job_list.html", {"rows": rows})


@require_GET
def job_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = get_object_or_404(Job.objects.select_related("audio"), id=job_id)
    context = {
        **_job_context(job), **_remix_context(request, job), "visuals": job.visuals.all(),
        "can_act": may_act(request, job), "retention_days": settings.JOB_RETENTION_DAYS,
    }
    return render(request, "jobs/job.html", context)


@require_GET
def job_status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The progress fragment the job page polls; once the job has ended it no longer asks to be polled."""
    job = get_object_or_404(Job, id=job_id)
    context = {**_job_context(job), **_remix_context(request, job), "can_act": may_act(request, job)}
    return render(request, "jobs/_job_status.html", context)


@require_POST
def job_retry(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = get_object_or_404(Job, id=job_id)
    if not may_act(request, job):
        raise PermissionDenied("Only the browser that made this video may try it again.")
    queued, why = services.job_retry(job.id)
    if queued:
        messages.success(request, "Your video is queued again.")
    else:
        messages.warning(request, f"We could not try again: {why}.")
    return redirect("job", job.id)


@require_POST
def job_delete(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """"Delete this video" (confirmed on the page): the job and its files go at once, then the list."""
    job = get_object_or_404(Job, id=job_id)
    if not may_act(request, job):
        raise PermissionDenied("Only the browser that made this video may delete it.")
    try:
        deleted, why = services.job_delete(job.id)
    except stored_files.NotDeleted:
        deleted, why = False, "its files could not be deleted right now, so it is kept; try again in a moment"
    if not deleted:
        messages.warning(request, f"We could not delete it: {why}.")
        return redirect("job", job.id)
    messages.success(request, "Your video and its files were deleted.")
    return redirect("job-list")


@require_POST
def job_remix(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """"Try another style": a new job on this job's files, then its page; a problem is said on this one."""
    source = get_object_or_404(Job, id=job_id)
    if not may_act(request, source):
        raise PermissionDenied("Only the browser that made this video may remix it.")
    form = RemixForm(request.POST)
    if not form.is_valid():
        messages.warning(request, form.first_error()[1])
        return redirect("job", source.id)
    address = client_address(request)
    if refusal := quotas.upload_refusal(address):
        messages.warning(request, refusal.detail)
        return redirect("job", source.id)
    try:
        job = services.job_remix(source, **form.remix_input(), client_address=address)
    except (services.JobInputError, services.JobConflict) as exc:
        messages.warning(request, str(exc))
        return redirect("job", source.id)
    except quotas.OverLimit as exc:
        messages.warning(request, exc.refusal.detail)
        return redirect("job", source.id)
    return redirect("job", job.id)


def _remix_context(request: HttpRequest, job: Job) -> dict[str, Any]:
    """What the "Try another style" block needs: offered to the job's maker once the job has ended."""
    return {
        "can_remix": job.is_finished and may_act(request, job),
        "remix_styles": list(STYLES.values()),
        "remix_aspects": list(ASPECT_LABELS.items()),
        "min_duration": whole(MIN_DURATION),
        "max_duration": whole(MAX_DURATION),
    }


def _age(moment, now) -> str:
    return "just now" if (now - moment).total_seconds() < 60 else f"{timesince(moment, now)} ago"


def _job_context(job: Job) -> dict[str, Any]:
    end = job.completed_at if job.is_finished and job.completed_at else timezone.now()
    seconds = max(0, int((end - job.created_at).total_seconds()))
    plan = job.plan or {}
    duration = whole(job.duration)
    settings_query = urlencode({"style": job.style, "duration": duration, "aspect_ratio": job.aspect_ratio})
    return {
        "job": job,
        "style_label": dict(style_choices()).get(job.style, job.style),
        "job_duration": duration,
        "elapsed": f"{seconds // 60}:{seconds % 60:02d}",
        "css_aspect": job.aspect_ratio.replace(":", " / "),
        "aspect_label": ASPECT_LABELS.get(job.aspect_ratio, ""),
        "plan_summary": {
            # A beatless plan's cuts follow the song's accents or an even clock, not its tempo.
            "tempo": 0 if plan.get("beatless") else round(plan.get("tempo") or 0),
            "shots": len(plan.get("segments") or []),
            "notes": plan.get("notes") or [],
            # As measured in the finished video, in words: "24 of 24 cuts on the beat".
            "sync": (plan.get("sync") or {}).get("summary") or "",
        } if plan else None,
        "edit_again_url": f"{reverse('editor')}?{settings_query}",
    }
