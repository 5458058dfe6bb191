"""Who may act on a job (retry, remix, delete): the browser that made it, or an API client holding its token.

A browser gets a random key in its session the first time it makes a job; the job stores only the key's
SHA-256 (`Job.owner_key`), so the database never holds anything that would let someone act as the browser.
An API upload gets a token, returned once; the job stores its SHA-256 (`Job.token_hash`) and the client sends
it back as `Authorization: Bearer <token>`. Anyone with a job's unguessable link may still watch and download
it (for sharing); acting on it needs one of the two.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.http import HttpRequest

from .models import Job, JobQuerySet

SESSION_KEY = "cutline_owner"  # the browser's owner key, in its session
TOKEN_BYTES = 32
LONGEST_COOKIE_S = 400 * 24 * 3600  # browsers keep a cookie at most 400 days (RFC 6265bis)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def browser_key(request: HttpRequest, *, create: bool = False) -> str | None:
    """The hash of this browser's owner key; with `create`, a key is made and kept in its session first."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    secret = session.get(SESSION_KEY)
    if secret is None:
        if not create:
            return None
        secret = secrets.token_urlsafe(TOKEN_BYTES)
        session[SESSION_KEY] = secret
    return _digest(secret)


def new_token() -> tuple[str, str]:
    """A fresh API token and the hash the job keeps of it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, _digest(token)


def bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def page_stamp(request: HttpRequest) -> dict[str, str]:
    """The owner fields of a job made from the editor page: this browser (a key is made the first time)."""
    key = browser_key(request, create=True) or ""
    if key:
        _outlast_retention(request.session)
    return {"owner_key": key}


def _outlast_retention(session) -> None:
    """Keep the session (and so the browser's list) at least as long as its newest job is kept: a day more
    than JOB_RETENTION_DAYS, the longest a browser keeps a cookie when jobs are kept forever."""
    days = settings.JOB_RETENTION_DAYS
    keep_s = LONGEST_COOKIE_S if days == 0 else min((days + 1) * 24 * 3600, LONGEST_COOKIE_S)
    if keep_s > settings.SESSION_COOKIE_AGE:
        session.set_expiry(keep_s)


def api_stamp(request: HttpRequest) -> tuple[dict[str, str], str]:
    """The owner fields of a job made through POST /api/upload, and its token, to be returned once.

    A request that carries a session cookie (a browser) owns the job through its session too.
    """
    token, token_hash = new_token()
    in_browser = settings.SESSION_COOKIE_NAME in request.COOKIES
    return {"owner_key": browser_key(request, create=in_browser) or "", "token_hash": token_hash}, token


def may_act(request: HttpRequest, job: Job) -> bool:
    """True when the request comes from the job's browser or carries the job's token."""
    key = browser_key(request)
    if key and job.owner_key and hmac.compare_digest(key, job.owner_key):
        return True
    token = bearer_token(request)
    return bool(token and job.token_hash and hmac.compare_digest(_digest(token), job.token_hash))


def own_jobs(request: HttpRequest) -> JobQuerySet:
    """The jobs this browser made (none for a browser that never made one)."""
    key = browser_key(request)
    return Job.objects.filter(owner_key=key) if key else Job.objects.none()
