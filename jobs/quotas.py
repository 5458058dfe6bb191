"""Abuse limits, counted from the Job table (no Redis: every web process and host sees the same rows).

Per client address (jobs/clients.py): at most UPLOADS_PER_HOUR jobs made in the last hour and
MAX_QUEUED_PER_CLIENT jobs not yet finished. The upload handler asks before it stores any of the body.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import Job

WINDOW = timedelta(hours=1)
# A queued job usually ends within a few minutes; a client at its queue limit is asked back after this.
QUEUE_RETRY_AFTER_S = 60


@dataclass(frozen=True)
class Refusal:
    reason: str  # a fixed word for metrics: "rate_limited" or "queue_full"
    detail: str  # what the client is told, including when to try again
    retry_after: int  # seconds, for the Retry-After header


class OverLimit(Exception):
    """Raised by services.job_create and job_remix when the new job itself takes its client past a limit."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.detail)
        self.refusal = refusal


def upload_refusal(address: str | None, now: datetime | None = None) -> Refusal | None:
    """Why this client may not upload now, or None when it may (asked before the body is read)."""
    return _refusal(address, now, room=0)


def refusal_counting(job: Job) -> Refusal | None:
    """Asked once the job's row exists, so it counts too: uploads sent side by side all pass the early check
    before any of their rows exists, and the later ones are refused here (before their files are kept)."""
    return _refusal(job.client_address, None, room=1)


def _refusal(address: str | None, now: datetime | None, room: int) -> Refusal | None:
    """`room` jobs of the client's already counted are the one being decided."""
    if not address:
        return None
    now = now or timezone.now()
    per_hour = settings.UPLOADS_PER_HOUR
    if per_hour:
        recent = Job.objects.filter(client_address=address, created_at__gt=now - WINDOW)
        count = recent.count() - room
        if count >= per_hour:
            # The upload whose hour ends first frees a place once the count is back under the limit.
            freeing = recent.order_by("created_at").values_list("created_at", flat=True)[count - per_hour]
            wait = max(1, math.ceil((freeing + WINDOW - now).total_seconds()))
            return Refusal(
                "rate_limited",
                f"Too many videos started from your address: at most {per_hour} an hour (uploads and remixes). "
                f"Try again in {in_words(wait)}.",
                wait,
            )
    queued = settings.MAX_QUEUED_PER_CLIENT
    if queued:
        unfinished = Job.objects.filter(client_address=address).exclude(status__in=Job.ENDED).count() - room
        if unfinished >= queued:
            return Refusal(
                "queue_full",
                f"You already have {unfinished} video{'s' if unfinished != 1 else ''} waiting or rendering "
                f"(at most {queued} at a time). "
                f"Try again when one has finished, in about {in_words(QUEUE_RETRY_AFTER_S)}.",
                QUEUE_RETRY_AFTER_S,
            )
    return None


def in_words(seconds: int) -> str:
    """'45 seconds', 'a minute', '12 minutes'."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes == 1 else f"{minutes} minutes"
