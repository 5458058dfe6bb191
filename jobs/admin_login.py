"""The admin's sign-in, limited per client address: after ADMIN_LOGIN_ATTEMPTS failed sign-ins within
ADMIN_LOGIN_WINDOW_S the login form answers 429, saying when to try again, until the window is over.

The failures are counted in a cache of files under VAR_DIR (the "admin_login" cache), which every web
process of the host shares, with no table and no service to run. django-axes would do it too, but brings
middleware, an authentication backend, its own tables and admin pages for what is one counter per address.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .clients import client_address

CACHE = "admin_login"


def limited(login: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap the admin's login view: refuse sign-ins from an address with too many recent failures, count
    each failure (a POST that is not answered with the redirect of a success) and forget them on success."""

    @wraps(login)
    def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return login(request, *args, **kwargs)
        key = f"failures:{client_address(request) or 'unknown'}"
        wait = seconds_left(key)
        if wait:
            return refused(request, wait)
        response = login(request, *args, **kwargs)
        if response.status_code == 302:
            caches[CACHE].delete(key)
        elif response.status_code == 200:
            _count_failure(key)
        return response

    return view


def seconds_left(key: str) -> int:
    """How long the address must wait before its next try; 0 while it is under the limit."""
    record = caches[CACHE].get(key)
    if not record or record["failures"] < settings.ADMIN_LOGIN_ATTEMPTS:
        return 0
    return max(1, math.ceil(record["until"] - time.time()))


def _count_failure(key: str) -> None:
    now = time.time()
    record = caches[CACHE].get(key) or {"failures": 0, "until": now + settings.ADMIN_LOGIN_WINDOW_S}
    record["failures"] += 1
    # The window runs from the first failure: set() keeps its end rather than restarting it.
    caches[CACHE].set(key, record, timeout=max(1, math.ceil(record["until"] - now)))


def refused(request: HttpRequest, wait: int) -> HttpResponse:
    minutes = math.ceil(wait / 60)
    message = (
        f"Too many failed sign-ins from your address. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    context = {**admin.site.each_context(request), "title": "Sign-in paused", "message": message}
    response = TemplateResponse(request, "admin/login_limited.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response
