"""The whole suite's hooks.

tests/settings.py gives each test process (each pytest-xdist worker) a VAR_DIR of its own in a new temporary
folder; the process that made it removes it at the end.

`make test` runs the files on pytest-xdist workers, a whole file at a time (--dist loadfile), handed out in
collection order (--no-loadscope-reorder). The files that take a minute or more go first, longest first, so
that the run does not end with one worker still in a long file while the other has nothing left to do."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# About how long each takes on 2 busy cores (seconds, --durations), longest first.
LONG_FILES = {
    "tests/jobs/test_hosts.py": 100,  # mostly waiting on qcluster processes: overlaps the other worker's renders
    "tests/jobs/test_object_storage.py": 100,
    "tests/jobs/test_worker.py": 95,
    "tests/browser/test_editor_flow.py": 90,
    "tests/media_pipeline/test_shared_media.py": 75,  # when ../shared/media is there
    "tests/media_pipeline/test_render.py": 75,
    "tests/media_pipeline/test_beat.py": 65,
    "tests/media_pipeline/test_sync.py": 60,
    "tests/media_pipeline/test_proxy.py": 55,
    "tests/media_pipeline/test_pipeline.py": 50,
    "tests/media_pipeline/test_join.py": 50,
    "tests/jobs/test_api_client_example.py": 35,
    "tests/media_pipeline/test_probe.py": 35,
    "tests/jobs/test_poster.py": 30,
    "tests/browser/test_csp.py": 30,
    "tests/jobs/test_worker_imports.py": 25,
}


def pytest_configure(config):
    # librosa's compiled kernels (media_pipeline/kernel_cache.py) are not state: every test process, and
    # every server or worker a test starts, shares one cache. The first process (before xdist starts
    # its workers) fills it, so that no test's time limit pays the ~20 s a cold compile takes.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / "var" / "numba-cache"))
    if not hasattr(config, "workerinput"):
        subprocess.run([sys.executable, "-m", "media_pipeline.beat", "--warm-up"], cwd=ROOT, check=False, timeout=600)


@pytest.hookimpl(trylast=True)  # after pytest-django's own order (database tests first), which it keeps per file
def pytest_collection_modifyitems(config, items):
    if hasattr(config, "workerinput"):  # an xdist worker: its order is the one the files are handed out in
        items.sort(key=lambda item: -LONG_FILES.get(item.nodeid.split("::")[0], 0))


def pytest_unconfigure(config):
    made = os.environ.get("CUTLINE_TEST_VAR_DIR")
    if made and os.environ.get("CUTLINE_TEST_VAR_OWNER") == os.environ.get("PYTEST_XDIST_WORKER", "main"):
        shutil.rmtree(made, ignore_errors=True)
