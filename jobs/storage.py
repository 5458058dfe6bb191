"""Where uploads and renders are kept: the local file system (one machine) or an S3-compatible bucket.

STORAGES["default"] names LocalStorage or BucketStorage (S3_BUCKET set). Both are Django storages with the
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

import botocore.exceptions
from botocore.config import Config
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# What the bucket client waits for: a dead endpoint must fail a request, not hang it.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
# /health answers quickly even when the bucket's endpoint does not.
HEALTH_TIMEOUT_S = 3


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


class BucketStorage(S3Storage):
    """An S3-compatible bucket (AWS S3, SeaweedFS, Garage, ...) through django-storages, set from the S3_*
    settings. Objects are private: clients get them through /api/download, or a presigned URL when
    S3_PRESIGNED_DOWNLOADS is on."""

    def get_default_settings(self) -> dict:
        options = super().get_default_settings()
        endpoint = settings.S3_ENDPOINT_URL or None
        options.update(
            bucket_name=settings.S3_BUCKET,
            endpoint_url=endpoint,
            region_name=settings.S3_REGION or None,
            default_acl=None,
            file_overwrite=True,
            querystring_auth=True,
            querystring_expire=settings.S3_PRESIGNED_EXPIRY_S,
            client_config=_client_config(endpoint, CONNECT_TIMEOUT_S, READ_TIMEOUT_S, attempts=3),
        )
        # Empty keys fall back to boto3's own chain (AWS_* variables, an instance role).
        if settings.S3_ACCESS_KEY_ID:
            options.update(access_key=settings.S3_ACCESS_KEY_ID, secret_key=settings.S3_SECRET_ACCESS_KEY)
        return options

    @property
    def _client(self):
        return self.connection.meta.client

    def _key(self, name: str) -> str:
        return self._normalize_name(clean_name(name))

    @contextmanager
    def _reaching(self, name: str, doing: str) -> Iterator[None]:
        """botocore's errors as ours: a missing object is FileNotFoundError, anything else StorageUnavailable."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(f"{name} is missing from the bucket") from exc
            raise StorageUnavailable(f"{name} could not be {doing} bucket {self.bucket_name!r}: {exc}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise StorageUnavailable(f"{name} could not be {doing} bucket {self.bucket_name!r}: {exc}") from exc

    def keep(self, path: Path, name: str) -> str:
        with self._reaching(name, "stored in"), open(path, "rb") as file:
            return self.save(name, File(file, name=path.name))

    def fetch(self, name: str, folder: Path) -> Path:
        # The stored file's own name: the plan and its public form name inputs by it.
        target = folder / PurePosixPath(name).name
        try:
            with self._reaching(name, "read from"):
                self._client.download_file(self.bucket_name, self._key(name), str(target), Config=self.transfer_config)
        except (FileNotFoundError, StorageUnavailable):
            target.unlink(missing_ok=True)
            raise
        return target

    def stat(self, name: str) -> Stat:
        with self._reaching(name, "read from"):
            head = self._client.head_object(Bucket=self.bucket_name, Key=self._key(name))
        return Stat(size=head["ContentLength"], modified=head["LastModified"])

    def _open(self, name: str, mode: str = "rb"):
        with self._reaching(name, "read from"):
            return super()._open(name, mode)

    def exists(self, name: str) -> bool:
        with self._reaching(name, "looked up in"):
            return super().exists(name)

    def open_range(self, name: str, start: int, length: int) -> BinaryIO:
        request = {"Bucket": self.bucket_name, "Key": self._key(name)}
        if length > 0:
            request["Range"] = f"bytes={start}-{start + length - 1}"
        with self._reaching(name, "read from"):
            return self._client.get_object(**request)["Body"]  # streamed as FileResponse reads it

    def presigned_url(self, name: str, filename: str) -> str | None:
        return self.url(name, parameters={
            "ResponseContentDisposition": f'attachment; filename="{os.path.basename(filename)}"',
            "ResponseContentType": "video/mp4",
        })

    def delete_folder(self, name: str) -> None:
        prefix = self._key(name).rstrip("/") + "/"
        self.bucket.objects.filter(Prefix=prefix).delete()

    def problem(self) -> str | None:
        """One HEAD request on the bucket, on a client that gives up after HEALTH_TIMEOUT_S."""
        try:
            self._health_client.head_bucket(Bucket=self.bucket_name)
        except botocore.exceptions.ClientError as exc:
            status = _status(exc)
            if status in (401, 403):
                return f"object storage refused the credentials for bucket {self.bucket_name!r}"
            if status == 404:
                return f"bucket {self.bucket_name!r} does not exist"
            return f"object storage answered {status or exc.response.get('Error', {}).get('Code')}"
        except botocore.exceptions.NoCredentialsError:
            return "no credentials for object storage (set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY)"
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            return f"object storage unreachable: {type(exc).__name__}"
        return None

    @property
    def _health_client(self):
        # Made once per storage (one per process) and shared by threads, as boto3 clients may be.
        client = self.__dict__.get("_health")
        if client is None:
            session = self._create_session()
            client = self.__dict__["_health"] = session.client(
                "s3", region_name=self.region_name, endpoint_url=self.endpoint_url, verify=self.verify,
                config=_client_config(self.endpoint_url, 2, HEALTH_TIMEOUT_S, attempts=1),
            )
        return client


def _client_config(endpoint: str | None, connect: float, read: float, *, attempts: int) -> Config:
    return Config(
        # A custom endpoint (SeaweedFS, Garage, ...) is addressed by path; AWS picks its own style.
        s3={"addressing_style": "path" if endpoint else "auto"},
        signature_version="s3v4",  # presigned URLs too (botocore would sign them with the retired v2)
        connect_timeout=connect,
        read_timeout=read,
        retries={"total_max_attempts": attempts, "mode": "standard"},
        # Checksums only where the operation requires them: not every S3-compatible server knows the newer ones.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def _status(exc: botocore.exceptions.ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
