"""The JSON API's representations: a job as GET /api/jobs/<id> answers it (and a callback sends it), its public
plan and its download name. The API's views are jobs/rest.py; the shapes they answer are in jobs/schemas.py.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from .models import INTERRUPTED_STEP, Job


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
