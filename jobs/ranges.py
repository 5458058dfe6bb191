"""HTTP byte ranges for downloads: one range per request (206), 416 past the end, If-Range, an attachment.

Players seek in the preview by asking for ranges; a download manager resumes with If-Range. Several
ranges in one request are answered with the whole file, as RFC 9110 allows. The file is read through its
storage (jobs/storage.py), so a bucket's object streams through Django exactly as a file on disk does.
"""

from __future__ import annotations

import os
import re

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.http import http_date, parse_http_date_safe

from .storage import JobStorage

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, for one satisfiable range; None to send the whole file.

    A malformed header or several ranges are ignored (the whole file is sent, as RFC 9110 allows);
    a well-formed range that lies outside the file raises Unsatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the final N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    if last != "" and int(last) < start:
        return None  # malformed: ignored
    if start >= size:
        raise Unsatisfiable
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end


def ranged_file_response(request: HttpRequest, storage: JobStorage, name: str, filename: str) -> HttpResponse:
    """The stored file as an MP4 attachment, streamed, honouring one byte range (206) so players can seek.

    Raises FileNotFoundError when the storage has no such file.
    """
    stat = storage.stat(name)
    size = stat.size
    mtime = stat.modified.timestamp()
    etag = f'"{size:x}-{int(mtime * 1_000_000):x}"'
    last_modified = http_date(mtime)
    try:
        byte_range = parse_range(request.headers.get("Range"), size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if byte_range is not None and not _if_range_matches(request.headers.get("If-Range"), etag, mtime):
        byte_range = None  # the file changed since the client's first part: send it whole
    start, end = byte_range or (0, size - 1)
    length = max(0, end - start + 1)
    if request.method == "HEAD":
        response = HttpResponse(content_type="video/mp4")
    elif byte_range is None:
        response = FileResponse(storage.open_range(name, 0, size), content_type="video/mp4")
    else:
        response = FileResponse(storage.open_range(name, start, length), content_type="video/mp4", status=206)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Content-Disposition"] = _attachment(filename)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Last-Modified"] = last_modified
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _if_range_matches(value: str | None, etag: str, mtime: float) -> bool:
    if value is None:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        return value == etag
    since = parse_http_date_safe(value)
    return since is not None and int(mtime) <= since


def _attachment(filename: str) -> str:
    # download_name() is ASCII letters, digits and hyphens: no quoting or RFC 5987 needed.
    return f'attachment; filename="{os.path.basename(filename)}"'
