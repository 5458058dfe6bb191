import pytest
from django.contrib import admin, messages
from django.test import Client
from django.urls import reverse

from jobs.models import Job

S = Job.Status


@pytest.fixture
def admin_client_retry(admin_client, django_capture_on_commit_callbacks):
    def retry(*jobs):
        with django_capture_on_commit_callbacks(execute=True):
            return admin_client.post(
                reverse("admin:jobs_job_changelist"),
                {"action": "retry_jobs", "_selected_action": [str(j.id) for j in jobs]},
                follow=True,
            )

    return retry


def test_retry_puts_a_failed_job_back_in_the_queue(make_job, admin_client_retry, enqueued):
    job = make_job(status=S.FAILED, error_message="boom", attempts=1)
    response = admin_client_retry(job)
    job.refresh_from_db()
    assert job.status == S.PENDING and job.error_message == ""
    assert enqueued == [("jobs.tasks.render_next",)]
    assert "queued again" in response.content.decode()


def test_retry_refuses_a_job_a_live_worker_is_rendering(make_job, admin_client_retry, enqueued):
    job = make_job(status=S.PROCESSING, heartbeat_age=3, attempts=1)
    response = admin_client_retry(job)
    assert Job.objects.get(id=job.id).status == S.PROCESSING
    assert enqueued == []
    assert "a worker is rendering it right now" in response.content.decode()


def test_retry_rescues_a_job_whose_worker_died(make_job, admin_client_retry, enqueued, settings):
    job = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 1, attempts=1)
    admin_client_retry(job)
    assert Job.objects.get(id=job.id).status == S.PENDING
    assert len(enqueued) == 1


def test_a_retried_job_gets_fresh_attempts(make_job, admin_client_retry, enqueued, settings):
    job = make_job(status=S.FAILED, attempts=settings.RENDER_MAX_ATTEMPTS)
    admin_client_retry(job)
    from jobs import worker

    assert worker.claim(job.id) is not None
    assert Job.objects.get(id=job.id).attempts == settings.RENDER_MAX_ATTEMPTS + 1


def test_the_job_list_searches_by_original_file_name(make_job, admin_client):
    job = make_job()
    job.visuals.create(original_name="beach-day.mp4", file="x", file_size=1, file_type="video")
    other = make_job()
    response = admin_client.get(reverse("admin:jobs_job_changelist"), {"q": "beach-day"})
    body = response.content.decode()
    assert str(job.id) in body and str(other.id) not in body


def test_the_job_page_shows_the_plan(make_job, admin_client):
    job = make_job(plan={"segments": [{"visual": 0, "start": 0.0, "end": 2.0}]})
    response = admin_client.get(reverse("admin:jobs_job_change", args=[job.id]))
    assert response.status_code == 200
    assert "&quot;segments&quot;" in response.content.decode()


def test_the_fleet_shows_each_worker_with_its_host_job_and_whether_it_is_alive(make_job, admin_client):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import Worker

    job = make_job(status=Job.Status.PROCESSING)
    Worker.objects.create(host="render-1", pid=4242, state=Worker.State.RENDERING, job=job, last_seen=timezone.now())
    Worker.objects.create(host="render-2", pid=77, last_seen=timezone.now() - timedelta(minutes=5))
    body = admin_client.get(reverse("admin:jobs_worker_changelist")).content.decode()
    assert "render-1" in body and "4242" in body and str(job.id) in body
    assert body.count('alt="True"') == 1 and body.count('alt="False"') == 1


# ---------------------------------------------------------------- where the admin is, and its sign-in limit


@pytest.fixture
def login_limit(settings, tmp_path):
    """A cache of its own for the failed sign-ins (files, as configured), and a low limit."""
    settings.CACHES = {
        **settings.CACHES,
        "admin_login": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": tmp_path / "c"},
    }
    settings.ADMIN_LOGIN_ATTEMPTS = 3
    settings.ADMIN_LOGIN_WINDOW_S = 900
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; the hash is not tested


def sign_in(client, password: str, address: str = "127.0.0.1"):
    return client.post("/admin/login/", {"username": "ops", "password": password}, REMOTE_ADDR=address)


def test_the_admin_sign_in_refuses_an_address_after_too_many_failures(client, db, login_limit, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "right-password-123")
    for _ in range(3):
        assert sign_in(client, "wrong").status_code == 200
    refused = sign_in(client, "right-password-123")
    assert refused.status_code == 429
    assert "Too many failed sign-ins from your address. Try again in 15 minutes." in refused.content.decode()
    assert 890 <= int(refused["Retry-After"]) <= 900
    assert "_auth_user_id" not in client.session
    assert sign_in(Client(), "right-password-123", address="10.0.0.2").status_code == 302  # other addresses sign in


def test_a_successful_sign_in_forgets_the_failures_before_it(client, db, login_limit, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "right-password-123")
    for _ in range(2):
        sign_in(client, "wrong")
    assert sign_in(client, "right-password-123").status_code == 302
    client.logout()
    for _ in range(2):
        assert sign_in(client, "wrong").status_code == 200
    assert sign_in(client, "right-password-123").status_code == 302


def test_the_admin_lists_every_job_whoever_made_it(admin_client, make_job):
    jobs = [make_job(owner_key="a" * 64), make_job(token_hash="b" * 64), make_job()]
    body = admin_client.get(reverse("admin:jobs_job_changelist")).content.decode()
    assert all(str(job.id) in body for job in jobs)


@pytest.fixture
def admin_moved(settings):
    import importlib

    from django.urls import clear_url_caches

    import editor_site.urls

    settings.ADMIN_PATH = "ops-7f3a/"
    importlib.reload(editor_site.urls)
    clear_url_caches()
    yield
    settings.ADMIN_PATH = "admin/"
    importlib.reload(editor_site.urls)
    clear_url_caches()


def test_the_admin_answers_at_admin_path_only(client, db, admin_moved):
    assert client.get("/ops-7f3a/login/").status_code == 200
    assert client.get("/admin/login/").status_code == 404
    assert reverse("admin:index") == "/ops-7f3a/"


# ---------------------------------------------------------------- deleting


def test_deleting_jobs_in_the_admin_removes_their_files(
    admin_client, make_job, completed_job, media_root, django_capture_on_commit_callbacks
):
    failed = make_job(status=S.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:jobs_job_changelist"),
            {"action": "delete_selected", "_selected_action": [str(completed_job.id), str(failed.id)], "post": "yes"},
        )
    assert not Job.objects.exists()
    assert not (media_root / "jobs" / str(completed_job.id)).exists()


def test_the_admin_will_not_delete_a_job_being_rendered(admin_client, make_job):
    job = make_job(status=S.PROCESSING, heartbeat_age=2)
    assert admin_client.get(reverse("admin:jobs_job_delete", args=[job.id])).status_code == 403
    confirm = admin_client.post(
        reverse("admin:jobs_job_changelist"), {"action": "delete_selected", "_selected_action": [str(job.id)]}
    )
    assert "<title>Cannot delete job" in confirm.content.decode()
    assert Job.objects.filter(id=job.id).exists()


def test_a_job_that_starts_rendering_before_the_admins_delete_is_kept_with_a_message(admin_client, make_job):
    from jobs.admin import JobAdmin

    job = make_job(status=S.PROCESSING, heartbeat_age=2)
    request = admin_client.get(reverse("admin:jobs_job_changelist")).wsgi_request
    JobAdmin(Job, admin.site).delete_queryset(request, Job.objects.filter(id=job.id))
    assert Job.objects.filter(id=job.id).exists()
    assert [str(m) for m in messages.get_messages(request)] == [f"Job {job.id} was kept: a worker is rendering it right now."]
