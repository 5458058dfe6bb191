"""Receiving a job's files: a streaming upload handler with limits (the form and submit are jobs/forms.py).

Before any of the body is read, the handler refuses a request from a client over its limits
(jobs/quotas.py: 429), one whose Content-Length is more than every allowed file could fill (413) and one that
would leave the disk under MIN_FREE_DISK_MB (jobs/disk.py: 507); then nothing of the body is read, and the
server closes the connection after answering. Every file streams to a temporary file in MEDIA_ROOT/tmp
(never whole into memory, and on the same filesystem as the job folders so keeping it is a rename). A file
that passes MAX_UPLOAD_MB stops the upload there (the rest of the body is not read); one file too many, or a
disk that fills meanwhile, stops the storing: the partial file is deleted and later files are skipped into
nowhere, while the form's text fields still arrive (so the page can keep the creator's settings). What it
refused is left on the request for forms.read_job_form to report. Temporary files are deleted when the
request is done, kept or not.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from . import disk, quotas
from .clients import client_address
from .models import upload_temp_dir


@dataclass(frozen=True)
class UploadProblem:
    field: str
    message: str
    status: int = 400  # what the API answers
    reason: str = "bad_file"  # a fixed word for the refused-uploads metric
    retry_after: int | None = None  # seconds, when trying again later will work


def most_body_bytes() -> int:
    """The largest body a valid upload can have: every allowed file at full size, and the form's fields."""
    return (settings.MAX_VISUALS + 1) * size_limit() + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def admission_problem(request: HttpRequest | None, content_length: int) -> UploadProblem | None:
    """Why this upload is refused before any of its body is read, or None to read it."""
    if content_length > most_body_bytes():
        return UploadProblem(
            "__all__",
            f"The upload is too large: at most {settings.MAX_VISUALS} videos or photos and one song, "
            f"each at most {settings.MAX_UPLOAD_MB} MB.",
            status=413, reason="too_large",
        )
    refusal = quotas.upload_refusal(client_address(request)) if request is not None else None
    if refusal is not None:
        return UploadProblem("__all__", refusal.detail, status=429, reason=refusal.reason,
                             retry_after=refusal.retry_after)
    if not disk.upload_fits(content_length, upload_temp_dir()):
        return disk_full()
    return None


def disk_full() -> UploadProblem:
    return UploadProblem("__all__", disk.UPLOAD_DISK_FULL, status=507, reason="disk_full", retry_after=300)


def size_limit() -> int:
    return settings.MAX_UPLOAD_MB * 1024 * 1024


class StagedFile(UploadedFile):
    """An upload written to a generated temporary name; deleted when closed unless it was moved away."""

    def __init__(self, name: str, content_type: str, charset: str | None, content_type_extra: dict | None):
        file = tempfile.NamedTemporaryFile(prefix="upload-", suffix=".part", dir=upload_temp_dir())
        super().__init__(file, name, content_type, 0, charset, content_type_extra)

    def temporary_file_path(self) -> str:
        return self.file.name

    def close(self) -> None:
        try:
            self.file.close()
        except FileNotFoundError:
            pass  # moved into a job folder: nothing to delete


class LimitedUploadHandler(FileUploadHandler):
    """Streams the job's files to disk; stores nothing more once a file passes the limit or one too many comes."""

    def __init__(self, request: HttpRequest | None = None):
        super().__init__(request)
        self.limit = size_limit()
        self.counts: Counter[str] = Counter()
        self.refused = False
        # `self.file` exists only while a file is being written: Django's parser closes (and so
        # deletes) whatever `handler.file` is when it skips or stops, which must not be a finished file.

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        problem = admission_problem(self.request, content_length)
        if problem is None:
            return None  # let Django's multipart parser do the parsing
        self.refused = True
        self._report(problem)
        # Parsed as an empty form: not a byte of the body is read (gunicorn closes the connection after the
        # answer rather than drain a large body).
        return QueryDict(encoding=encoding), MultiValueDict()

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        allowed = {"videos": settings.MAX_VISUALS, "music": 1}.get(field_name)
        if allowed is None or self.refused:
            raise SkipFile  # a part we did not ask for, or any file after a refusal, is never stored
        self.counts[field_name] += 1
        if self.counts[field_name] > allowed:
            if field_name == "music":
                self._refuse("music", "Add only one song.")
            self._refuse("videos", f"At most {settings.MAX_VISUALS} videos or photos per job.")
        if content_length is not None and content_length > self.limit:
            self._refuse_too_large()
        try:
            self.file = StagedFile(file_name, content_type, charset, content_type_extra)
        except OSError as exc:
            self._refuse_if_disk_full(exc)
            raise

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > self.limit:
            self._drop_partial()
            self._refuse_too_large()
        try:
            self.file.write(raw_data)
        except OSError as exc:
            self._drop_partial()
            self._refuse_if_disk_full(exc)
            raise
        return None

    def file_complete(self, file_size: int) -> UploadedFile:
        file = self.file
        del self.file
        file.file.flush()
        file.seek(0)
        file.size = file_size
        return file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()
            del self.file

    def _drop_partial(self) -> None:
        self.file.close()  # deletes the part written so far
        del self.file

    def _refuse_too_large(self) -> None:
        self.refused = True
        self._report(UploadProblem(self.field_name, f"{self.file_name}: larger than {settings.MAX_UPLOAD_MB} MB.",
                                   reason="too_large"))
        # The body is larger than the limits allow: stop reading it here. The answer still goes out, and the
        # server closes the connection after it instead of reading the rest.
        raise StopUpload(connection_reset=True)

    def _refuse_if_disk_full(self, exc: OSError) -> None:
        if disk.is_disk_full(exc):
            self.refused = True
            self._report(disk_full())
            raise SkipFile from exc  # the rest of the body goes nowhere; the client gets the 507

    def _refuse(self, field: str, message: str) -> None:
        self.refused = True
        self._report(UploadProblem(field, message))
        # The parser drops the rest of this file into nowhere (the body is bounded by its Content-Length,
        # checked first), so the client gets the 400 rather than a reset connection.
        raise SkipFile

    def _report(self, problem: UploadProblem) -> None:
        if self.request is not None and not hasattr(self.request, "upload_problem"):
            self.request.upload_problem = problem
