"""Every error a client can meet: JSON under /api/, a page on the site, never a traceback; and the security
headers on every response."""

import pytest
from django.test import Client

from jobs import api, views
from jobs.models import Job

SECURITY_HEADERS = {
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture
def quiet_client(db):
    """A client that gets the 500 response instead of the exception (as a browser would)."""
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("url", ["/", "/jobs/", "/health", "/api/styles", "/api/nothing-here", "/jobs/not-a-job"])
def test_every_response_carries_the_security_headers(client, db, url):
    response = client.get(url)
    for header, value in SECURITY_HEADERS.items():
        assert response[header] == value
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy


def test_a_missing_page_is_a_page_and_a_missing_api_job_is_json(client, db):
    page = client.get("/jobs/7d7a3b53-2a7c-4d6f-9a4b-2a0e5d1f0c11")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert "There is nothing at this address" in page.content.decode()
    api_response = client.get("/api/jobs/7d7a3b53-2a7c-4d6f-9a4b-2a0e5d1f0c11")
    assert api_response.status_code == 404 and api_response.json() == {"detail": "Job not found"}


def test_a_method_not_allowed_on_a_page_gets_a_page_that_says_so(client, make_job):
    response = client.get(f"/jobs/{make_job(status=Job.Status.FAILED).id}/retry")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "does not take that kind of request" in response.content.decode()


def test_a_crash_in_the_api_is_json_without_a_traceback(quiet_client, make_job, monkeypatch):
    job = make_job()
    monkeypatch.setattr(api, "job_to_dict", lambda *args: 1 / 0)
    response = quiet_client.get(f"/api/jobs/{job.id}")
    assert response.status_code == 500
    assert response.json() == {"detail": "Something went wrong on our side. Try again in a moment."}


def test_a_crash_on_a_page_is_a_plain_page_without_a_traceback(quiet_client, make_job, monkeypatch, settings):
    assert settings.DEBUG is False  # as in production; pytest-django serves every request so
    job = make_job()
    monkeypatch.setattr(views, "_job_context", lambda *args: 1 / 0)
    response = quiet_client.get(f"/jobs/{job.id}")
    body = response.content.decode()
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert "Something went wrong on our side" in body
    assert "Traceback" not in body and "ZeroDivisionError" not in body and "views.py" not in body


def test_a_form_sent_without_its_csrf_token_gets_a_page_saying_to_reload(make_job, db):
    job = make_job(status=Job.Status.FAILED)
    response = Client(enforce_csrf_checks=True).post(f"/jobs/{job.id}/retry")
    assert response.status_code == 403
    assert "Reload the page and try again" in response.content.decode()


def test_even_a_500_page_that_cannot_be_drawn_answers_in_plain_words(quiet_client, make_job, monkeypatch):
    from django.template import loader

    job = make_job()
    monkeypatch.setattr(views, "_job_context", lambda *args: 1 / 0)
    real = loader.get_template
    monkeypatch.setattr(loader, "get_template", lambda name, *a, **k: 1 / 0 if name == "500.html" else real(name, *a, **k))
    response = quiet_client.get(f"/jobs/{job.id}")
    assert response.status_code == 500
    assert response.content.decode() == "Something went wrong on our side. Try again in a moment."
