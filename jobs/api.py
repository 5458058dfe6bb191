"""The JSON API for non-browser clients (and the editor's video preview): upload, status, plan, download, styles.

No session, so no CSRF token: every view is csrf_exempt. Browsers on other origins are refused unless
the origin is in CORS_ALLOWED_ORIGINS (django-cors-headers answers their preflights).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from media_pipeline.style import STYLES

from . import quotas, services, stored_files
from .clients import client_address
from .forms import RemixForm, submit
from .models import INTERRUPTED_STEP, Job
from .ownership import api_stamp, may_act
from .ranges import ranged_file_response
from .storage import job_storage

View = Callable[..., HttpResponse]
NOT_FOUND = "Job not found"
NOT_OWNER = "Only the maker of this video may {action} it: send its token as Authorization: Bearer <token>."


def error(detail: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def api_view(*methods: str) -> Callable[[View], View]:
    """csrf_exempt, a JSON 405 for other methods, and a 403 for browsers on origins not allowed."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(f"Method {request.method} not allowed: use {' or '.join(methods)}.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            if not origin_allowed(request):
                return error("Cross-origin requests from this origin are not allowed.", 403)
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorate


def origin_allowed(request: HttpRequest) -> bool:
    """True for clients that send no Origin (curl, scripts), the site itself, and the listed origins."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == f"{request.scheme}://{request.get_host()}":
        return True
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False):
        return True
    return origin in (*settings.CORS_ALLOWED_ORIGINS, *settings.CSRF_TRUSTED_ORIGINS)


def _job_or_none(job_id: str) -> Job | None:
    try:
        return Job.objects.get(id=uuid.UUID(job_id))
    except (ValueError, Job.DoesNotExist):
        return None


# ---------------------------------------------------------------- views


@api_view("POST")
def upload(request: HttpRequest) -> JsonResponse:
    stamp, token = api_stamp(request)
    job, form = submit(request, **stamp)
    if job is None:
        field, message = form.first_error()
        # 400 for what the request holds, 413 too large, 429 over the client's limits, 507 no disk space.
        response = error(message, form.status, field=field)
        if form.retry_after:
            response["Retry-After"] = str(form.retry_after)
        return response
    return JsonResponse({
        "job_id": str(job.id),
        "status": job.status,
        "message": "Upload received: your video is queued for rendering.",
        "status_url": request.build_absolute_uri(reverse("api-job", args=[job.id])),
        # Shown this once (the job keeps only its hash): send it as `Authorization: Bearer <token>` to retry,
        # remix or delete the job.
        "token": token,
    })


@api_view("POST")
def remix(request: HttpRequest, job_id: str) -> JsonResponse:
    """A new job from a finished or failed job's files, in another style, length, shape or seed: no upload."""
    source = _job_or_none(job_id)
    if source is None:
        return error(NOT_FOUND, 404)
    if not may_act(request, source):
        return error("Only the maker of this video may remix it: send its token as Authorization: Bearer <token>.", 403)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return error('Send a JSON object, e.g. {"style": "NEON_NIGHT"}.', 400, field="__all__")
    form = RemixForm(body)
    if not form.is_valid():
        field, message = form.first_error()
        return error(message, 400, field=field)
    address = client_address(request)
    if refusal := quotas.upload_refusal(address):
        response = error(refusal.detail, 429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    try:
        job = services.job_remix(source, **form.remix_input(), client_address=address)
    except services.JobInputError as exc:
        return error(exc.message, 400, field=exc.field)
    except services.JobConflict as exc:
        return error(str(exc), 409, job_status=source.status)
    return JsonResponse({
        "job_id": str(job.id),
        "status": job.status,
        "message": "Remix queued: your video is made again from the same files.",
        "status_url": request.build_absolute_uri(reverse("api-job", args=[job.id])),
        "remixed_from": str(source.id),
        "seed": job.seed,
    })


@api_view("GET", "HEAD", "DELETE")
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job_or_none(job_id)
    if job is None:
        return error(NOT_FOUND, 404)
    if request.method == "DELETE":
        return _delete(request, job)
    return JsonResponse(job_to_dict(job, request))


def _delete(request: HttpRequest, job: Job) -> HttpResponse:
    if not may_act(request, job):
        return error(NOT_OWNER.format(action="delete"), 403)
    try:
        deleted, why = services.job_delete(job.id)
    except stored_files.NotDeleted:
        return error("The video's files could not be deleted right now, so it is kept: try again in a moment.", 503)
    if deleted:
        return HttpResponse(status=204)
    if not Job.objects.filter(id=job.id).exists():
        return error(NOT_FOUND, 404)
    return error(f"This job cannot be deleted now: {why}.", 409, job_status=job.status)


@api_view("POST")
def retry(request: HttpRequest, job_id: str) -> JsonResponse:
    """Queue a failed or finished job again, on the same files and settings."""
    job = _job_or_none(job_id)
    if job is None:
        return error(NOT_FOUND, 404)
    if not may_act(request, job):
        return error(NOT_OWNER.format(action="retry"), 403)
    queued, why = services.job_retry(job.id)
    if not queued:
        return error(f"This job cannot be queued again now: {why}.", 409, job_status=job.status)
    job.refresh_from_db()
    return JsonResponse(job_to_dict(job, request), status=202)


@api_view("GET", "HEAD")
def job_plan(request: HttpRequest, job_id: str) -> JsonResponse:
    job = _job_or_none(job_id)
    if job is None:
        return error(NOT_FOUND, 404)
    if not job.plan:
        return error("This job has no plan yet: it is made when rendering starts.", 404)
    return JsonResponse(public_plan(job))


@api_view("GET", "HEAD")
def download(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job_or_none(job_id)
    if job is None:
        return error(NOT_FOUND, 404)
    if job.status != Job.Status.COMPLETED or not job.output_video:
        return error("Job not completed yet", 400, job_status=job.status)
    storage = job_storage()
    if settings.S3_PRESIGNED_DOWNLOADS and (url := storage.presigned_url(job.output_video.name, download_name(job))):
        return HttpResponseRedirect(url)  # opt-in: the client fetches it from the bucket itself
    try:
        return ranged_file_response(request, storage, job.output_video.name, download_name(job))
    except FileNotFoundError:
        return error("The finished video is missing on the server: try rendering it again.", 404)


@api_view("GET", "HEAD")
def poster(request: HttpRequest, job_id: str) -> HttpResponse:
    """The finished video's poster: a small JPEG of its liveliest shot, read through the job's storage."""
    job = _job_or_none(job_id)
    if job is None:
        return error(NOT_FOUND, 404)
    if not job.poster:
        return error("This job has no poster: it is made when the video is finished.", 404, job_status=job.status)
    try:
        image = job.poster.open("rb")
    except FileNotFoundError:
        return error("The poster is missing on the server.", 404)
    response = FileResponse(image, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"  # a re-render replaces it under the same name
    return response


@api_view("GET", "HEAD")
def styles(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "styles": [
            {"name": style.name, "label": style.label, "description": style.description}
            for style in STYLES.values()
        ]
    })


@csrf_exempt
def not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return error(
        "Not found: see /api/styles, /api/upload, /api/jobs/<id>, /api/jobs/<id>/plan, /api/jobs/<id>/remix, "
        "/api/jobs/<id>/poster, /api/download/<id>.", 404,
    )


# ---------------------------------------------------------------- representations


def job_to_dict(job: Job, request: HttpRequest | None = None) -> dict[str, Any]:
    """The job as GET /api/jobs/<id> answers it; without a request (a callback) its URLs start with PUBLIC_URL."""
    completed = job.status == Job.Status.COMPLETED and bool(job.output_video)
    return {
        "id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        # A job whose worker was lost says so at once, as its page does, not the step it froze on.
        "current_step": INTERRUPTED_STEP if job.interrupted else job.current_step,
        "style": job.style,
        "duration": job.duration,
        "aspect_ratio": job.aspect_ratio,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.completed_at),
        "error_message": job.error_message or None,
        "output_video_url": absolute_url(reverse("api-download", args=[job.id]), request) if completed else None,
        "poster_url": absolute_url(reverse("api-job-poster", args=[job.id]), request) if job.poster else None,
        # A remix says what it was made from and which edit it is (the same seed gives the same plan).
        "remixed_from": str(job.remixed_from_id) if job.remixed_from_id else None,
        "seed": job.seed,
    }


def absolute_url(path: str, request: HttpRequest | None) -> str:
    return request.build_absolute_uri(path) if request is not None else settings.PUBLIC_URL + path


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def download_name(job: Job) -> str:
    style = re.sub(r"[^a-z0-9]+", "-", job.style.lower()).strip("-") or "video"
    return f"cutline-{style}-{job.id.hex[:8]}.mp4"


def public_plan(job: Job) -> dict[str, Any]:
    """The job's plan with every server path replaced by the creator's own file name."""
    plan = copy.deepcopy(job.plan)
    names: dict[str, str] = {}
    for visual in job.visuals.all():
        names[Path(visual.file.name).name] = visual.original_name
    audio = getattr(job, "audio", None)
    if audio is not None:
        names[Path(audio.file.name).name] = audio.original_name
    return _scrub_paths(plan, names)


def _scrub_paths(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _scrub_paths(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_paths(item, names) for item in value]
    if isinstance(value, str) and _looks_like_path(value):
        base = value.replace("\\", "/").rsplit("/", 1)[-1]
        return names.get(base, base)
    return value


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "\\", "~")) or bool(re.match(r"^[A-Za-z]:[\\/]", text))
