"""Receiving a job's files: a streaming upload handler with a size limit (the form and submit are jobs/forms.py).

Every file streams to a temporary file in MEDIA_ROOT/tmp (never whole into memory, and on the same
filesystem as the job folders so keeping it is a rename). The handler stops storing as soon as a file
passes MAX_UPLOAD_MB or one file too many arrives: the partial file is deleted and later files are
skipped unread into nowhere, while the form's text fields still arrive (so the page can keep the
creator's settings). What it refused is left on the request for forms.read_job_form to report. Temporary files
are deleted when the request is done, kept or not.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from .models import upload_temp_dir


@dataclass(frozen=True)
class UploadProblem:
    field: str
    message: str


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
        self.too_big_in_total = False
        self.refused = False
        # `self.file` exists only while a file is being written: Django's parser closes (and so
        # deletes) whatever `handler.file` is when it skips or stops, which must not be a finished file.

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        # A body larger than every allowed file at full size cannot be valid: store none of it.
        most = (settings.MAX_VISUALS + 1) * self.limit + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        self.too_big_in_total = content_length > most
        return None  # let Django's multipart parser do the parsing

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        allowed = {"videos": settings.MAX_VISUALS, "music": 1}.get(field_name)
        if allowed is None or self.refused:
            raise SkipFile  # a part we did not ask for, or any file after a refusal, is never stored
        if self.too_big_in_total:
            self._refuse(field_name, f"The upload is too large: each file can be at most {settings.MAX_UPLOAD_MB} MB.")
        self.counts[field_name] += 1
        if self.counts[field_name] > allowed:
            if field_name == "music":
                self._refuse("music", "Add only one song.")
            self._refuse("videos", f"At most {settings.MAX_VISUALS} videos or photos per job.")
        if content_length is not None and content_length > self.limit:
            self._refuse_too_large()
        self.file = StagedFile(file_name, content_type, charset, content_type_extra)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > self.limit:
            self.file.close()  # deletes the part written so far
            del self.file
            self._refuse_too_large()
        self.file.write(raw_data)
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

    def _refuse_too_large(self) -> None:
        self._refuse(self.field_name, f"{self.file_name}: larger than {settings.MAX_UPLOAD_MB} MB.")

    def _refuse(self, field: str, message: str) -> None:
        self.refused = True
        if self.request is not None and not hasattr(self.request, "upload_problem"):
            self.request.upload_problem = UploadProblem(field, message)
        # The parser drops the rest of this file; the body is still read to its end (into nowhere),
        # so the client gets the 400 rather than a reset connection.
        raise SkipFile
