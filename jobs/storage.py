"""Where uploads and renders are kept: the local file system (one machine) or an S3-compatible bucket.

STORAGES["default"] names LocalStorage or bucket.BucketStorage (S3_BUCKET set). Both are Django storages with the
few operations the jobs need on top, so every caller has one code path whichever is configured:

- keep(path, name): store a local file under `name` (a rename on disk, an upload to a bucket);
- fetch(name, folder): a local path to read a stored file from (in place on disk, a copy in `folder`);
- stat(name) and open_range(name, start, length): what a ranged download needs;
- presigned_url(name, filename): a time-limited URL to the bucket (None on disk);
- delete_folder(name): every file under a job's folder;
- problem(): why the storage cannot be used right now, for /health (None when it can).

ffmpeg never reads from a URL: a worker fetches its inputs to local files first (jobs/scratch.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol

from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage


class StorageUnavailable(Exception):
    """The bucket could not be reached, refused the credentials or failed the request: the storage's fault,
    not the file's, so trying again later may work."""


@dataclass(frozen=True)
class Stat:
    """What a download needs to know about a stored file: its size and when it last changed."""

    size: int
    modified: datetime


class JobStorage(Protocol):
    def keep(self, path: Path, name: str) -> str: ...
    def fetch(self, name: str, folder: Path) -> Path: ...
    def stat(self, name: str) -> Stat: ...
    def open_range(self, name: str, start: int, length: int) -> BinaryIO: ...
    def presigned_url(self, name: str, filename: str) -> str | None: ...
    def delete_folder(self, name: str) -> None: ...
    def problem(self) -> str | None: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...


def job_storage() -> JobStorage:
    """The configured storage (STORAGES["default"], which every job FileField uses)."""
    return default_storage  # type: ignore[return-value]


class _LocalFile(File):
    """A file on local disk that FileSystemStorage may move into place instead of copying."""

    def __init__(self, path: Path):
        super().__init__(None, name=str(path))
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


class LocalStorage(FileSystemStorage):
    """Files under MEDIA_ROOT. A stored name is kept as it is: the names are ours (jobs/<id>/...), so a
    re-render replaces its output rather than gaining a suffix, as in a bucket."""

    def __init__(self, **options):
        options.setdefault("allow_overwrite", True)
        super().__init__(**options)

    def keep(self, path: Path, name: str) -> str:
        # A rename when the file is on the same file system (upload temporaries and scratch default to
        # folders under MEDIA_ROOT), so no byte is copied.
        return self.save(name, _LocalFile(path))

    def fetch(self, name: str, folder: Path) -> Path:
        return Path(self.path(name))  # read in place (a missing file is reported by the probe that reads it)

    def stat(self, name: str) -> Stat:
        info = os.stat(self.path(name))
        return Stat(size=info.st_size, modified=datetime.fromtimestamp(info.st_mtime, tz=timezone.utc))

    def open_range(self, name: str, start: int, length: int) -> BinaryIO:
        return _Slice(open(self.path(name), "rb"), start, length)  # type: ignore[return-value]

    def presigned_url(self, name: str, filename: str) -> str | None:
        return None

    def delete_folder(self, name: str) -> None:
        shutil.rmtree(self.path(name), ignore_errors=True)

    def problem(self) -> str | None:
        return None


class _Slice:
    """`length` bytes of an open file from `start`, read in the pieces FileResponse asks for."""

    def __init__(self, file: BinaryIO, start: int, length: int):
        self._file = file
        self._file.seek(start)
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._file.read(size)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._file.close()
