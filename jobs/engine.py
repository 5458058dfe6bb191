"""The bridge from a Job row to the media pipeline: probe, beats, plan, render."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    from media_pipeline.beat import analyze_music_apart
    from media_pipeline.edit_plan import plan_to_dict
    from media_pipeline.framing import with_focus
    from media_pipeline.look import liveliness, survey
    from media_pipeline.loudness import with_music_gain
    from media_pipeline.probe import probe_audio, probe_visual
    from media_pipeline.render import render
    from media_pipeline.segment import plan_edit
    from media_pipeline.style import get_style

    report(2, "Reading your files")
    visuals = [probe_visual(video.file.path) for video in job.videos.all()]
    music = probe_audio(job.audio.file.path)
    # ffmpeg looks at the clips while the song is analysed in a process of its own. The
    # analysis stays on this thread: a Ctrl-C or a cancelled task stops it at once.
    report(5, "Looking at your clips")
    with ThreadPoolExecutor(max_workers=1) as pool:
        looking = pool.submit(survey, visuals)
        report(8, "Finding the beat")
        grid = analyze_music_apart(music.path, cache_dir=str(settings.BEAT_CACHE_DIR))
        looks = looking.result()
    report(15, "Planning the cuts")
    style = get_style(job.style)
    plan = plan_edit(
        visuals, music, grid, style, duration=job.duration, aspect=job.aspect_ratio,
        liveliness=[liveliness(look) for look in looks],
    )
    plan = with_focus(plan, looks)
    plan = with_music_gain(plan, style.audio.loudness)
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
