"""Browser tests: Playwright driving Debian's chromium (headless) against pytest-django's live_server."""

import os
import shutil
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BEAT_CACHE_DIR = settings.MEDIA_ROOT / "cache" / "beats"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def browser(monkeypatch):
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed")
    # Playwright's sync API keeps an event loop running in this thread; Django's ORM calls made
    # here (test assertions) are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections

    # While Playwright's loop runs, asgiref would give this thread new (context-local) database
    # connections: on SQLite they lock the shared in-memory tables against the live server's, and on
    # PostgreSQL they outlive the test database. Keep using the connections the test already has.
    outer = {alias: connections[alias] for alias in connections}
    with sync_playwright() as playwright:
        for alias, connection in outer.items():
            connections[alias] = connection
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def phone(browser):
    """A page the size of a phone (390x844), with touch, at 3x like most phones."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def render_worker(live_server) -> Iterator[SimpleNamespace]:
    """A stand-in for the django-q2 worker: renders every queued job with the real engine, one at a time.

    With SQLite's in-memory test database it uses the connection the live server shares.
    Yields `.rendered` (job ids) and `.errors` (tracebacks of renders that raised).
    """
    from django.db import connections

    from jobs.models import Job
    from jobs.worker import run as render_job

    shared = dict(live_server.thread.connections_override)
    stop = threading.Event()
    worker = SimpleNamespace(rendered=[], errors=[])

    def work() -> None:
        for alias, conn in shared.items():
            connections[alias] = conn
        try:
            while not stop.is_set():
                for job_id in Job.objects.filter(status=Job.Status.PENDING).values_list("id", flat=True):
                    try:
                        render_job(job_id)
                    except Exception:  # the job is FAILED by then; the test reports the traceback
                        worker.errors.append(traceback.format_exc())
                    worker.rendered.append(str(job_id))
                stop.wait(0.3)
        finally:
            if not shared:
                connections.close_all()

    thread = threading.Thread(target=work, name="render-worker", daemon=True)
    thread.start()
    yield worker
    stop.set()
    thread.join(timeout=120)


@pytest.fixture
def ffprobe():
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed")
    return shutil.which("ffprobe")

