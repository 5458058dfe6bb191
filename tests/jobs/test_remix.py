"""Remix: a new job from a finished one's stored files (services.job_remix, POST /api/jobs/<id>/remix and the
job page's "Try another style"), sharing the files, belonging to the same maker, with its own seed."""

import hashlib
import json
import os

import pytest
from django.test import Client

from jobs import quotas, services
from jobs.models import Audio, Job, Visual
from jobs.ownership import SESSION_KEY, new_token
from jobs.services import JobConflict, JobInputError, job_remix

S = Job.Status
BROWSER_SECRET = "a browser's own key"


@pytest.fixture
def source(make_job, media_root):
    """A finished job with two stored visuals and a song, made by a browser and holding an API token."""
    token, token_hash = new_token()
    job = make_job(
        status=S.COMPLETED, style="CLEAN_VLOG", duration=20.0, aspect_ratio="4:5", seed=0,
        owner_key=hashlib.sha256(BROWSER_SECRET.encode()).hexdigest(), token_hash=token_hash,
    )
    folder = media_root / "jobs" / str(job.id)
    folder.mkdir(parents=True)
    for order, name in enumerate(["visual-1.mp4", "visual-2.jpg"]):
        (folder / name).write_bytes(b"picture %d" % order)
        Visual.objects.create(job=job, file=f"jobs/{job.id}/{name}", original_name=f"mine {order}", file_size=9,
                              duration=3.0 * (1 - order), width=640, height=360,
                              file_type="video" if order == 0 else "image", order=order)
    (folder / "music.mp3").write_bytes(b"song")
    Audio.objects.create(job=job, file=f"jobs/{job.id}/music.mp3", original_name="anthem.mp3", file_size=4,
                         duration=14.0)
    job.token = token
    return job


@pytest.fixture
def makers_browser(client, db):
    session = client.session
    session[SESSION_KEY] = BROWSER_SECRET
    session.save()
    return client


def stored_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- the service


def test_a_remix_is_a_queued_job_on_the_very_same_stored_files(
    source, media_root, enqueued, django_capture_on_commit_callbacks
):
    before = stored_files(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        job = job_remix(source, style="NEON_NIGHT", seed=5)
    assert (job.status, job.style, job.seed, job.remixed_from_id) == (S.PENDING, "NEON_NIGHT", 5, source.id)
    assert [v.file.name for v in job.visuals.all()] == [v.file.name for v in source.visuals.all()]
    assert [v.original_name for v in job.visuals.all()] == ["mine 0", "mine 1"]
    assert job.audio.file.name == source.audio.file.name
    assert stored_files(media_root) == before, "nothing copied"
    assert enqueued, "a worker is woken"


def test_a_remix_keeps_the_source_length_and_shape_unless_asked_and_belongs_to_its_maker(source, enqueued):
    same = job_remix(source, style="CHILL_LOFI")
    assert (same.duration, same.aspect_ratio) == (20.0, "4:5")
    other = job_remix(source, style="CHILL_LOFI", duration=45, aspect_ratio="16:9")
    assert (other.duration, other.aspect_ratio) == (45.0, "16:9")
    for job in (same, other):
        assert (job.owner_key, job.token_hash) == (source.owner_key, source.token_hash)


def test_without_a_seed_a_remix_gets_a_new_one_so_its_edit_differs(source, enqueued):
    seeds = {job_remix(source, style="CLEAN_VLOG").seed for _ in range(5)}
    assert 0 not in seeds and source.seed not in seeds
    assert len(seeds) > 1


def test_a_failed_job_may_be_remixed_but_not_one_still_rendering(source, enqueued):
    Job.objects.filter(id=source.id).update(status=S.FAILED)
    source.refresh_from_db()
    assert job_remix(source, style="VINTAGE_FILM").status == S.PENDING
    for status in (S.PENDING, S.PROCESSING, S.UPLOADING):
        Job.objects.filter(id=source.id).update(status=status)
        source.refresh_from_db()
        with pytest.raises(JobConflict):
            job_remix(source, style="VINTAGE_FILM")


def test_a_job_whose_files_are_gone_cannot_be_remixed(source, media_root, enqueued):
    os.remove(media_root / source.audio.file.name)
    count = Job.objects.count()
    with pytest.raises(JobConflict, match="no longer kept"):
        job_remix(source, style="VINTAGE_FILM")
    assert Job.objects.count() == count


@pytest.mark.parametrize(("settings_", "field"), [
    ({"style": "POLKA"}, "style"),
    ({"style": "CLEAN_VLOG", "duration": 2}, "duration"),
    ({"style": "CLEAN_VLOG", "aspect_ratio": "3:2"}, "aspect_ratio"),
    ({"style": "CLEAN_VLOG", "seed": -1}, "seed"),
])
def test_bad_settings_are_refused_naming_the_field_and_leave_no_job(source, settings_, field):
    count = Job.objects.count()
    with pytest.raises(JobInputError) as refused:
        job_remix(source, **settings_)
    assert refused.value.field == field
    assert Job.objects.count() == count


# ---------------------------------------------------------------- POST /api/jobs/<id>/remix


def post_remix(client, job_id, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(f"/api/jobs/{job_id}/remix", data, content_type="application/json", **headers)


def test_the_api_remixes_with_the_jobs_token_like_an_upload_answers(source, enqueued):
    response = post_remix(Client(enforce_csrf_checks=True), source.id, {"style": "ENERGETIC_DANCE", "seed": 42},
                          HTTP_AUTHORIZATION=f"Bearer {source.token}")
    assert response.status_code in (200, 201)
    body = response.json()
    assert {"job_id", "status", "message", "status_url"} <= set(body)
    assert (body["status"], body["seed"], body["remixed_from"]) == ("PENDING", 42, str(source.id))
    assert body["status_url"].endswith(f"/api/jobs/{body['job_id']}")
    job = Job.objects.get(id=body["job_id"])
    assert (job.style, job.seed, job.duration) == ("ENERGETIC_DANCE", 42, 20.0)
    polled = Client().get(f"/api/jobs/{job.id}").json()
    assert (polled["remixed_from"], polled["seed"], polled["poster_url"]) == (str(source.id), 42, None)
    assert Client().get(f"/api/jobs/{source.id}").json()["remixed_from"] is None


def test_the_makers_browser_may_remix_through_the_api_too(makers_browser, source, enqueued):
    assert post_remix(makers_browser, source.id, {"style": "NEON_NIGHT"}).status_code in (200, 201)


def test_anyone_else_gets_403_and_no_job(source):
    client, count = Client(), Job.objects.count()
    assert post_remix(client, source.id, {"style": "NEON_NIGHT"}).status_code == 403
    response = post_remix(client, source.id, {"style": "NEON_NIGHT"}, HTTP_AUTHORIZATION="Bearer not-the-token")
    assert response.status_code == 403 and response.json()["detail"]
    assert Job.objects.count() == count


def test_an_unknown_or_malformed_job_is_404(client, db):
    assert post_remix(client, "0b6f5c8e-0000-4000-8000-000000000000", {"style": "NEON_NIGHT"}).status_code == 404
    assert post_remix(client, "not-a-job", {"style": "NEON_NIGHT"}).json() == {"detail": "Job not found"}


def test_a_job_still_rendering_is_409(source):
    Job.objects.filter(id=source.id).update(status=S.PROCESSING)
    response = post_remix(Client(), source.id, {"style": "NEON_NIGHT"}, HTTP_AUTHORIZATION=f"Bearer {source.token}")
    assert response.status_code == 409
    assert "still being made" in response.json()["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "style"),
    ({"style": "POLKA"}, "style"),
    ({"style": "CLEAN_VLOG", "duration": 90}, "duration"),
    ({"style": "CLEAN_VLOG", "duration": "soon"}, "duration"),
    ({"style": "CLEAN_VLOG", "aspect_ratio": "2:1"}, "aspect_ratio"),
    ({"style": "CLEAN_VLOG", "seed": 1.5}, "seed"),
    ({"style": "CLEAN_VLOG", "seed": 2**31}, "seed"),
    ("[1, 2]", "__all__"),
    ("{not json", "__all__"),
])
def test_a_bad_body_is_400_naming_the_field(source, body, field):
    response = post_remix(Client(), source.id, body, HTTP_AUTHORIZATION=f"Bearer {source.token}")
    assert response.status_code == 400
    assert response.json()["field"] == field and response.json()["detail"]


def test_a_remix_counts_against_the_clients_hourly_limit_like_an_upload(source, settings):
    settings.UPLOADS_PER_HOUR = 1
    Job.objects.filter(id=source.id).update(client_address="127.0.0.1")  # the test client's address
    response = post_remix(Client(), source.id, {"style": "NEON_NIGHT"}, HTTP_AUTHORIZATION=f"Bearer {source.token}")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0 and response.json()["detail"]
    assert Job.objects.count() == 1


def test_a_remix_that_takes_its_client_past_the_limit_once_counted_is_refused_and_leaves_no_job(source, settings):
    # Remixes sent side by side all pass the early check; the service counts the new row too.
    settings.UPLOADS_PER_HOUR = 1
    with pytest.raises(quotas.OverLimit) as refused:
        job_remix(source, style="NEON_NIGHT", client_address="203.0.113.9", enqueue=False)
        job_remix(source, style="NEON_NIGHT", client_address="203.0.113.9", enqueue=False)
    assert "remixes" in refused.value.refusal.detail
    assert Job.objects.filter(client_address="203.0.113.9").count() == 1
    assert Visual.objects.count() == 4 and Audio.objects.count() == 2  # the source's and the one remix's


def test_only_post_is_allowed(client, source):
    assert client.get(f"/api/jobs/{source.id}/remix").status_code == 405


# ---------------------------------------------------------------- the job page


def test_the_maker_sees_try_another_style_with_every_style_once_the_job_has_ended(makers_browser, source):
    page = makers_browser.get(f"/jobs/{source.id}").content.decode()
    assert "Try another style" in page
    for style in services.STYLES:
        assert f'name="style" value="{style}"' in page
    assert 'name="duration" value="20"' in page
    assert 'name="aspect_ratio" value="4:5" checked' in page


def test_others_and_unfinished_jobs_are_not_offered_a_remix(makers_browser, source):
    assert "Try another style" not in Client().get(f"/jobs/{source.id}").content.decode()
    Job.objects.filter(id=source.id).update(status=S.PROCESSING)
    assert "Try another style" not in makers_browser.get(f"/jobs/{source.id}").content.decode()


def test_one_click_on_a_style_makes_the_remix_and_opens_its_page(makers_browser, source, enqueued):
    response = makers_browser.post(f"/jobs/{source.id}/remix", {"style": "VINTAGE_FILM", "duration": "15",
                                                                 "aspect_ratio": "9:16"})
    job = Job.objects.exclude(id=source.id).get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}"
    assert (job.style, job.duration, job.aspect_ratio, job.remixed_from_id) == ("VINTAGE_FILM", 15.0, "9:16", source.id)
    assert job.seed not in (0, source.seed)


def test_a_remixs_page_links_to_the_video_it_was_made_from(makers_browser, source, enqueued):
    remix = job_remix(source, style="CHILL_LOFI")
    page = makers_browser.get(f"/jobs/{remix.id}").content.decode()
    assert f'href="/jobs/{source.id}">Remix of an earlier video' in page
    assert "Remix of" not in makers_browser.get(f"/jobs/{source.id}").content.decode()


def test_a_page_remix_by_someone_else_is_403(source):
    assert Client().post(f"/jobs/{source.id}/remix", {"style": "VINTAGE_FILM"}).status_code == 403
    assert Job.objects.count() == 1


def test_a_page_remix_that_cannot_be_made_says_why_on_the_source_page(makers_browser, source):
    Job.objects.filter(id=source.id).update(status=S.PROCESSING)
    response = makers_browser.post(f"/jobs/{source.id}/remix", {"style": "VINTAGE_FILM"}, follow=True)
    assert response.redirect_chain[-1][0] == f"/jobs/{source.id}"
    assert "still being made" in response.content.decode()
    response = makers_browser.post(f"/jobs/{source.id}/remix", {"style": "POLKA"}, follow=True)
    assert "Unknown style" in response.content.decode()


# ---------------------------------------------------------------- the worker


def test_the_worker_plans_a_remix_from_the_source_files_with_its_seed(source, media_root, enqueued, monkeypatch):
    from jobs import worker
    from media_pipeline.errors import UnsupportedMedia

    job = job_remix(source, style="NEON_NIGHT", seed=99)
    asked = {}

    def plan_job(visuals, song, style, **options):
        asked.update(visuals=visuals, song=song, style=style, **options)
        raise UnsupportedMedia("planned far enough for this test")

    monkeypatch.setattr("jobs.worker.plan_job", plan_job)
    assert worker.run(job.id).status == S.FAILED
    assert (asked["style"], asked["seed"]) == ("NEON_NIGHT", 99)
    assert [os.path.relpath(p, media_root) for p in asked["visuals"]] == [v.file.name for v in source.visuals.all()]
    assert os.path.relpath(asked["song"], media_root) == source.audio.file.name
    assert (media_root / source.audio.file.name).is_file(), "a failed remix leaves its source's files alone"


def test_the_shared_files_stay_until_the_last_job_using_them_is_deleted(source, media_root, enqueued):
    remix = job_remix(source, style="NEON_NIGHT")
    names = [v.file.name for v in source.visuals.all()] + [source.audio.file.name]
    Job.objects.filter(id=remix.id).update(status=S.COMPLETED)
    assert services.job_delete(source.id)[0]
    assert all((media_root / name).is_file() for name in names), "the remix still uses them"
    assert services.job_delete(remix.id)[0]
    assert not any((media_root / name).exists() for name in names)
