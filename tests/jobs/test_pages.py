"""The creator's pages: the editor form, the job page and its progress fragment, recent jobs."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from jobs.models import Audio, Job
from tests.media_factory import make_clip, make_song

S = Job.Status
HTMX = {"HTTP_HX_REQUEST": "true"}
EVIL_NAME = '"><img src=x onerror=alert(1)>.webm'


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("page-samples")
    return {
        "clip": make_clip(folder / "clip.mp4", seconds=1.0),
        "song": make_song(folder / "song.mp3", seconds=4.0),
        "webm": make_song(folder / "loud.webm", seconds=4.0),  # Opus in WebM: a sound we do not take
    }


def post_editor(client: Client, samples, music="song", headers=None, **fields):
    """POST the editor form; the FLAC goes up under a hostile name."""
    name = EVIL_NAME if music == "webm" else samples[music].name
    with open(samples["clip"], "rb") as clip:
        song = SimpleUploadedFile(name, samples[music].read_bytes())
        data = {"videos": clip, "music": song, "style": "CLEAN_VLOG", **fields}
        return client.post("/", data, **(headers or {}))


def checked(body: str, name: str) -> list[str]:
    """Values of the checked radio buttons called `name`."""
    return re.findall(rf'name="{name}" value="([^"]+)" checked', body)


# ---------------------------------------------------------------- the editor


def test_the_editor_offers_every_style_with_its_description(client, db):
    from media_pipeline.style import STYLES

    body = client.get("/").content.decode()
    for style in STYLES.values():
        assert f'value="{style.name}"' in body
        assert style.label in body
        assert style.description.replace("'", "&#x27;") in body


def test_the_editor_starts_at_30_seconds_vertical(client, db):
    body = client.get("/").content.decode()
    assert re.search(r'name="duration" min="5" max="60" step="1"\s+value="30"', body)
    assert checked(body, "aspect_ratio") == ["9:16"]
    assert len(checked(body, "style")) == 1


def test_the_editor_loads_htmx_and_sends_csrf_through_hx_headers(client, db):
    body = client.get("/").content.decode()
    assert "django_htmx/htmx-2.min.js" in body
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"\w+\"\}'>", body)
    assert 'hx-encoding="multipart/form-data"' in body


def test_the_editor_is_prefilled_from_a_previous_job(client, db):
    body = client.get("/?style=CINEMATIC_DRAMA&duration=15&aspect_ratio=1:1").content.decode()
    assert checked(body, "style") == ["CINEMATIC_DRAMA"]
    assert checked(body, "aspect_ratio") == ["1:1"]
    assert 'value="15"' in body


def test_the_editor_ignores_prefilled_values_it_does_not_know(client, db):
    body = client.get("/?style=<script>&duration=999&aspect_ratio=2:1").content.decode()
    assert checked(body, "aspect_ratio") == ["9:16"]
    assert "<script>" not in body.split("<main", 1)[1]
    assert 'value="30"' in body


def test_sending_the_form_creates_the_job_and_opens_its_page(client, db, samples):
    response = post_editor(client, samples, duration="20", aspect_ratio="4:5")
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}"
    assert (job.status, job.duration, job.aspect_ratio) == (S.PENDING, 20.0, "4:5")


def test_sending_the_form_with_htmx_redirects_through_a_header(client, db, samples):
    response = post_editor(client, samples, headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/jobs/{Job.objects.get().id}"


def test_the_form_is_protected_against_cross_site_posts(db, samples):
    response = post_editor(Client(enforce_csrf_checks=True), samples)
    assert response.status_code == 403
    assert Job.objects.count() == 0


def test_an_htmx_error_comes_back_next_to_its_field_with_the_name_escaped(client, db, samples, media_root):
    response = post_editor(client, samples, music="webm", headers=HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    slot = re.search(r'<div id="error-music" class="field-error" role="alert" hx-swap-oob="true">(.*?)</div>', body)
    assert slot and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.webm: music must be MP3, WAV, M4A, AAC, OGG or FLAC" in slot.group(1)
    assert "<img src=x" not in body
    assert 'id="error-videos" class="field-error" role="alert" hx-swap-oob="true"></div>' in body
    assert Job.objects.count() == 0
    assert [p for p in media_root.rglob("*") if p.is_file()] == []


def test_a_plain_error_keeps_the_chosen_settings_and_asks_kindly_for_the_files(client, db, samples):
    response = post_editor(client, samples, style="NEON_NIGHT", duration="42", aspect_ratio="16:9", music="webm")
    assert response.status_code == 422
    body = response.content.decode()
    assert checked(body, "style") == ["NEON_NIGHT"]
    assert checked(body, "aspect_ratio") == ["16:9"]
    assert 'value="42"' in body
    assert "please add your clips and song again" in body
    assert "music must be MP3, WAV, M4A, AAC, OGG or FLAC" in body


def test_a_bad_setting_is_reported_next_to_it(client, db, samples):
    response = post_editor(client, samples, duration="90", headers=HTMX)
    body = response.content.decode()
    assert re.search(r'id="error-duration"[^>]*><p>Duration must be a number of seconds from 5 to 60.</p>', body)
    assert Job.objects.count() == 0


# ---------------------------------------------------------------- the job page


def test_a_running_job_page_polls_its_progress_every_two_seconds(client, make_job):
    job = make_job(status=S.PROCESSING, progress=37, current_step="Rendering")
    body = client.get(f"/jobs/{job.id}").content.decode()
    assert f'hx-get="/jobs/{job.id}/status" hx-trigger="every 2s"' in body
    assert "Rendering" in body and "37%" in body and 'data-progress="37"' in body
    assert "so far" in body


@pytest.mark.parametrize(
    ("beatless", "basis", "note", "meta"),
    [
        (False, "beats", "", "120 BPM · 3 shots"),
        (True, "events", "No steady beat was found in the music, so the cuts follow its strongest accents", "3 shots"),
    ],
)
def test_a_running_job_page_tells_what_the_cuts_follow(client, make_job, beatless, basis, note, meta):
    plan = {"tempo": 120.0, "beatless": beatless, "cut_basis": basis, "segments": [{}, {}, {}],
            "notes": [note + "."] if note else []}
    job = make_job(status=S.PROCESSING, progress=40, current_step="Rendering", plan=plan)
    body = client.get(f"/jobs/{job.id}").content.decode()
    assert f"so far · {meta}</p>" in body
    assert ("BPM" in body) is not beatless
    assert note in body


def test_the_progress_fragment_is_just_the_status(client, make_job):
    job = make_job(status=S.PENDING)
    response = client.get(f"/jobs/{job.id}/status", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith("<section id=\"job-status\"")
    assert 'hx-trigger="every 2s"' in body
    assert "<html" not in body


INTERRUPTED = "The render was interrupted; resuming"


def test_a_job_whose_worker_was_lost_says_its_render_was_interrupted_once_the_lease_is_over(client, make_job, settings):
    lost = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 1, attempts=1, progress=38,
                    current_step="Rendering")
    alive = make_job(status=S.PROCESSING, heartbeat_age=2, attempts=1, progress=38, current_step="Rendering")
    assert INTERRUPTED in client.get(f"/jobs/{lost.id}/status").content.decode()
    assert INTERRUPTED not in client.get(f"/jobs/{alive.id}/status").content.decode()


def test_a_job_handed_back_by_a_stopped_worker_says_it_is_resuming(client, make_job):
    job = make_job(status=S.PENDING, current_step=INTERRUPTED)
    body = client.get(f"/jobs/{job.id}/status").content.decode()
    assert INTERRUPTED in body and "Waiting for a free worker" not in body


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED])
def test_the_fragment_of_an_ended_job_stops_the_polling(client, make_job, status):
    job = make_job(status=status, error_message="boom" if status == S.FAILED else "")
    body = client.get(f"/jobs/{job.id}/status").content.decode()
    assert "hx-trigger" not in body and "hx-get" not in body


def test_a_completed_job_shows_a_playable_preview_and_a_download_button(client, make_job):
    job = make_job(status=S.COMPLETED, aspect_ratio="4:5", progress=100)
    body = client.get(f"/jobs/{job.id}").content.decode()
    assert re.search(rf'<video id="preview" controls playsinline preload="metadata" src="/api/download/{job.id}">', body)
    assert f'href="/api/download/{job.id}" download>Download MP4</a>' in body
    assert 'data-aspect="4 / 5"' in body


@pytest.mark.parametrize(
    ("basis", "summary"),
    [
        ("beats", "24 of 24 cuts on the beat"),
        ("events", "18 cuts on the music's own accents"),
        ("even", "12 cuts evenly spaced, as the song has no steady beat"),
    ],
)
def test_a_completed_job_says_in_words_where_its_cuts_came_out(client, make_job, basis, summary):
    # The render's sync report (media_pipeline/sync.py) is stored in the plan; the page quotes its summary.
    plan = {"tempo": 120.0, "beatless": basis != "beats", "cut_basis": basis, "segments": [{}, {}],
            "sync": {"basis": basis, "summary": summary, "cuts": []}}
    job = make_job(status=S.COMPLETED, progress=100, plan=plan)
    body = client.get(f"/jobs/{job.id}").content.decode()
    assert f'<p class="meta sync" id="sync">{escape(summary)}</p>' in body


def test_a_completed_job_rendered_before_the_sync_check_says_nothing_about_it(client, make_job):
    job = make_job(status=S.COMPLETED, progress=100, plan={"tempo": 120.0, "segments": [{}, {}]})
    assert 'id="sync"' not in client.get(f"/jobs/{job.id}").content.decode()


def test_a_failed_job_explains_and_offers_to_try_again_with_the_same_settings(client, make_job, own):
    job = own(client, make_job(status=S.FAILED, style="CHILL_LOFI", duration=12, aspect_ratio="1:1",
                               error_message="clip.mp4 ends early: the file looks <truncated>"))
    body = client.get(f"/jobs/{job.id}").content.decode()
    assert "clip.mp4 ends early: the file looks &lt;truncated&gt;" in body
    assert f'action="/jobs/{job.id}/retry"' in body and "Try again" in body
    assert 'href="/?style=CHILL_LOFI&amp;duration=12&amp;aspect_ratio=1%3A1"' in body


def test_trying_again_queues_the_job_once_more(client, make_job, own, enqueued, django_capture_on_commit_callbacks):
    job = own(client, make_job(status=S.FAILED, error_message="boom", attempts=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/jobs/{job.id}/retry", follow=True)
    job.refresh_from_db()
    assert response.redirect_chain == [(f"/jobs/{job.id}", 302)]
    assert job.status == S.PENDING and job.error_message == ""
    assert enqueued == [("jobs.tasks.render_next",)]
    assert "queued again" in response.content.decode()


def test_trying_again_while_a_worker_renders_it_is_refused_politely(client, make_job, own, enqueued):
    job = own(client, make_job(status=S.PROCESSING, heartbeat_age=2, attempts=1))
    response = client.post(f"/jobs/{job.id}/retry", follow=True)
    assert Job.objects.get(id=job.id).status == S.PROCESSING
    assert "a worker is rendering it right now" in response.content.decode()
    assert enqueued == []


def test_trying_again_needs_a_post(client, make_job):
    assert client.get(f"/jobs/{make_job(status=S.FAILED).id}/retry").status_code == 405


# ---------------------------------------------------------------- deleting


def test_deleting_a_video_removes_it_and_its_files_and_opens_the_list(client, completed_job, own, media_root):
    own(client, completed_job)
    response = client.post(f"/jobs/{completed_job.id}/delete", follow=True)
    assert response.redirect_chain == [("/jobs/", 302)]
    assert "Your video and its files were deleted." in response.content.decode()
    assert not Job.objects.filter(id=completed_job.id).exists()
    assert not (media_root / "jobs" / str(completed_job.id)).exists()
    assert client.get(f"/jobs/{completed_job.id}").status_code == 404


def test_the_delete_button_asks_first_and_posts_with_a_csrf_token(client, completed_job, own):
    own(client, completed_job)
    body = client.get(f"/jobs/{completed_job.id}").content.decode()
    form = re.search(r'<details class="card delete-job">.*?</details>', body, re.S).group(0)
    assert "<summary>Delete this video</summary>" in form
    assert f'method="post" action="/jobs/{completed_job.id}/delete"' in form and "csrfmiddlewaretoken" in form


def test_deleting_is_protected_against_cross_site_posts(completed_job, own):
    browser = Client(enforce_csrf_checks=True)
    own(browser, completed_job)
    assert browser.post(f"/jobs/{completed_job.id}/delete").status_code == 403
    assert Job.objects.filter(id=completed_job.id).exists()


def test_deleting_a_video_being_rendered_is_refused_with_a_message(client, make_job, own):
    job = own(client, make_job(status=S.PROCESSING, heartbeat_age=2))
    response = client.post(f"/jobs/{job.id}/delete", follow=True)
    assert response.redirect_chain == [(f"/jobs/{job.id}", 302)]
    assert "We could not delete it: a worker is rendering it right now." in response.content.decode()
    assert Job.objects.filter(id=job.id).exists()


def test_deleting_needs_a_post(client, make_job, own):
    job = own(client, make_job(status=S.FAILED))
    assert client.get(f"/jobs/{job.id}/delete").status_code == 405


def test_the_job_page_lists_its_files_by_their_escaped_names(client, make_job):
    job = make_job()
    job.visuals.create(file="x", original_name="<img src=x onerror=alert(1)>.mp4", file_size=2048, file_type="video")
    Audio.objects.create(job=job, file="y", original_name="Song & Dance.mp3", file_size=10)
    body = client.get(f"/jobs/{job.id}").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in body and "<img src=x" not in body
    assert "Song &amp; Dance.mp3" in body


def test_an_unknown_job_page_is_404(client, db):
    assert client.get("/jobs/7d7a3b53-2a7c-4d6f-9a4b-2a0e5d1f0c11").status_code == 404
    assert client.get("/jobs/not-a-job").status_code == 404


# ---------------------------------------------------------------- recent jobs


def test_recent_jobs_show_each_status_with_a_link(client, make_job, own):
    done = own(client, make_job(status=S.COMPLETED, style="VINTAGE_FILM"))
    failed = own(client, make_job(status=S.FAILED))
    running = own(client, make_job(status=S.PROCESSING, progress=55))
    Audio.objects.create(job=done, file="y", original_name="<i>tune</i>.mp3", file_size=10)
    body = client.get("/jobs/").content.decode()
    for job in (done, failed, running):
        assert f'href="/jobs/{job.id}"' in body
    assert "Completed" in body and "Failed" in body and "Processing 55%" in body
    assert "Vintage Film" in body
    assert "&lt;i&gt;tune&lt;/i&gt;.mp3" in body


def test_recent_jobs_in_a_second_browser_show_none_of_the_first_browsers_jobs(client, make_job, own):
    mine = own(client, make_job(status=S.COMPLETED))
    Audio.objects.create(job=mine, file="y", original_name="secret-song.mp3", file_size=10)
    other = Client()
    own(other, make_job(status=S.FAILED))
    body = other.get("/jobs/").content.decode()
    assert str(mine.id) not in body and "secret-song.mp3" not in body
    assert f'href="/jobs/{mine.id}"' in client.get("/jobs/").content.decode()


def test_recent_jobs_invites_a_first_video_when_there_is_none(client, db):
    assert "Make your first one" in client.get("/jobs/").content.decode()


def test_every_page_fits_a_phone(client, make_job):
    for url in ("/", "/jobs/", f"/jobs/{make_job().id}"):
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in client.get(url).content.decode()


def test_the_job_page_says_how_long_videos_are_kept(client, make_job, settings):
    job = make_job(status=S.COMPLETED)
    assert "Videos are kept for 7 days after they are done" in client.get(f"/jobs/{job.id}").content.decode()
    settings.JOB_RETENTION_DAYS = 0
    assert "Videos are kept for" not in client.get(f"/jobs/{job.id}").content.decode()
