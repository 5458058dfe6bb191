"""The JSON API's request and response shapes (Pydantic), from which /api/openapi.json is generated.

Request settings are checked by the same Django forms the pages use (jobs/forms.py), so a rule and its
wording are stated once; the fields declared here carry the same limits (media_pipeline/limits.py) for the
document. Responses are declared as the views answer them, errors included.
"""

from __future__ import annotations

from typing import Any, Literal

from ninja import Schema
from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from media_pipeline.limits import MAX_DURATION, MAX_VISUALS, MIN_DURATION
from media_pipeline.style import STYLES

from .forms import ASPECT_RATIOS, RemixForm
from .models import Job
from .services import MAX_SEED

StyleName = Literal[tuple(STYLES)]  # type: ignore[valid-type]
AspectRatio = Literal[tuple(ASPECT_RATIOS)]  # type: ignore[valid-type]
JobStatus = Literal[tuple(Job.Status.values)]  # type: ignore[valid-type]
NOT_AN_OBJECT = 'Send a JSON object, e.g. {"style": "NEON_NIGHT"}.'


def moment() -> Any:
    """An ISO 8601 time, as the views write it (datetime.isoformat)."""
    return Field(json_schema_extra={"format": "date-time"})


def form_error(field: str, detail: str) -> PydanticCustomError:
    """A refusal the API reports as {"detail", "field"} (rest.py's validation handler reads the context)."""
    return PydanticCustomError("cutline_form", "{detail}", {"detail": detail, "field": field})


# ---------------------------------------------------------------- requests


class UploadForm(BaseModel):
    """POST /api/upload's multipart form (checked by jobs/forms.JobForm, shared with the editor page)."""

    videos: list[bytes] = Field(
        min_length=1, max_length=MAX_VISUALS,
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
        description=f"1 to {MAX_VISUALS} clips or photos, each as a `videos` part.",
    )
    music: bytes = Field(json_schema_extra={"format": "binary"}, description="The song.")
    style: StyleName
    duration: float = Field(30.0, ge=MIN_DURATION, le=MAX_DURATION, description="Seconds of output.")
    aspect_ratio: AspectRatio = "9:16"
    callback_url: str | None = Field(None, description="Where to POST the job's JSON when it ends.")


class RemixIn(BaseModel):
    """POST /api/jobs/<id>/remix's JSON body; length and shape default to the source job's."""

    style: StyleName
    duration: float | None = Field(None, ge=MIN_DURATION, le=MAX_DURATION, description="Seconds of output.")
    aspect_ratio: AspectRatio | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Picks the edit; none: a new random one.")
    callback_url: str | None = Field(None, description="Where to POST the job's JSON when it ends.")

    @model_validator(mode="before")
    @classmethod
    def checked_by_the_form(cls, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise form_error("__all__", NOT_AN_OBJECT)
        form = RemixForm(data)
        if not form.is_valid():
            raise form_error(*form.first_error())
        return form.remix_input()


# ---------------------------------------------------------------- responses


class Error(Schema):
    """Every refusal: what went wrong in words, and for a bad input the field it concerns."""

    detail: str
    field: str | None = Field(None, description="The form field or JSON key at fault; `__all__` for the request.")


class JobError(Error):
    """A refusal that depends on the job's state (409), or a download of an unfinished job (400)."""

    job_status: JobStatus


class Queued(Schema):
    job_id: str
    status: JobStatus
    message: str
    status_url: str


class Uploaded(Queued):
    token: str = Field(description="Shown once: send it as `Authorization: Bearer <token>` to retry, remix or delete.")


class Remixed(Queued):
    remixed_from: str
    seed: int


class JobOut(Schema):
    """A job as GET /api/jobs/<id> answers it (and as a callback sends it)."""

    id: str
    status: JobStatus
    progress: int
    current_step: str
    style: str
    duration: float
    aspect_ratio: str
    created_at: str = moment()
    updated_at: str = moment()
    started_at: str | None = moment()
    completed_at: str | None = moment()
    error_message: str | None
    output_video_url: str | None = Field(description="Once COMPLETED.")
    poster_url: str | None = Field(description="Once the poster is made.")
    remixed_from: str | None = Field(description="The job a remix was made from.")
    seed: int


class Plan(Schema):
    """The render plan: music window, tempo, beats, segments, and after the render its `sync` (README)."""

    model_config = {"extra": "allow"}


class Style(Schema):
    name: str
    label: str
    description: str


class Styles(Schema):
    styles: list[Style]
