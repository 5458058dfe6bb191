"""An S3-compatible bucket as the jobs' storage (S3_BUCKET set): django-storages' S3 backend with jobs.storage's
operations on top.

Kept apart from jobs/storage.py so that a process on local storage (the default) never imports boto3 and
botocore, which a render worker would carry beside ffmpeg (benchmarks/README.md, "Phone footage").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import botocore.exceptions
from botocore.config import Config
from django.conf import settings
from django.core.files import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from .storage import Stat, StorageUnavailable

# What the bucket client waits for: a dead endpoint must fail a request, not hang it.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
# /health answers quickly even when the bucket's endpoint does not.
HEALTH_TIMEOUT_S = 3


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
