"""The JSON API (django-ninja): upload, status, plan, remix, retry, delete, poster, download, styles, and its
own description at /api/openapi.json with a docs page at /api/docs, both made from the declarations below.

No session is needed, so no CSRF token: every view is csrf-exempt (ninja's default without cookie auth).
Browsers on other origins are refused unless the origin is in CORS_ALLOWED_ORIGINS (django-cors-headers
answers their preflights). Every answer other than a file is JSON, errors `{"detail", "field"?}` as declared
in jobs/schemas.py; the JSON representations themselves are jobs/api.py's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import URLPattern, reverse
from ninja import NinjaAPI, Status
from ninja import Path as PathParam
from ninja.errors import ValidationError
from ninja.openapi.docs import Swagger
from pydantic import ValidationError as InvalidInput

from media_pipeline.style import STYLES

from . import api, quotas, services, stored_files
from .callbacks import MAX_ATTEMPTS
from .clients import client_address
from .forms import submit
from .models import Job
from .ownership import api_stamp, may_act
from .ranges import ranged_file_response
from .schemas import (
    Error,
    JobError,
    JobOut,
    Plan,
    Remixed,
    RemixIn,
    Styles,
    Uploaded,
    UploadForm,
)
from .storage import StorageUnavailable, job_storage

View = Callable[..., HttpResponse]
JobId = Annotated[str, PathParam(description="The job's id, a UUID; anything else is answered 404 like unknown ids.")]
NOT_FOUND = "Job not found"
NOT_OWNER = "Only the maker of this video may {action} it: send its token as Authorization: Bearer <token>."
METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
DOCUMENTED_PATHS = ("/api/styles, /api/upload, /api/jobs/<id>, /api/jobs/<id>/plan, /api/jobs/<id>/remix, "
                    "/api/jobs/<id>/poster, /api/download/<id>")


STORAGE_AWAY = "The stored files cannot be reached just now: try again in a minute."


class ApiError(Exception):
    """A refusal, answered as {"detail", "field"?, **extra} with its status (and headers such as Retry-After)."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status, self.body, self.headers = status, {"detail": detail, **extra}, headers or {}


def error(detail: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"detail": detail, **extra}, status=status)


def origin_allowed(request: HttpRequest) -> bool:
    """True for clients that send no Origin (curl, scripts), the site itself, and the listed origins."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == f"{request.scheme}://{request.get_host()}":
        return True
    if getattr(settings, "CORS_ALLOW_ALL_ORIGINS", False):
        return True
    return origin in (*settings.CORS_ALLOWED_ORIGINS, *settings.CSRF_TRUSTED_ORIGINS)


def method_not_allowed(request: HttpRequest, methods: list[str]) -> JsonResponse:
    methods = sorted(methods, key=lambda method: METHOD_ORDER.index(method) if method in METHOD_ORDER else 99)
    response = error(f"Method {request.method} not allowed: use {' or '.join(methods)}.", 405)
    response["Allow"] = ", ".join(methods)
    return response


def json_405(view: View) -> View:
    """Ninja's 405 (plain text, its Allow in any order) as the API's JSON, Allow in a fixed order."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            return method_not_allowed(request, [m.strip() for m in response["Allow"].split(",") if m.strip()])
        return response

    return wrapper


def readable(view: View) -> View:
    """The document and the docs page: GET and HEAD only, like every other reading."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed(request, ["GET", "HEAD"])
        return view(request, *args, **kwargs)

    return wrapper


def origin_checked(run: View) -> View:
    """Runs before the request's input is read, after the method was matched."""

    @wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not origin_allowed(request):
            return error("Cross-origin requests from this origin are not allowed.", 403)
        return run(request, *args, **kwargs)

    return wrapper


class Docs(Swagger):
    """Swagger UI from ninja's own static files (the site's CSP allows no CDN and no inline script).

    ninja renders its own template only when it is in INSTALLED_APPS, which it is not (settings.NINJA_DIR).
    """

    def get_openapi_url(self, api: NinjaAPI, path_params: dict[str, Any]) -> str:
        return reverse("openapi-json")

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings, indent=1), "api": api, "add_csrf": False}
        return render(request, self.template, context)


ORIGIN_REFUSED = {
    "description": "A browser on an origin not in CORS_ALLOWED_ORIGINS",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


class CutlineApi(NinjaAPI):
    """Mounted without a URL namespace, so the routes keep their names (api-job, api-download...)."""

    def _get_urls(self) -> list[Any]:
        return [
            URLPattern(pattern.pattern, json_405(pattern.callback), pattern.default_args, pattern.name)
            for pattern in super()._get_urls()
            if pattern.name != "api-root"  # /api/ itself stays the JSON 404 it was
        ]

    def get_root_path(self, path_params: dict[str, Any]) -> str:
        return reverse("openapi-json").removesuffix("openapi.json")

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        """Every call may also be refused to a browser on an origin not allowed (origin_checked)."""
        schema = super().get_openapi_schema(**kwargs)
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation["responses"]  # keyed by int, as ninja writes them (a "403" would be a twin)
                if 403 not in responses and "403" not in responses:
                    responses[403] = ORIGIN_REFUSED
        return schema


rest_api = CutlineApi(
    title="Cutline API",
    version="1",
    description=(
        "Upload clips and a song, get a beat-synced vertical MP4. No session or CSRF token is needed; an upload "
        "answers with a `token`, once: send it as `Authorization: Bearer <token>` to retry, remix or delete "
        "that job (and its remixes). Every error is `{\"detail\"}`, with `field` for a bad input."
    ),
    docs=Docs(),
    docs_decorator=readable,
)
rest_api.add_decorator(origin_checked, mode="view")


@rest_api.exception_handler(ApiError)
def _refused(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = JsonResponse(exc.body, status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def first_problem(errors: list[dict[str, Any]]) -> ApiError:
    """The first problem as {"detail", "field"}, in the schema's field order, as the forms report it."""
    first = errors[0]
    context = first.get("ctx") or {}
    if "field" in context:
        return ApiError(400, context["detail"], field=context["field"])
    return ApiError(400, str(first.get("msg")), field=str((first.get("loc") or ("__all__",))[-1]))


@rest_api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _refused(request, first_problem(exc.errors))


@rest_api.exception_handler(StorageUnavailable)
def _storage_away(request: HttpRequest, exc: StorageUnavailable) -> HttpResponse:
    # The bucket is out of reach (the reason, with its name, is for the operator's log, not the client).
    return _refused(request, ApiError(503, STORAGE_AWAY, headers={"Retry-After": "60"}))


@rest_api.exception_handler(Exception)
def _crashed(request: HttpRequest, exc: Exception) -> HttpResponse:
    raise exc  # Django's handler500 answers JSON without a traceback (jobs/error_pages.py), DEBUG or not


def _job(job_id: str) -> Job:
    try:
        return Job.objects.get(id=uuid.UUID(job_id))
    except (ValueError, Job.DoesNotExist):
        raise ApiError(404, NOT_FOUND) from None


def _owned(request: HttpRequest, job: Job, action: str) -> None:
    if not may_act(request, job):
        raise ApiError(403, NOT_OWNER.format(action=action))


def reading(path: str, **options: Any) -> Callable[[View], View]:
    """A GET operation, answered to HEAD too (HEAD is left out of the document: it is GET without a body)."""

    def register(view: View) -> View:
        rest_api.api_operation(["HEAD"], path, include_in_schema=False, url_name=options.get("url_name"))(view)
        return rest_api.get(path, **options)(view)

    return register


# ---------------------------------------------------------------- views

# What a callback_url receives when the job ends (jobs/callbacks.py; README "Callbacks").
JOB_ENDED = {"jobEnded": {"{$request.body#/callback_url}": {"post": {
    "summary": "The job ended (COMPLETED or FAILED): its JSON, as GET /api/jobs/<id> answers it",
    "parameters": [
        {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": about}
        for name, about in (
            ("X-Cutline-Signature", "sha256=<hex>: HMAC-SHA256 under CALLBACK_SECRET of the timestamp, a dot and "
                                    "the raw body"),
            ("X-Cutline-Timestamp", "Unix seconds, new for each attempt"),
            ("X-Cutline-Job", "The job's id"),
            ("X-Cutline-Attempt", f"1 to {MAX_ATTEMPTS}"),
        )
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/JobOut"}}}},
    "responses": {"2XX": {"description": "Delivered; anything else is tried again later"}},
}}}}

UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": UploadForm.model_json_schema()}},
}


@rest_api.post(
    "/upload", url_name="api-upload", operation_id="upload", summary="Upload clips and a song: a new job",
    response={200: Uploaded, 400: Error, 413: Error, 429: Error, 503: Error, 507: Error},
    openapi_extra={"requestBody": UPLOAD_BODY, "callbacks": JOB_ENDED},
    description=(
        "400 names the `field` (a wrong type by content, too many files, a file over the limit, an unknown "
        "style, a bad duration or shape, a missing part, a body that is not multipart/form-data, a refused "
        "`callback_url`); 413 a body larger than the limits allow; 429 (with `Retry-After`) over the client's "
        "limits; 503 (with `Retry-After`) the storage cannot be reached; 507 the server's disk is full."
    ),
)
def upload(request: HttpRequest) -> Any:
    stamp, token = api_stamp(request)
    job, form = submit(request, **stamp)
    if job is None:
        field, message = form.first_error()
        headers = {"Retry-After": str(form.retry_after)} if form.retry_after else None
        raise ApiError(form.status, message, field=field, headers=headers)
    return {
        "job_id": str(job.id),
        "status": job.status,
        "message": "Upload received: your video is queued for rendering.",
        "status_url": request.build_absolute_uri(reverse("api-job", args=[job.id])),
        # Shown this once (the job keeps only its hash): send it as `Authorization: Bearer <token>` to retry,
        # remix or delete the job.
        "token": token,
    }


def remix_settings(request: HttpRequest) -> RemixIn:
    """The remix's JSON body, read once the caller may remix (a stranger learns nothing from its errors)."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        data = None  # reported like any other body that is not an object
    try:
        return RemixIn.model_validate(data)
    except InvalidInput as exc:
        raise first_problem(exc.errors()) from None


@rest_api.post(
    "/jobs/{job_id}/remix", url_name="api-job-remix", operation_id="remix",
    summary="A new job from a finished or failed job's files, in another style, length, shape or seed",
    response={200: Remixed, 400: Error, 403: Error, 404: Error, 409: JobError, 429: Error, 503: Error},
    openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": RemixIn.model_json_schema()}},
    }, "callbacks": JOB_ENDED},
)
def remix(request: HttpRequest, job_id: JobId) -> Any:
    source = _job(job_id)
    _owned(request, source, "remix")
    body = remix_settings(request)
    address = client_address(request)
    if refusal := quotas.upload_refusal(address):
        raise ApiError(429, refusal.detail, headers={"Retry-After": str(refusal.retry_after)})
    try:
        job = services.job_remix(source, **body.model_dump(), client_address=address)
    except services.JobInputError as exc:
        raise ApiError(400, exc.message, field=exc.field) from None
    except services.JobConflict as exc:
        raise ApiError(409, str(exc), job_status=source.status) from None
    except quotas.OverLimit as exc:
        raise ApiError(429, exc.refusal.detail, headers={"Retry-After": str(exc.refusal.retry_after)}) from None
    return {
        "job_id": str(job.id),
        "status": job.status,
        "message": "Remix queued: your video is made again from the same files.",
        "status_url": request.build_absolute_uri(reverse("api-job", args=[job.id])),
        "remixed_from": str(source.id),
        "seed": job.seed,
    }


@reading("/jobs/{job_id}", url_name="api-job", operation_id="job", summary="A job's status",
         response={200: JobOut, 404: Error})
def job_detail(request: HttpRequest, job_id: JobId) -> Any:
    return api.job_to_dict(_job(job_id), request)


@rest_api.delete(
    "/jobs/{job_id}", url_name="api-job", operation_id="delete", summary="Delete a job and its files (its token)",
    response={204: None, 403: Error, 404: Error, 409: JobError, 503: Error},
)
def delete(request: HttpRequest, job_id: JobId) -> Any:
    job = _job(job_id)
    _owned(request, job, "delete")
    try:
        deleted, why = services.job_delete(job.id)
    except stored_files.NotDeleted:
        raise ApiError(503, "The video's files could not be deleted right now, so it is kept: try again in a moment.")
    if deleted:
        return HttpResponse(status=204)
    if not Job.objects.filter(id=job.id).exists():
        raise ApiError(404, NOT_FOUND)
    raise ApiError(409, f"This job cannot be deleted now: {why}.", job_status=job.status)


@rest_api.post(
    "/jobs/{job_id}/retry", url_name="api-job-retry", operation_id="retry",
    summary="Queue a failed or finished job again, on the same files and settings (its token)",
    response={202: JobOut, 403: Error, 404: Error, 409: JobError},
)
def retry(request: HttpRequest, job_id: JobId) -> Any:
    job = _job(job_id)
    _owned(request, job, "retry")
    queued, why = services.job_retry(job.id)
    if not queued:
        raise ApiError(409, f"This job cannot be queued again now: {why}.", job_status=job.status)
    job.refresh_from_db()
    return Status(202, api.job_to_dict(job, request))


@reading("/jobs/{job_id}/plan", url_name="api-job-plan", operation_id="plan",
         summary="The render plan, server paths replaced by the original file names",
         response={200: Plan, 404: Error})
def job_plan(request: HttpRequest, job_id: JobId) -> Any:
    job = _job(job_id)
    if not job.plan:
        raise ApiError(404, "This job has no plan yet: it is made when rendering starts.")
    return JsonResponse(api.public_plan(job))  # as it is: the plan's keys are not the schema's business


MP4 = {"200": {"description": "The MP4 as an attachment", "content": {"video/mp4": {"schema": {
    "type": "string", "format": "binary"}}}},
       "206": {"description": "The requested byte range", "content": {"video/mp4": {"schema": {
           "type": "string", "format": "binary"}}}},
       "302": {"description": "With S3_PRESIGNED_DOWNLOADS: a signed bucket URL"},
       "416": {"description": "A range outside the file"}}


@reading("/download/{job_id}", url_name="api-download", operation_id="download",
         summary="The finished MP4 (Range requests supported)",
         response={400: JobError, 404: Error, 503: Error}, openapi_extra={"responses": MP4})
def download(request: HttpRequest, job_id: JobId) -> HttpResponse:
    job = _job(job_id)
    if job.status != Job.Status.COMPLETED or not job.output_video:
        raise ApiError(400, "Job not completed yet", job_status=job.status)
    storage = job_storage()
    name = api.download_name(job)
    if settings.S3_PRESIGNED_DOWNLOADS and (url := storage.presigned_url(job.output_video.name, name)):
        return HttpResponseRedirect(url)  # opt-in: the client fetches it from the bucket itself
    try:
        return ranged_file_response(request, storage, job.output_video.name, name)
    except FileNotFoundError:
        raise ApiError(404, "The finished video is missing on the server: try rendering it again.") from None


JPEG = {"200": {"description": "A small JPEG of the liveliest shot", "content": {"image/jpeg": {"schema": {
    "type": "string", "format": "binary"}}}}}


@reading("/jobs/{job_id}/poster", url_name="api-job-poster", operation_id="poster",
         summary="The finished video's poster", response={404: Error, 503: Error}, openapi_extra={"responses": JPEG})
def poster(request: HttpRequest, job_id: JobId) -> HttpResponse:
    job = _job(job_id)
    if not job.poster:
        raise ApiError(404, "This job has no poster: it is made when the video is finished.", job_status=job.status)
    try:
        image = job.poster.open("rb")
    except FileNotFoundError:
        raise ApiError(404, "The poster is missing on the server.") from None
    response = FileResponse(image, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=300"  # a re-render replaces it under the same name
    return response


@reading("/styles", url_name="api-styles", operation_id="styles", summary="The styles to choose from",
         response={200: Styles})
def styles(request: HttpRequest) -> Any:
    return {
        "styles": [
            {"name": style.name, "label": style.label, "description": style.description}
            for style in STYLES.values()
        ]
    }


def not_found(request: HttpRequest, rest: str) -> JsonResponse:
    return error(f"Not found: see {DOCUMENTED_PATHS}.", 404)


not_found.csrf_exempt = True  # type: ignore[attr-defined]
