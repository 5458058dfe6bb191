"""Give the memory a finished job freed back to the system, so a long-lived worker starts each job at its size.

glibc keeps what Python and numpy free in its heaps for reuse, so a worker's Python grew over its first jobs in
different styles, and that memory sat beside the next render's ffmpeg at its peak. Measured in
benchmarks/README.md (Session 14).
"""

from __future__ import annotations

import ctypes


def trim() -> bool:
    """Return freed heap memory to the system. False where the C library has no malloc_trim (musl, macOS)."""
    malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the symbols this process already has loaded
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
