"""A job belongs to whoever made it: the browser (a key in its session) or the API client (its token).
Anyone with the link may watch and download; only the maker may retry, remix or delete."""

from pathlib import Path

import pytest
from django.test import Client, RequestFactory

from jobs.models import Job
from jobs.ownership import SESSION_KEY, api_stamp, may_act, new_token, own_jobs, page_stamp
from tests.media_factory import make_clip, make_song

S = Job.Status


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("owner-samples")
    return {"clip": make_clip(folder / "clip.mp4", seconds=1.0), "song": make_song(folder / "song.mp3", seconds=4.0)}


def upload_page(client: Client, samples) -> Job:
    with open(samples["clip"], "rb") as clip, open(samples["song"], "rb") as song:
        response = client.post("/", {"videos": clip, "music": song, "style": "CLEAN_VLOG"})
    assert response.status_code == 302, response.content
    return Job.objects.get(id=response["Location"].rstrip("/").rsplit("/", 1)[-1])


def upload_api(client: Client, samples) -> dict:
    with open(samples["clip"], "rb") as clip, open(samples["song"], "rb") as song:
        response = client.post("/api/upload", {"videos": clip, "music": song, "style": "CLEAN_VLOG"})
    assert response.status_code == 200, response.content
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# ---------------------------------------------------------------- who owns a new job


def test_a_job_made_on_the_page_belongs_to_that_browser_and_its_list_alone(db, samples):
    first, second = Client(), Client()
    job = upload_page(first, samples)
    assert job.owner_key and not job.token_hash
    assert job.owner_key != first.session[SESSION_KEY]  # only the hash is stored
    assert f'href="/jobs/{job.id}"' in first.get("/jobs/").content.decode()
    body = second.get("/jobs/").content.decode()
    assert str(job.id) not in body and "Make your first one" in body


def test_a_second_job_from_the_same_browser_joins_the_first_in_its_list(db, samples):
    browser = Client()
    jobs = [upload_page(browser, samples), upload_page(browser, samples)]
    assert jobs[0].owner_key == jobs[1].owner_key
    body = browser.get("/jobs/").content.decode()
    assert all(f'href="/jobs/{job.id}"' in body for job in jobs)


def test_an_api_upload_returns_its_token_once_and_the_job_keeps_only_its_hash(db, samples):
    client = Client()
    answer = upload_api(client, samples)
    job = Job.objects.get(id=answer["job_id"])
    assert len(answer["token"]) >= 40 and answer["token"] not in (job.token_hash, job.owner_key)
    assert job.token_hash and not job.owner_key  # no session cookie: no browser owns it
    assert "token" not in client.get(f"/api/jobs/{job.id}").json()
    assert may_act(RequestFactory().post("/", **bearer(answer["token"])), job)


def test_an_api_upload_from_a_browser_with_a_session_belongs_to_that_browser_too(db, samples):
    browser = Client()
    browser.session.save()  # the cookie a browser that has visited the site carries
    answer = upload_api(browser, samples)
    job = Job.objects.get(id=answer["job_id"])
    assert job.owner_key and job.token_hash
    assert f'href="/jobs/{job.id}"' in browser.get("/jobs/").content.decode()


# ---------------------------------------------------------------- may_act


def request_with(session: dict | None = None, token: str | None = None):
    request = RequestFactory().post("/", **(bearer(token) if token else {}))
    request.session = session if session is not None else {}
    return request


def test_only_the_key_in_the_makers_session_or_the_jobs_token_may_act(make_job):
    maker = request_with({})
    stamp, token = api_stamp(maker)
    job = make_job(status=S.FAILED, owner_key=page_stamp(maker)["owner_key"], token_hash=stamp["token_hash"])
    assert may_act(maker, job)
    assert may_act(request_with(token=token), job)
    assert not may_act(request_with({SESSION_KEY: "someone else"}), job)
    assert not may_act(request_with(token=new_token()[0]), job)
    assert not may_act(request_with(token=job.token_hash), job)  # the stored hash is no token
    assert not may_act(request_with(), job)


def test_a_job_without_an_owner_is_nobodys_to_act_on(make_job):
    job = make_job(status=S.FAILED)
    assert not may_act(request_with({SESSION_KEY: ""}), job)
    assert not may_act(request_with(token="anything"), job)


def test_a_browser_that_never_made_a_job_owns_none_and_gets_no_key_by_looking(make_job):
    make_job(owner_key="")
    request = request_with({})
    assert list(own_jobs(request)) == []
    assert SESSION_KEY not in request.session


# ---------------------------------------------------------------- what others may still do


def test_anyone_with_the_link_may_watch_and_download_but_sees_no_retry_or_delete(client, completed_job, make_job):
    failed = make_job(status=S.FAILED, owner_key="0" * 64, error_message="boom")
    page = client.get(f"/jobs/{completed_job.id}")
    assert page.status_code == 200 and "Delete this video" not in page.content.decode()
    assert client.get(f"/api/download/{completed_job.id}").status_code == 200
    body = client.get(f"/jobs/{failed.id}").content.decode()
    assert "Try again" not in body and "Delete this video" not in body
    assert "Try again" not in client.get(f"/jobs/{failed.id}/status").content.decode()


def test_the_maker_sees_retry_and_delete(client, make_job, own):
    failed = own(client, make_job(status=S.FAILED, error_message="boom"))
    body = client.get(f"/jobs/{failed.id}").content.decode()
    assert f'action="/jobs/{failed.id}/retry"' in body and f'action="/jobs/{failed.id}/delete"' in body


@pytest.mark.parametrize("action", ["retry", "delete", "remix"])
def test_another_browser_is_refused_retry_delete_and_remix_with_403(make_job, own, action):
    maker, other = Client(), Client()
    job = own(maker, make_job(status=S.FAILED))
    other.get("/")  # a browser with a session of its own
    response = other.post(f"/jobs/{job.id}/{action}", {"style": "CLEAN_VLOG"})
    assert response.status_code == 403
    assert Job.objects.get(id=job.id).status == S.FAILED
    assert Job.objects.count() == 1


@pytest.mark.parametrize("action", ["retry", "remix"])
def test_the_api_refuses_retry_and_remix_without_the_token_with_a_json_403(client, make_job, action):
    _, token_hash = new_token()
    job = make_job(status=S.FAILED, token_hash=token_hash)
    for headers in ({}, bearer(new_token()[0]), {"HTTP_AUTHORIZATION": "Basic abc"}):
        response = client.post(f"/api/jobs/{job.id}/{action}", {}, content_type="application/json", **headers)
        assert response.status_code == 403 and "token" in response.json()["detail"]
    assert Job.objects.get(id=job.id).status == S.FAILED and Job.objects.count() == 1


@pytest.mark.parametrize("days, kept_days", [(7, 14), (30, 31), (0, 400)], ids=["the default", "30 days", "forever"])
def test_the_browsers_session_lasts_at_least_as_long_as_its_jobs_are_kept(db, samples, settings, days, kept_days):
    settings.JOB_RETENTION_DAYS = days
    browser = Client()
    upload_page(browser, samples)
    assert browser.session.get_expiry_age() == kept_days * 24 * 3600


def test_the_makers_browser_may_delete_through_the_api_with_its_session_alone(client, completed_job, own):
    own(client, completed_job)
    assert client.delete(f"/api/jobs/{completed_job.id}").status_code == 204
    assert not Job.objects.filter(id=completed_job.id).exists()


def test_a_browser_on_another_site_cannot_use_the_makers_session_on_the_api(client, make_job, own):
    job = own(client, make_job(status=S.FAILED))
    response = client.delete(f"/api/jobs/{job.id}", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert Job.objects.filter(id=job.id).exists()
