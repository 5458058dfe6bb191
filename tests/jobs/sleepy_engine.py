"""The engine the multi-host tests' qcluster processes run instead of the media pipeline (selected by
CUTLINE_TEST_ENGINE in jobs/worker.py): it sleeps for the job's `duration` in seconds, reporting progress,
with the partial output and scratch a real render keeps in the job's scratch folder while it runs."""

import time
from pathlib import Path

from jobs.models import Job
from jobs.scratch import Scratch
from jobs.storage import job_storage
from jobs.worker import ProgressReporter, output_name

TICK_S = 0.1


def leftovers(job: Job) -> list[Path]:
    """What a real render has in its scratch folder while it runs: partial MP4, sync frames, proxies folder."""
    output = Scratch.of(job.id).output(output_name(job))
    return [output.with_name(f".{output.stem}.{suffix}") for suffix in ("partial.mp4", "sync.gray", "proxies")]


def make_video(job: Job, reporter: ProgressReporter) -> tuple[str, dict]:
    partial, samples, proxies = leftovers(job)
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"half a video")
    samples.write_bytes(b"frames")
    proxies.mkdir(exist_ok=True)
    (proxies / "clip-1.mp4").write_bytes(b"proxy")
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < job.duration:
        reporter(100 * elapsed / max(job.duration, 0.01), "Rendering")
        time.sleep(min(TICK_S, job.duration))
    for path in (samples, proxies / "clip-1.mp4"):
        path.unlink()
    proxies.rmdir()
    return job_storage().keep(partial, output_name(job)), {"segments": []}
