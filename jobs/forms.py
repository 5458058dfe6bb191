"""The job form: shared by the editor page and POST /api/upload, so both check input the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from .services import ASPECT_RATIOS, MAX_DURATION, MIN_DURATION, SourceFile

DEFAULT_DURATION = 30
DEFAULT_ASPECT = "9:16"
ASPECT_LABELS = {"9:16": "Vertical", "1:1": "Square", "4:5": "Portrait", "16:9": "Landscape"}
DURATION_MESSAGE = f"Duration must be a number of seconds from {MIN_DURATION} to {MAX_DURATION}."


def style_choices() -> list[tuple[str, str]]:
    from media_pipeline.style import STYLES

    return [(style.name, style.label) for style in STYLES.values()]


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
        choices=[(ratio, f"{ratio} {ASPECT_LABELS[ratio]}") for ratio in ASPECT_RATIOS],
        error_messages={"invalid_choice": f"Aspect ratio must be one of {', '.join(ASPECT_RATIOS)}."},
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        names = ", ".join(name for name, _ in style_choices())
        self.fields["style"].error_messages.update(
            required=f"Choose a style: {names}.",
            invalid_choice=f"Unknown style '%(value)s': choose one of {names}.",
        )

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
        )


class PrefillForm(forms.Form):
    """Settings carried in the editor's query string (from "Make it again"): bad values are dropped."""

    style = forms.ChoiceField(choices=style_choices, required=False)
    duration = forms.FloatField(required=False, min_value=MIN_DURATION, max_value=MAX_DURATION)
    aspect_ratio = forms.ChoiceField(choices=[(ratio, ratio) for ratio in ASPECT_RATIOS], required=False)

    def initial_values(self) -> dict[str, Any]:
        self.is_valid()
        values = {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
        if "duration" in values:
            values["duration"] = _whole(values["duration"])
        return values


def _whole(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


def _source(upload: UploadedFile) -> SourceFile:
    if hasattr(upload, "temporary_file_path"):
        upload.file.flush()
        return SourceFile(name=upload.name, path=Path(upload.temporary_file_path()), move=True)
    upload.seek(0)
    return SourceFile(name=upload.name, stream=upload)
