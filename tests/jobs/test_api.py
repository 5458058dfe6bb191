"""The JSON API's contract: every status code, body and header a client can rely on."""

import json
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from django.test import Client

from jobs.models import Audio, Job
from jobs.worker import output_name
from tests.media_factory import make_clip, make_photo, make_song

S = Job.Status


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("api-samples")
    return {
        "clip": make_clip(folder / "clip.mp4", seconds=1.0),
        "photo": make_photo(folder / "photo.png"),
        "song": make_song(folder / "song.wav", seconds=4.0),
    }


def upload(client: Client, samples, headers=None, **fields):
    with open(samples["clip"], "rb") as clip, open(samples["photo"], "rb") as photo, open(samples["song"], "rb") as song:
        return client.post("/api/upload", {"videos": [clip, photo], "music": song, **fields}, **(headers or {}))


# ---------------------------------------------------------------- POST /api/upload


def test_an_upload_answers_200_with_the_job_id_status_and_a_message(client, db, samples):
    response = upload(client, samples, style="CINEMATIC_DRAMA", duration="12.5", aspect_ratio="16:9")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["message"]
    job = Job.objects.get(id=body["job_id"])
    assert (job.style, job.duration, job.aspect_ratio) == ("CINEMATIC_DRAMA", 12.5, "16:9")


def test_an_upload_without_duration_and_aspect_gets_30_seconds_at_9_16(client, db, samples):
    response = upload(client, samples, style="CLEAN_VLOG")
    job = Job.objects.get(id=response.json()["job_id"])
    assert (job.duration, job.aspect_ratio) == (30.0, "9:16")


def test_an_upload_needs_no_csrf_token(db, samples):
    response = upload(Client(enforce_csrf_checks=True), samples, style="CLEAN_VLOG")
    assert response.status_code == 200


def test_an_upload_with_a_bad_field_answers_400_naming_it(client, db, samples):
    response = upload(client, samples, style="CLEAN_VLOG", duration="0")
    assert response.status_code == 400
    assert response.json() == {"detail": "Duration must be a number of seconds from 5 to 60.", "field": "duration"}


def test_an_upload_missing_a_part_answers_400(client, db, samples):
    with open(samples["clip"], "rb") as clip:
        response = client.post("/api/upload", {"videos": clip, "style": "CLEAN_VLOG"})
    assert response.status_code == 400
    assert response.json()["detail"] == "Add a song."


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_upload_refuses_other_methods_with_405(client, db, method):
    response = getattr(client, method)("/api/upload")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "not allowed" in response.json()["detail"]


# ---------------------------------------------------------------- cross-origin


def test_a_browser_on_an_unlisted_origin_is_refused(client, db, samples, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://studio.example.com"]
    response = upload(client, samples, style="CLEAN_VLOG", headers={"HTTP_ORIGIN": "https://evil.example.net"})
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert Job.objects.count() == 0


def test_a_browser_on_a_listed_origin_is_served_with_cors_headers(client, db, samples, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://studio.example.com"]
    response = upload(client, samples, style="CLEAN_VLOG", headers={"HTTP_ORIGIN": "https://studio.example.com"})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://studio.example.com"


def test_a_preflight_is_answered_only_for_listed_origins(client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://studio.example.com"]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    allowed = client.options("/api/upload", HTTP_ORIGIN="https://studio.example.com", **preflight)
    refused = client.options("/api/upload", HTTP_ORIGIN="https://evil.example.net", **preflight)
    assert allowed["Access-Control-Allow-Origin"] == "https://studio.example.com"
    assert "access-control-allow-origin" not in refused.headers


def test_cors_headers_are_never_added_to_the_html_pages(client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://studio.example.com"]
    response = client.get("/", HTTP_ORIGIN="https://studio.example.com")
    assert "access-control-allow-origin" not in response.headers


def test_the_site_itself_is_not_a_foreign_origin(client, db):
    response = client.get("/api/styles", HTTP_ORIGIN="http://testserver")
    assert response.status_code == 200


# ---------------------------------------------------------------- GET /api/jobs/<id>


def test_a_job_is_described_with_iso_times_and_no_video_url_until_it_is_done(client, make_job):
    job = make_job(status=S.PROCESSING, progress=40, current_step="Rendering", duration=15, aspect_ratio="1:1")
    response = client.get(f"/api/jobs/{job.id}")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "status", "progress", "current_step", "style", "duration", "aspect_ratio")} == {
        "id": str(job.id), "status": "PROCESSING", "progress": 40, "current_step": "Rendering",
        "style": "CLEAN_VLOG", "duration": 15.0, "aspect_ratio": "1:1",
    }
    assert datetime.fromisoformat(body["created_at"]) == job.created_at
    assert datetime.fromisoformat(body["updated_at"]).tzinfo is not None
    assert body["error_message"] is None
    assert body["output_video_url"] is None


def test_a_completed_job_links_its_video(client, completed_job):
    body = client.get(f"/api/jobs/{completed_job.id}").json()
    assert body["status"] == "COMPLETED"
    assert body["output_video_url"] == f"http://testserver/api/download/{completed_job.id}"


def test_a_failed_job_says_why(client, make_job):
    job = make_job(status=S.FAILED, error_message="clip.mp4 ends early: the file looks truncated")
    assert client.get(f"/api/jobs/{job.id}").json()["error_message"] == "clip.mp4 ends early: the file looks truncated"


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid", "123"], ids=["a-random-uuid", "not-a-uuid", "123"])
def test_an_unknown_or_malformed_job_id_is_a_json_404(client, db, job_id):
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Job not found"}


def test_a_job_cannot_be_changed_through_its_url(client, make_job):
    job = make_job()
    response = client.post(f"/api/jobs/{job.id}")
    assert response.status_code == 405


# ---------------------------------------------------------------- GET /api/jobs/<id>/plan


def test_there_is_no_plan_until_rendering_starts(client, make_job):
    response = client.get(f"/api/jobs/{make_job().id}/plan")
    assert response.status_code == 404
    assert "no plan yet" in response.json()["detail"]


def test_the_plan_shows_file_names_and_never_server_paths(client, make_job, media_root):
    job = make_job()
    folder = media_root / "jobs" / str(job.id)
    job.visuals.create(file=f"jobs/{job.id}/visual-1.mp4", original_name="Beach <day>.mp4", file_size=1, file_type="video")
    Audio.objects.create(job=job, file=f"jobs/{job.id}/music.mp3", original_name="my song.mp3", file_size=1)
    plan = {
        "music_start": 12.0, "music_end": 42.0, "beats": [0.0, 0.5, 1.0],
        "visuals": [{"path": str(folder / "visual-1.mp4"), "kind": "video"}],
        "music": {"path": str(folder / "music.mp3"), "kind": "audio"},
        "segments": [{"visual": 0, "start": 0.0, "end": 2.1, "transition": "cut"}],
        "extra": {"scratch": "/var/tmp/cutline/x.wav"},
    }
    Job.objects.filter(id=job.id).update(plan=plan)
    response = client.get(f"/api/jobs/{job.id}/plan")
    assert response.status_code == 200
    body = response.json()
    assert body["visuals"][0]["path"] == "Beach <day>.mp4"
    assert body["music"]["path"] == "my song.mp3"
    assert body["segments"] == plan["segments"] and body["beats"] == plan["beats"]
    assert str(media_root) not in json.dumps(body) and "/var/tmp" not in json.dumps(body)


def test_the_plan_of_an_unknown_job_is_a_json_404(client, db):
    response = client.get(f"/api/jobs/{uuid.uuid4()}/plan")
    assert response.status_code == 404
    assert response.json() == {"detail": "Job not found"}


# ---------------------------------------------------------------- GET /api/download/<id>


def test_the_download_is_an_mp4_attachment_with_a_safe_name(client, completed_job, media_root):
    response = client.get(f"/api/download/{completed_job.id}")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    name = f"cutline-energetic-dance-{completed_job.id.hex[:8]}.mp4"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    body = b"".join(response.streaming_content)
    assert body == (media_root / output_name(completed_job)).read_bytes()
    assert int(response["Content-Length"]) == len(body)


def test_the_downloaded_bytes_are_a_playable_video(client, completed_job, tmp_path):
    saved = tmp_path / "download.mp4"
    saved.write_bytes(b"".join(client.get(f"/api/download/{completed_job.id}").streaming_content))
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", str(saved)],
        capture_output=True, text=True, check=True,
    )
    assert sorted(probe.stdout.split()) == ["audio", "video"]


@pytest.mark.parametrize("status", [S.PENDING, S.PROCESSING, S.FAILED])
def test_a_job_that_is_not_completed_has_nothing_to_download(client, make_job, status):
    response = client.get(f"/api/download/{make_job(status=status).id}")
    assert response.status_code == 400
    assert response.json()["detail"] == "Job not completed yet"


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "cutline-1234.mp4"], ids=["a-random-uuid", "cutline-1234.mp4"])
def test_downloading_an_unknown_job_is_a_json_404(client, db, job_id):
    response = client.get(f"/api/download/{job_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Job not found"}


# ---------------------------------------------------------------- GET /api/styles


def test_the_styles_are_listed_with_name_label_and_description(client, db):
    from media_pipeline.style import STYLES

    response = client.get("/api/styles")
    assert response.status_code == 200
    styles = response.json()["styles"]
    assert [style["name"] for style in styles] == list(STYLES)
    assert all(style["label"] and style["description"] for style in styles)


@pytest.mark.parametrize("address", ["/api/nothing/here", "/api/download/../../etc/passwd"])
def test_an_unknown_api_address_is_a_json_404(client, db, address):
    response = client.get(address)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Not found")


def test_a_job_whose_worker_was_lost_says_in_the_api_that_its_render_is_resuming(client, make_job, settings):
    S = Job.Status
    lost = make_job(status=S.PROCESSING, heartbeat_age=settings.RENDER_LEASE_S + 1, attempts=1, progress=38,
                    current_step="Rendering")
    alive = make_job(status=S.PROCESSING, heartbeat_age=2, attempts=1, progress=38, current_step="Rendering")
    assert client.get(f"/api/jobs/{lost.id}").json()["current_step"] == "The render was interrupted; resuming"
    assert client.get(f"/api/jobs/{alive.id}").json()["current_step"] == "Rendering"


# ---------------------------------------------------------------- DELETE /api/jobs/<id>, POST /api/jobs/<id>/retry


def owned_by_token(job: Job) -> dict[str, str]:
    """Give the job a fresh token, as an upload does; the headers that carry it."""
    from jobs.ownership import new_token

    token, token_hash = new_token()
    Job.objects.filter(id=job.id).update(token_hash=token_hash)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_an_upload_returns_the_token_that_deletes_its_job(client, db, samples, media_root):
    body = upload(client, samples, style="CLEAN_VLOG").json()
    folder = media_root / "jobs" / body["job_id"]
    assert folder.is_dir()
    response = client.delete(f"/api/jobs/{body['job_id']}", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert response.status_code == 204 and response.content == b""
    assert not Job.objects.filter(id=body["job_id"]).exists() and not folder.exists()
    assert client.get(f"/api/jobs/{body['job_id']}").status_code == 404


def test_deleting_a_finished_job_answers_204_and_its_download_is_gone(client, completed_job, media_root):
    headers = owned_by_token(completed_job)
    assert client.delete(f"/api/jobs/{completed_job.id}", **headers).status_code == 204
    assert not (media_root / completed_job.output_video.name).exists()
    assert client.get(f"/api/download/{completed_job.id}").status_code == 404


@pytest.mark.parametrize("status", [S.PROCESSING, S.UPLOADING])
def test_deleting_a_job_being_rendered_or_uploaded_answers_409(client, make_job, status):
    job = make_job(status=status, heartbeat_age=2)
    response = client.delete(f"/api/jobs/{job.id}", **owned_by_token(job))
    assert response.status_code == 409
    assert response.json()["job_status"] == status and "cannot be deleted now" in response.json()["detail"]
    assert Job.objects.filter(id=job.id).exists()


@pytest.mark.parametrize("job_id", ["7d7a3b53-2a7c-4d6f-9a4b-2a0e5d1f0c11", "nope"])
def test_deleting_an_unknown_job_answers_404(client, db, job_id):
    response = client.delete(f"/api/jobs/{job_id}", HTTP_AUTHORIZATION="Bearer whatever")
    assert response.status_code == 404 and response.json() == {"detail": "Job not found"}


def test_deleting_without_the_token_or_with_another_jobs_answers_403(client, make_job):
    job, other = make_job(status=S.FAILED), make_job(status=S.FAILED)
    owned_by_token(job)
    for headers in ({}, owned_by_token(other), {"HTTP_AUTHORIZATION": "Bearer "}):
        response = client.delete(f"/api/jobs/{job.id}", **headers)
        assert response.status_code == 403 and "Bearer" in response.json()["detail"]
    assert Job.objects.filter(id=job.id).exists()


def test_a_retry_with_the_token_queues_the_job_again_and_answers_202(client, make_job, enqueued):
    job = make_job(status=S.FAILED, error_message="boom", attempts=1)
    response = client.post(f"/api/jobs/{job.id}/retry", **owned_by_token(job))
    assert response.status_code == 202
    assert response.json()["status"] == S.PENDING and response.json()["error_message"] is None


def test_a_retry_while_a_worker_renders_it_answers_409(client, make_job, enqueued):
    job = make_job(status=S.PROCESSING, heartbeat_age=2, attempts=1)
    response = client.post(f"/api/jobs/{job.id}/retry", **owned_by_token(job))
    assert response.status_code == 409 and "rendering it right now" in response.json()["detail"]


def test_a_retry_of_an_unknown_job_answers_404(client, db):
    assert client.post("/api/jobs/7d7a3b53-2a7c-4d6f-9a4b-2a0e5d1f0c11/retry").status_code == 404


def test_deleting_a_job_whose_files_the_storage_refuses_answers_503_and_keeps_it(client, completed_job, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("the bucket did not answer")

    from django.core.files.storage import default_storage

    monkeypatch.setattr(type(default_storage._wrapped), "delete", refuse)
    response = client.delete(f"/api/jobs/{completed_job.id}", **owned_by_token(completed_job))
    assert response.status_code == 503 and "try again in a moment" in response.json()["detail"]
    assert Job.objects.filter(id=completed_job.id).exists()
