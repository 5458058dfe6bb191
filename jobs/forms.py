"""The job form and the submit flow, shared by the editor page and POST /api/upload so both check input alike.

submit() reads the posted form (its files already streamed to disk by jobs/uploads.py), creates and
queues the job through services.job_create, and always drops the request's temporary files.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

from media_pipeline.limits import DEFAULT_ASPECT, DEFAULT_DURATION, MAX_DURATION, MIN_DURATION
from media_pipeline.style import STYLES

from . import disk, metrics, quotas, services
from .clients import client_address
from .models import ASPECT_CHOICES, Job
from .storage import StorageUnavailable
from .uploads import UploadProblem, disk_full

ASPECT_RATIOS = [ratio for ratio, _ in ASPECT_CHOICES]
DURATION_MESSAGE = f"Duration must be a number of seconds from {MIN_DURATION:g} to {MAX_DURATION:g}."
SEED_MESSAGE = f"Seed must be a whole number from 0 to {services.MAX_SEED}."


def style_choices() -> list[tuple[str, str]]:
    return [(style.name, style.label) for style in STYLES.values()]


def style_messages() -> dict[str, str]:
    """What a missing or unknown style is told, naming the styles (the upload and the remix say the same)."""
    names = ", ".join(name for name, _ in style_choices())
    return {
        "required": f"Choose a style: {names}.",
        "invalid_choice": f"Unknown style '%(value)s': choose one of {names}.",
    }


def whole(number: float) -> int | float:
    """5.0 as 5 (for pages and query strings), 12.5 as is."""
    return int(number) if float(number).is_integer() else number


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files under one name; the count is checked by the form."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class JobForm(forms.Form):
    # How the API answers a refusal (the page always answers 422 with the form): a refusal before the files
    # were read (jobs/uploads.py) sets these from its UploadProblem.
    status = 400
    refusal_reason = "bad_file"
    retry_after: int | None = None

    # Declared in the order the API reports problems: files first, then settings.
    videos = MultipleFileField(required=False)
    music = forms.FileField(required=False, error_messages={"empty": "The song file is empty."})
    style = forms.ChoiceField(choices=style_choices)
    duration = forms.FloatField(
        required=False,
        min_value=MIN_DURATION,
        max_value=MAX_DURATION,
        error_messages={key: DURATION_MESSAGE for key in ("invalid", "min_value", "max_value")},
    )
    aspect_ratio = forms.ChoiceField(
        required=False,
        choices=ASPECT_CHOICES,
        error_messages={"invalid_choice": f"Aspect ratio must be one of {', '.join(ASPECT_RATIOS)}."},
    )
    # API only: where to POST the job's JSON when it ends; job_create checks it (jobs/callbacks.py).
    callback_url = forms.CharField(required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["style"].error_messages.update(style_messages())

    def clean_videos(self) -> list[UploadedFile]:
        videos = self.cleaned_data["videos"]
        if not videos:
            raise forms.ValidationError("Add at least one video or photo.")
        if len(videos) > settings.MAX_VISUALS:
            raise forms.ValidationError(f"At most {settings.MAX_VISUALS} videos or photos per job.")
        return videos

    def clean_music(self) -> UploadedFile:
        if not self.cleaned_data["music"]:
            raise forms.ValidationError("Add a song.")
        return self.cleaned_data["music"]

    def clean_duration(self) -> float:
        duration = self.cleaned_data["duration"]
        return float(DEFAULT_DURATION if duration is None else duration)

    def clean_aspect_ratio(self) -> str:
        return self.cleaned_data["aspect_ratio"] or DEFAULT_ASPECT

    def first_error(self) -> tuple[str, str]:
        """(field, message) of the first problem, in field order; the API reports one at a time."""
        for field in [*self.fields, "__all__"]:
            if self.errors.get(field):
                return field, self.errors[field][0]
        return "__all__", "The request was not valid."

    def job_input(self) -> dict[str, Any]:
        """Keyword arguments for services.job_create; the uploads move into the job folder."""
        data = self.cleaned_data
        return dict(
            visuals=[_source(upload) for upload in data["videos"]],
            music=_source(data["music"]),
            style=data["style"],
            duration=data["duration"],
            aspect_ratio=data["aspect_ratio"],
            callback_url=data["callback_url"],
        )


class RemixForm(forms.Form):
    """A remix's settings (the job page's "Try another style", POST /api/jobs/<id>/remix); the files are the
    source job's. Length and shape default to the source's; no seed picks a new one (services.job_remix)."""

    style = forms.ChoiceField(choices=style_choices)
    duration = forms.FloatField(
        required=False, min_value=MIN_DURATION, max_value=MAX_DURATION,
        error_messages={key: DURATION_MESSAGE for key in ("invalid", "min_value", "max_value")},
    )
    aspect_ratio = forms.ChoiceField(
        required=False, choices=ASPECT_CHOICES,
        error_messages={"invalid_choice": f"Aspect ratio must be one of {', '.join(ASPECT_RATIOS)}."},
    )
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=services.MAX_SEED,
        error_messages={key: SEED_MESSAGE for key in ("invalid", "min_value", "max_value")},
    )
    callback_url = forms.CharField(required=False)  # API only, as at upload

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["style"].error_messages.update(style_messages())

    first_error = JobForm.first_error

    def remix_input(self) -> dict[str, Any]:
        """Keyword arguments for services.job_remix."""
        data = self.cleaned_data
        return dict(
            style=data["style"], duration=data["duration"], aspect_ratio=data["aspect_ratio"] or None,
            seed=data["seed"], callback_url=data["callback_url"],
        )


class PrefillForm(forms.Form):
    """Settings carried in the editor's query string (from "Make it again"): bad values are dropped."""

    style = forms.ChoiceField(choices=style_choices, required=False)
    duration = forms.FloatField(required=False, min_value=MIN_DURATION, max_value=MAX_DURATION)
    aspect_ratio = forms.ChoiceField(choices=ASPECT_CHOICES, required=False)

    def initial_values(self) -> dict[str, Any]:
        self.is_valid()
        values = {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
        if "duration" in values:
            values["duration"] = whole(values["duration"])
        return values


def _source(upload: UploadedFile) -> services.SourceFile:
    if hasattr(upload, "temporary_file_path"):
        upload.file.flush()
        return services.SourceFile(name=upload.name, path=Path(upload.temporary_file_path()), move=True)
    upload.seek(0)
    return services.SourceFile(name=upload.name, stream=upload)


# ---------------------------------------------------------------- the submit flow


def read_job_form(request: HttpRequest) -> JobForm:
    """The POSTed job form, bound to the request's fields and files; a refusal by the handler is its only error."""
    if request.content_type != "multipart/form-data":
        return _refused(UploadProblem("__all__", "The request must be multipart/form-data (the files as videos "
                                                 "and music, the settings as fields)."))
    try:
        data, files = request.POST, request.FILES
    except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
        return _refused(UploadProblem("__all__", "The upload has too many parts or too much form data."))
    except MultiPartParserError:
        return _refused(UploadProblem("__all__", "The upload could not be read: send it as multipart/form-data."))
    problem = getattr(request, "upload_problem", None)
    if problem is not None:
        return _refused(problem, data)
    return JobForm(data, files)


def create_job(form: JobForm, client: str | None = None, **stamp: str) -> Job | None:
    """Create and queue the job from a bound form; None, with the reasons on the form, when anything is wrong.

    `client` is the address the abuse limits count it under (jobs/clients.py); `stamp` holds the owner
    fields the job is made with (jobs/ownership.py).
    """
    if not form.is_valid():
        return None
    try:
        return services.job_create(**form.job_input(), client_address=client, **stamp)
    except services.JobInputError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None
    except quotas.OverLimit as exc:
        _report(form, UploadProblem("__all__", exc.refusal.detail, status=429, reason=exc.refusal.reason,
                                    retry_after=exc.refusal.retry_after))
        return None
    except OSError as exc:
        if not disk.is_disk_full(exc):
            raise
        # job_create has already removed the job and its files.
        _report(form, disk_full())
        return None
    except StorageUnavailable:
        # The bucket is out of reach: nothing was stored (or the sweep removes it once it is back).
        _report(form, UploadProblem("__all__", "Your files could not be stored just now. Try again in a minute.",
                                    status=503, reason="storage_unavailable", retry_after=60))
        return None


def submit(request: HttpRequest, **stamp: str) -> tuple[Job | None, JobForm]:
    """Read the posted job, create and queue it (owned as `stamp` says: jobs/ownership.py), and always drop
    the request's temporary files.

    Returns the job (None when refused) and the bound form carrying any errors.
    """
    form = read_job_form(request)
    try:
        job = create_job(form, client_address(request), **stamp)
        if job is None:
            metrics.upload_refused(form.refusal_reason)
        return job, form
    finally:
        discard_uploads(request)


def discard_uploads(request: HttpRequest) -> None:
    """Delete the request's temporary files now (those moved into a job are already gone from tmp)."""
    files = getattr(request, "_files", None)
    if files:
        for upload in chain.from_iterable(values for _, values in files.lists()):
            upload.close()


def _refused(problem: UploadProblem, data=None) -> JobForm:
    form = JobForm(data or {}, {})
    form.full_clean()
    # Keep the settings the creator chose (to show them again), but report only the refusal.
    form._errors.clear()
    _report(form, problem)
    return form


def _report(form: JobForm, problem: UploadProblem) -> None:
    form.add_error(problem.field if problem.field in form.fields else None, problem.message)
    form.status, form.refusal_reason, form.retry_after = problem.status, problem.reason, problem.retry_after
