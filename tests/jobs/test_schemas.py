"""The API's schemas say what the shared forms check: the same fields, the same required ones, and a remix body
refused with the form's own words and field."""

import pytest
from pydantic import ValidationError

from jobs.forms import DURATION_MESSAGE, SEED_MESSAGE, JobForm, RemixForm
from jobs.schemas import NOT_AN_OBJECT, RemixIn, UploadForm


def required_by_form(form) -> set[str]:
    return {name for name, field in form.base_fields.items() if field.required}


def required_by_schema(schema) -> set[str]:
    return {name for name, field in schema.model_fields.items() if field.is_required()}


def test_the_upload_schema_describes_the_forms_fields_and_which_are_required():
    assert list(UploadForm.model_fields) == list(JobForm.base_fields)
    # The form marks files optional to word their absence itself; it still refuses an upload without them.
    assert required_by_schema(UploadForm) == required_by_form(JobForm) | {"videos", "music"}


def test_the_remix_schema_describes_the_forms_fields():
    assert list(RemixIn.model_fields) == list(RemixForm.base_fields)
    assert required_by_schema(RemixIn) == required_by_form(RemixForm) == {"style"}


def test_a_remix_body_gives_the_services_arguments_with_defaults_left_to_the_source():
    body = RemixIn.model_validate({"style": "NEON_NIGHT", "seed": "12"})
    assert body.model_dump() == {"style": "NEON_NIGHT", "duration": None, "aspect_ratio": None, "seed": 12,
                                 "callback_url": ""}


@pytest.mark.parametrize(("data", "field", "detail"), [
    ({"style": "CLEAN_VLOG", "duration": 2}, "duration", DURATION_MESSAGE),
    ({"style": "CLEAN_VLOG", "seed": 1.5}, "seed", SEED_MESSAGE),
    ({"style": "POLKA"}, "style", "Unknown style 'POLKA'"),
    ([1, 2], "__all__", NOT_AN_OBJECT),
    (None, "__all__", NOT_AN_OBJECT),
])
def test_a_bad_remix_body_is_refused_with_the_forms_words_and_field(data, field, detail):
    with pytest.raises(ValidationError) as refused:
        RemixIn.model_validate(data)
    (problem,) = refused.value.errors()
    assert problem["ctx"]["field"] == field and problem["ctx"]["detail"].startswith(detail)
