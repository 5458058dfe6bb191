"""Wake-ups: the django-q2 messages that only tell a render worker to claim the oldest waiting job.

The Job table is the queue. A message names no job, so one held by a busy or dead host costs nothing
but a wake-up that comes later; the sweep and every finished render top them up so that each waiting
job has one a free worker can take.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ
from django_q.tasks import async_task

from .models import Job

WAKE_TASK = "jobs.tasks.render_next"


def wake(count: int = 1) -> None:
    """Queue `count` wake-ups on the render queue (named, so the housekeeping cluster's sweep reaches it too)."""
    for _ in range(count):
        async_task(WAKE_TASK, group="render", cluster=settings.RENDER_QUEUE)


def untaken() -> int:
    """Wake-ups no worker has taken yet (a taken one is locked until django-q2's retry)."""
    return OrmQ.objects.filter(key=settings.RENDER_QUEUE, lock__lte=timezone.now()).count()


def top_up(*, waited_s: float = 0, at_most: int | None = None) -> int:
    """Queue wake-ups for claimable jobs that waited `waited_s` and have none a free worker could take.

    Returns how many were queued.
    """
    waiting = Job.objects.waiting_since(timezone.now() - timedelta(seconds=waited_s)).count()
    missing = waiting - untaken() if waiting else 0
    if at_most is not None:
        missing = min(missing, at_most)
    if missing > 0:
        wake(missing)
    return max(missing, 0)
