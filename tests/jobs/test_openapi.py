"""The API's own description: /api/openapi.json is a valid OpenAPI document listing every API address, the
real answers of each documented call (errors included) match its schemas, and /api/docs shows it with only
the site's own files (the Content-Security-Policy allows nothing else)."""

import json
import re
import uuid
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from jobs.models import Job
from jobs.ownership import new_token
from tests.media_factory import make_clip, make_song

S = Job.Status


def no_twin_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key written twice in {keys}: JSON parsers differ on which one wins"
    return dict(pairs)


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(Client().get("/api/openapi.json").content, object_pairs_hook=no_twin_keys)


def api_paths(patterns=None, prefix="") -> set[str]:
    """Every named API address in the URL configuration, written as the document writes paths."""
    found = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found |= api_paths(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and route.startswith("api/") and (entry.name or "").startswith("api-"):
            found.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return found


def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Cutline API"


def test_the_document_lists_every_api_address_and_nothing_else(document):
    assert set(document["paths"]) == api_paths()
    assert "/api/jobs/{job_id}/remix" in document["paths"] and "/api/upload" in document["paths"]


def test_every_call_but_the_styles_documents_its_errors_as_detail_and_field(document):
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["detail"] and "field" in schemas["Error"]["properties"]
    assert "job_status" in schemas["JobError"]["required"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = [status for status in operation["responses"] if status.startswith("4")]
            assert errors or path == "/api/styles", f"{method} {path} documents no error"
            for status in errors:
                if status != "416":  # a range outside the file: Django's answer, no body
                    schema = operation["responses"][status]["content"]["application/json"]["schema"]
                    assert schema["$ref"] in ("#/components/schemas/Error", "#/components/schemas/JobError")


def test_the_upload_documents_its_multipart_form_and_the_remix_its_json(document):
    upload = document["paths"]["/api/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["videos", "music", "style"]
    assert upload["properties"]["videos"]["items"]["format"] == "binary"
    assert {"duration", "aspect_ratio", "callback_url"} <= set(upload["properties"])
    remix = document["paths"]["/api/jobs/{job_id}/remix"]["post"]["requestBody"]["content"]["application/json"]
    assert remix["schema"]["properties"]["seed"]["anyOf"][0]["maximum"] == 2**31 - 1


def test_the_callback_a_job_makes_when_it_ends_is_documented_as_the_jobs_json(document):
    for path in ("/api/upload", "/api/jobs/{job_id}/remix"):
        (call,) = document["paths"][path]["post"]["callbacks"]["jobEnded"].values()
        body = call["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == "#/components/schemas/JobOut"
        assert "X-Cutline-Signature" in [header["name"] for header in call["post"]["parameters"]]


# ---------------------------------------------------------------- real answers against the document


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openapi-samples")
    return make_clip(folder / "clip.mp4", seconds=1.0), make_song(folder / "song.wav", seconds=4.0)


@pytest.fixture
def finished(make_job, store_inputs, rendered_mp4):
    """A finished job with its files, its video and its API token."""
    token, token_hash = new_token()
    job = make_job(status=S.COMPLETED, progress=100, current_step="Done", token_hash=token_hash, seed=7,
                   plan={"music_start": 1.0, "segments": []})
    folder = store_inputs(job)
    (folder / "output.mp4").write_bytes(rendered_mp4.read_bytes())
    Job.objects.filter(id=job.id).update(output_video=f"jobs/{job.id}/output.mp4")
    job.refresh_from_db()
    job.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    return job


def answer_matches(document: dict, path: str, method: str, response) -> None:
    """The answer's status is documented for the call, and its JSON body is valid against that schema."""
    documented = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method.upper()} {path} answered {status}, which is not documented"
    content = documented[status].get("content", {})
    if response.status_code == 204:
        assert response.content == b""
        return
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in content, f"{method.upper()} {path} {status} answered {media_type}"
    if media_type == "application/json":
        schema = {**content[media_type]["schema"], "components": document["components"]}
        Draft202012Validator(schema).validate(response.json())


def test_every_documented_call_answers_as_documented_errors_included(
    document, client, db, finished, make_job, samples, enqueued, settings
):
    settings.CALLBACK_ALLOWED_HOSTS = []
    job, unknown, running = finished, uuid.uuid4(), make_job(status=S.PROCESSING, heartbeat_age=2)
    owned_running = {"HTTP_AUTHORIZATION": finished.headers["HTTP_AUTHORIZATION"]}
    Job.objects.filter(id=running.id).update(token_hash=job.token_hash)
    clip, song = samples

    def upload(**fields):
        with open(clip, "rb") as video, open(song, "rb") as music:
            return client.post("/api/upload", {"videos": video, "music": music, **fields})

    def remix(job_id, body, **headers):
        return client.post(f"/api/jobs/{job_id}/remix", json.dumps(body), content_type="application/json", **headers)

    calls = [
        ("/api/styles", "get", lambda: client.get("/api/styles")),
        ("/api/upload", "post", lambda: upload(style="CLEAN_VLOG", duration="5")),
        ("/api/upload", "post", lambda: upload(style="POLKA")),
        ("/api/upload", "post", lambda: upload(style="CLEAN_VLOG", callback_url="http://10.0.0.8/hook")),
        ("/api/upload", "post", lambda: client.post("/api/upload", "{}", content_type="application/json")),
        ("/api/jobs/{job_id}", "get", lambda: client.get(f"/api/jobs/{job.id}")),
        ("/api/jobs/{job_id}", "get", lambda: client.get(f"/api/jobs/{unknown}")),
        ("/api/jobs/{job_id}/plan", "get", lambda: client.get(f"/api/jobs/{job.id}/plan")),
        ("/api/jobs/{job_id}/plan", "get", lambda: client.get(f"/api/jobs/{running.id}/plan")),
        ("/api/jobs/{job_id}/poster", "get", lambda: client.get(f"/api/jobs/{job.id}/poster")),
        ("/api/jobs/{job_id}/poster", "get", lambda: client.get(f"/api/jobs/{unknown}/poster")),
        ("/api/download/{job_id}", "get", lambda: client.get(f"/api/download/{job.id}")),
        ("/api/download/{job_id}", "get", lambda: client.get(f"/api/download/{job.id}", HTTP_RANGE="bytes=0-99")),
        ("/api/download/{job_id}", "get", lambda: client.get(f"/api/download/{running.id}")),
        ("/api/download/{job_id}", "get", lambda: client.get(f"/api/download/{unknown}")),
        ("/api/jobs/{job_id}/remix", "post", lambda: remix(job.id, {"style": "NEON_NIGHT", "seed": 3}, **job.headers)),
        ("/api/jobs/{job_id}/remix", "post", lambda: remix(job.id, {"style": "NEON_NIGHT", "seed": -1}, **job.headers)),
        ("/api/jobs/{job_id}/remix", "post", lambda: remix(job.id, {"style": "NEON_NIGHT"})),
        ("/api/jobs/{job_id}/remix", "post", lambda: remix(unknown, {"style": "NEON_NIGHT"})),
        ("/api/jobs/{job_id}/remix", "post", lambda: remix(running.id, {"style": "NEON_NIGHT"}, **owned_running)),
        ("/api/jobs/{job_id}/retry", "post", lambda: client.post(f"/api/jobs/{running.id}/retry", **owned_running)),
        ("/api/jobs/{job_id}/retry", "post", lambda: client.post(f"/api/jobs/{job.id}/retry")),
        ("/api/jobs/{job_id}/retry", "post", lambda: client.post(f"/api/jobs/{unknown}/retry")),
        ("/api/jobs/{job_id}", "delete", lambda: client.delete(f"/api/jobs/{running.id}", **owned_running)),
        ("/api/jobs/{job_id}", "delete", lambda: client.delete(f"/api/jobs/{job.id}")),
        ("/api/jobs/{job_id}", "delete", lambda: client.delete(f"/api/jobs/{unknown}")),
        ("/api/jobs/{job_id}/retry", "post", lambda: client.post(f"/api/jobs/{job.id}/retry", **job.headers)),
        ("/api/jobs/{job_id}", "delete", lambda: client.delete(f"/api/jobs/{job.id}", **job.headers)),
    ]
    answered: dict[tuple[str, str], set[int]] = {}
    for path, method, call in calls:
        response = call()
        answer_matches(document, path, method, response)
        answered.setdefault((path, method), set()).add(response.status_code)

    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert set(answered) == documented, "every documented call was made"
    assert answered[("/api/upload", "post")] == {200, 400}
    assert answered[("/api/jobs/{job_id}/remix", "post")] == {200, 400, 403, 404, 409}
    assert answered[("/api/jobs/{job_id}/retry", "post")] == {202, 403, 404, 409}
    assert answered[("/api/jobs/{job_id}", "delete")] == {204, 403, 404, 409}
    assert answered[("/api/download/{job_id}", "get")] == {200, 206, 400, 404}


def test_a_job_is_answered_with_every_field_its_representation_has(client, finished):
    """The response schema filters what it does not declare: a field added to job_to_dict must be added to JobOut."""
    from jobs.api import job_to_dict

    assert client.get(f"/api/jobs/{finished.id}").json() == job_to_dict(finished, RequestFactory().get("/"))


def test_limits_answer_as_documented(document, client, make_job, samples, settings):
    settings.UPLOADS_PER_HOUR = 1
    make_job(client_address="127.0.0.1")  # the test client's address: its one upload this hour
    clip, song = samples
    with open(clip, "rb") as video, open(song, "rb") as music:
        response = client.post("/api/upload", {"videos": video, "music": music, "style": "CLEAN_VLOG"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    answer_matches(document, "/api/upload", "post", response)


def test_an_upload_the_storage_cannot_keep_answers_as_documented(document, client, db, samples, monkeypatch):
    from jobs.storage import StorageUnavailable

    def out_of_reach(**kwargs):
        raise StorageUnavailable("the bucket did not answer")

    monkeypatch.setattr("jobs.services.job_create", out_of_reach)
    clip, song = samples
    with open(clip, "rb") as video, open(song, "rb") as music:
        response = client.post("/api/upload", {"videos": video, "music": music, "style": "CLEAN_VLOG"})
    assert response.status_code == 503 and response["Retry-After"]
    answer_matches(document, "/api/upload", "post", response)


def test_a_browser_on_another_origin_is_refused_as_documented_on_every_call(document, client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://studio.example.com"]
    for path, method, address in [("/api/styles", "get", "/api/styles"), ("/api/upload", "post", "/api/upload"),
                                  ("/api/jobs/{job_id}", "delete", f"/api/jobs/{uuid.uuid4()}")]:
        response = getattr(client, method)(address, HTTP_ORIGIN="https://evil.example.net")
        assert response.status_code == 403
        answer_matches(document, path, method, response)


def test_a_get_is_answered_to_head_too_without_being_documented_twice(document, client, db):
    assert client.head("/api/styles").status_code == 200
    assert "head" not in document["paths"]["/api/styles"]


def test_the_document_and_docs_refuse_other_methods_with_the_apis_405(client, db):
    response = client.post("/api/openapi.json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert "not allowed" in response.json()["detail"]


# ---------------------------------------------------------------- the docs page


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls, self.inline_scripts, self.inline_styles = [], 0, 0
        self._script_src = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] for name in ("src", "href") if attrs.get(name)]
        if "style" in attrs:
            self.inline_styles += 1
        if tag == "style":
            self.inline_styles += 1
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self.inline_scripts += 1  # JSON data is not run, so the CSP allows it


def test_the_docs_page_uses_only_the_sites_own_files(client, db):
    response = client.get("/api/docs")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page = Assets()
    page.feed(response.content.decode())
    assert page.inline_scripts == 0 and page.inline_styles == 0
    scripts = [url for url in page.urls if url.endswith(".js")]
    assert scripts and any("swagger-ui" in url for url in scripts)
    for url in page.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not on the site itself"
        assert finders.find(url.removeprefix("/static/")), f"{url} is not a static file the site ships"
    assert '"url": "/api/openapi.json"' in response.content.decode()
