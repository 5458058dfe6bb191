"""librosa's compiled kernels: the folder numba caches them in, and filling it one process at a time.

librosa's beat tracker and several of its helpers are numba kernels compiled on first use and cached
on disk (NUMBA_CACHE_DIR). Compiling them costs a cold process about 20 s, which the cache saves every
later process. But numba writes a generalised ufunc's cache as two files, and two processes that
compile the same kernels at once can pair one's first file with the other's second: every process
that loads that pair afterwards segfaults (numba issues #10128 and #4807). Two render workers
analysing their first songs on a fresh host, or two test processes, do exactly that. So while the
cache is cold, an analysis holds an exclusive lock on the folder; the first to finish marks the cache
warm for this librosa and numba, and from then on analyses run side by side without the lock.

A cold folder may already hold files: written before this lock existed (perhaps torn, and then every
analysis would crash on them), by a process killed mid-compile, or for another librosa or numba. The
first process to take the lock empties it, so the cache is always compiled whole by one process.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

LOCK_NAME = "cutline-compile.lock"


def folder() -> Path:
    """Where numba caches librosa's kernels: NUMBA_CACHE_DIR, set to a per-user temporary folder if unset.

    The default is set only before numba loads: switching folders later makes one
    process mix two caches, which segfaults as a race does (numba #10128).
    """
    default = os.path.join(tempfile.gettempdir(), f"cutline-numba-{os.getuid()}")
    if "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_CACHE_DIR", default)
    return Path(os.environ.get("NUMBA_CACHE_DIR", default))


def warm_marker() -> Path:
    """The file that says every kernel the analysis uses is in the cache, for these librosa and numba."""
    return folder() / f"cutline-warm-librosa{_version('librosa')}-numba{_version('numba')}"


@contextmanager
def compiling_alone() -> Iterator[None]:
    """Run the body alone among the processes sharing the cache while it is cold; then mark it warm.

    A folder that cannot be written runs the body unlocked: numba then compiles in
    memory for this process only, and no cache file is shared to be torn.
    """
    marker = warm_marker()
    if marker.exists():
        yield
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        lock = open(marker.parent / LOCK_NAME, "a")  # noqa: SIM115 (held across the yield, closed below)
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        if not marker.exists():  # not filled by the process this one waited for
            _empty(marker.parent)
        yield
        with suppress(OSError):
            marker.touch()


def _empty(cache: Path) -> None:
    for entry in cache.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
