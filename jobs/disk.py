"""Disk space is a resource: an upload must leave MIN_FREE_DISK_MB free, a render starts only with room for
what it writes, and a full disk is told in plain words (never with a server path).

Uploads and renders share the disk: the space uploads must leave is what lets the queued jobs render.
"""

from __future__ import annotations

import errno
import math
import shutil
from pathlib import Path

from django.conf import settings

from media_pipeline.errors import MediaError

MB = 1024 * 1024
UPLOAD_DISK_FULL = "The server is out of storage space right now, so it cannot take your files. Try again later."
RENDER_DISK_FULL = "The server ran out of storage space while rendering (no space left on device). Try again later."
# What a render writes, per second of output, at most: the MP4 at its maxrate (8 Mb/s, 1 MB/s), proxies of
# heavy clips (x264 ultrafast at crf 12, up to about 100 Mb/s for the stretches the plan uses, about as long
# as the output) and the sync check's small grey frames. A bound from media_pipeline/output.py and proxy.py's
# settings, not a measurement; plus a fixed allowance for the render's other small files.
RENDER_MB_PER_OUTPUT_S = 16
RENDER_BASE_MB = 64
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_FULL_WORDS = ("no space left on device", "disk quota exceeded")


def free_bytes(path: Path) -> int:
    """Free bytes (for an unprivileged writer) on the filesystem holding `path`, or its nearest existing parent."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def floor_bytes() -> int:
    return settings.MIN_FREE_DISK_MB * MB


def upload_fits(size: int, folder: Path) -> bool:
    """Whether `size` more bytes in `folder` still leave MIN_FREE_DISK_MB free."""
    return free_bytes(folder) - max(0, size) >= floor_bytes()


def render_need_bytes(duration_s: float) -> int:
    return (RENDER_BASE_MB + math.ceil(duration_s * RENDER_MB_PER_OUTPUT_S)) * MB


def render_folders() -> list[Path]:
    """Where a render writes: the media folder, and the scratch folder when it is set apart (SCRATCH_DIR)."""
    folders = [Path(settings.MEDIA_ROOT)]
    scratch = getattr(settings, "SCRATCH_DIR", None)
    if scratch:
        folders.append(Path(scratch))
    return folders


def render_fits(duration_s: float) -> bool:
    """Whether a render of this length has room for its output and scratch wherever it writes."""
    need = render_need_bytes(duration_s)
    return all(free_bytes(folder) >= need for folder in render_folders())


def is_disk_full(exc: BaseException | None) -> bool:
    """True when the error (or one it came from) is a full disk or quota: an OSError, or ffmpeg saying so."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, (MediaError, OSError)) and any(words in str(exc).lower() for words in _FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
