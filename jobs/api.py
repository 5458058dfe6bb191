"""The JSON API for non-browser clients (and the editor's video preview): upload, status, plan, download, styles.

No session, so no CSRF token: every view is csrf_exempt. Browsers on other origins are refused unless
the origin is in CORS_ALLOWED_ORIGINS (django-cors-headers answers their preflights).
"""

from __future__ import annotations

import copy
import os
import re
import uuid
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.csrf import csrf_exempt

from . import uploads
from .models import Job

View = Callable[..., HttpResponse]
NOT_FOUND = "Job not found"


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
    job, form = uploads.submit(request)
    if job is None:
        field, message = form.first_error()
        return error(message, 400, field=field)
    return JsonResponse({
        "job_id": str(job.id),
        "status": job.status,
        "message": "Upload received: your video is queued for rendering.",
        "status_url": request.build_absolute_uri(reverse("api-job", args=[job.id])),
    })


@api_view("GET", "HEAD")
def job_detail(request: HttpRequest, job_id: str) -> JsonResponse:
    job = _job_or_none(job_id)
    if job is None:
        return error(NOT_FOUND, 404)
    return JsonResponse(job_to_dict(job, request))


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
    path = Path(settings.MEDIA_ROOT) / job.output_video.name
    if not path.is_file():
        return error("The finished video is missing on the server: try rendering it again.", 404)
    return ranged_file_response(request, path, download_name(job))


@api_view("GET", "HEAD")
def styles(request: HttpRequest) -> JsonResponse:
    from media_pipeline.style import STYLES

    return JsonResponse({
        "styles": [
            {"name": style.name, "label": style.label, "description": style.description}
            for style in STYLES.values()
        ]
    })


@csrf_exempt
def not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return error("Not found: see /api/styles, /api/upload, /api/jobs/<id>, /api/jobs/<id>/plan, /api/download/<id>.", 404)


# ---------------------------------------------------------------- representations


def job_to_dict(job: Job, request: HttpRequest) -> dict[str, Any]:
    completed = job.status == Job.Status.COMPLETED and bool(job.output_video)
    return {
        "id": str(job.id),
        "status": job.status,
        "progress": job.progress,
        "current_step": job.current_step,
        "style": job.style,
        "duration": job.duration,
        "aspect_ratio": job.aspect_ratio,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.completed_at),
        "error_message": job.error_message or None,
        "output_video_url": request.build_absolute_uri(reverse("api-download", args=[job.id])) if completed else None,
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def download_name(job: Job) -> str:
    style = re.sub(r"[^a-z0-9]+", "-", job.style.lower()).strip("-") or "video"
    return f"cutline-{style}-{job.id.hex[:8]}.mp4"


def public_plan(job: Job) -> dict[str, Any]:
    """The job's plan with every server path replaced by the creator's own file name."""
    plan = copy.deepcopy(job.plan)
    names: dict[str, str] = {}
    for video in job.videos.all():
        names[Path(video.file.name).name] = video.original_name
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


# ---------------------------------------------------------------- byte ranges

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, for one satisfiable range; None to send the whole file.

    A malformed header or several ranges are ignored (the whole file is sent, as RFC 9110 allows);
    a well-formed range that lies outside the file raises Unsatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the final N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None  # malformed: ignored
    if start >= size:
        raise Unsatisfiable
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


class _FileSlice:
    """A file read from `start` for `length` bytes, for FileResponse."""

    def __init__(self, path: Path, start: int, length: int):
        self._file = open(path, "rb")
        self._file.seek(start)
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()


def ranged_file_response(request: HttpRequest, path: Path, filename: str) -> HttpResponse:
    """The file as an MP4 attachment, streamed, honouring one byte range (206) so players can seek."""
    stat = path.stat()
    size = stat.st_size
    etag = f'"{size:x}-{stat.st_mtime_ns:x}"'
    last_modified = http_date(stat.st_mtime)
    try:
        byte_range = parse_range(request.headers.get("Range"), size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if byte_range is not None and not _if_range_matches(request.headers.get("If-Range"), etag, stat.st_mtime):
        byte_range = None  # the file changed since the client's first part: send it whole
    start, end = byte_range or (0, size - 1)
    length = max(0, end - start + 1)
    if request.method == "HEAD":
        response = HttpResponse(content_type="video/mp4")
    elif byte_range is None:
        response = FileResponse(open(path, "rb"), content_type="video/mp4")
    else:
        response = FileResponse(_FileSlice(path, start, length), content_type="video/mp4", status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = _attachment(filename)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Last-Modified"] = last_modified
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _if_range_matches(value: str | None, etag: str, mtime: float) -> bool:
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag
    since = parse_http_date_safe(value)
    return since is not None and int(mtime) <= since


def _attachment(filename: str) -> str:
    # download_name() is ASCII letters, digits and hyphens: no quoting or RFC 5987 needed.
    return f'attachment; filename="{os.path.basename(filename)}"'
