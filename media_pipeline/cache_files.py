"""How long a host keeps what it worked out about a file (a song's beats, a clip's probe and look).

An entry is one file; reading it marks it used (its modification time), and writing a new one removes
the entries beside it unused for UNUSED_FOR_S, so a cache folder holds about a week of work: the files
it describes are kept that long by default (JOB_RETENTION_DAYS), and a remix within it starts at once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

UNUSED_FOR_S = 7 * 24 * 3600


def mark_used(entry: Path) -> None:
    """Kept another UNUSED_FOR_S from now (a read-only cache folder only loses the saving)."""
    try:
        os.utime(entry)
    except OSError:
        pass


def prune(folder: Path, *, now: float | None = None) -> int:
    """Remove the entries (and stray temporaries) in `folder` unused for UNUSED_FOR_S; returns how many."""
    cutoff = (time.time() if now is None else now) - UNUSED_FOR_S
    removed = 0
    for entry in folder.glob("*"):
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:  # another worker pruned it first
            continue
    return removed
