"""jobs.heap: a worker hands the memory a finished job freed back to the system."""

import sys

import pytest

from jobs import heap


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim and /proc")
def test_trimming_after_many_small_objects_are_freed_lowers_the_resident_memory():
    # Blocks of a few KB come from glibc's heap (Python's own allocator takes only up to 512 bytes). With the
    # last one still held the heap cannot shrink from its top, so only a trim gives the free pages back.
    held = [bytes(4000) for _ in range(20_000)]  # 80 MB
    del held[:-1]
    before = _rss_kb()
    assert heap.trim() is True
    assert _rss_kb() < before - 20_000
