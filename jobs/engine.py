"""The bridge from a Job row to the media pipeline: probe, beats, plan, render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from .models import Job, job_dir, job_save_plan

# Share of the progress bar each step takes; rendering dominates.
RENDER_FROM, RENDER_TO = 20.0, 99.0


def output_name(job: Job) -> str:
    """The render's path relative to MEDIA_ROOT."""
    return f"{job_dir(job.id)}/cutline-{job.id.hex[:8]}.mp4"


def render_job_media(job: Job, report: Callable[[float, str], None]) -> tuple[str, dict]:
    """Render the job's files into its output MP4. Returns (output name, plan as a dict with its "sync" report)."""
    from media_pipeline.pipeline import plan_job
    from media_pipeline.plan import plan_to_dict
    from media_pipeline.render import render

    plan = plan_job(
        [visual.file.path for visual in job.videos.all()],
        job.audio.file.path,
        job.style,
        duration=job.duration,
        aspect=job.aspect_ratio,
        cache_dir=str(settings.BEAT_CACHE_DIR),
        on_progress=lambda percent, step: report(percent * RENDER_FROM / 100, step),
    )
    plan_dict = plan_to_dict(plan)
    job_save_plan(job.id, plan_dict)
    report(RENDER_FROM, "Rendering")
    name = output_name(job)
    span = RENDER_TO - RENDER_FROM
    result = render(
        plan,
        str(Path(settings.MEDIA_ROOT) / name),
        on_progress=lambda percent, step: report(RENDER_FROM + percent * span / 100, step),
        timeout=settings.RENDER_TIMEOUT_S,
        stall_timeout=settings.RENDER_STALL_S,
        should_cancel=getattr(report, "should_cancel", None),
    )
    # Where each cut came out and how far from its beat, stored with the plan the job completes with.
    plan_dict["sync"] = result.sync.as_dict()
    return name, plan_dict
