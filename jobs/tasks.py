"""django-q2 tasks: each takes ids and calls the worker or a service."""

from . import services, worker


def render_job(job_id: str) -> str:
    """Render one job; returns its final status for django-q2's task log."""
    job = worker.run(job_id)
    return job.status if job else "not claimed (taken by another worker, or already ended)"


def sweep() -> dict:
    """Scheduled every minute (see the 0002 migration)."""
    return services.job_sweep()
