"""Analysis kept on the host between jobs, so a remix of the same files is not probed or looked at again.

A file's probe (its MediaInfo) and a visual's look (look.py: its samples, what stands out, its own cuts,
and whatever else look.py finds in them) are kept whole under the hash of the file's content and of the
pipeline's code: the same bytes under another job's name (a remix shares its source's files; a render host
may copy them to a scratch folder first) find them, and a changed look.py or probe.py (a new release) looks
afresh instead of reading a result of other code. Only results are kept: a file refused by the probe is
probed (and refused) again each time. The song's analysis has its own cache in beat.py, keyed the same way.

Entries are pickles written by this host's own worker in its own cache folder, never anything a user
sent; an unreadable entry is treated as missing and made again. Reading an entry marks it used; entries
unused for a week are removed whenever a new one is written (cache_files.py), the beat cache's rule too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TypeVar

from .cache_files import mark_used, prune
from .facts import MediaInfo
from .look import Look

LOOKS = "looks"  # the cache folder's subfolders for looks ...
PROBES = "probes"  # ... and probes
_CHUNK = 1 << 20
# A remix needs its source's files, which the sweep deletes JOB_RETENTION_DAYS (7 by default) after the
# job ended: an entry unused for that long is for files that are gone or that nobody remixes.
T = TypeVar("T")


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes (about 1.5 GB/s here: a 100 MB clip costs under 0.1 s)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def code_version() -> str:
    """A hash of the pipeline's source: any change to the code that looks (or probes) makes new entries.

    All of media_pipeline is hashed rather than a list of the modules look.py happens to use, which
    would go stale unnoticed; a release then looks at each file once more.
    """
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def cached_probe(
    path: str, probe: Callable[[str], MediaInfo], *, cache_dir: str, digest: str | None = None
) -> MediaInfo:
    """`probe(path)`, or what it said of the same content before (with this path). `digest`: the file's
    content_hash when the caller has it."""
    entry = _entry(cache_dir, PROBES, f"{probe.__name__}-{digest or content_hash(path)}")
    info = _read(entry, MediaInfo)
    if info is not None:
        return dataclasses.replace(info, path=path)
    info = probe(path)
    _write(entry, info)
    return info


def cached_looks(
    visuals: Sequence[MediaInfo],
    survey: Callable[[Sequence[MediaInfo]], tuple[Look, ...]],
    *,
    cache_dir: str,
    digests: Sequence[str] | None = None,
) -> tuple[Look, ...]:
    """Each visual's look: from the cache when this content was looked at before, else from `survey`
    (called once, with just the visuals not found), whose results are then kept. `digests`: the
    visuals' content hashes when the caller has them.

    An empty look (a visual that could not be read) is not kept, so the next job tries again.
    """
    digests = digests or [content_hash(info.path) for info in visuals]
    entries = [_entry(cache_dir, LOOKS, digest) for digest in digests]
    looks: list[Look | None] = [_read(entry, Look) for entry in entries]
    missing = [i for i, look in enumerate(looks) if look is None]
    if missing:
        for i, look in zip(missing, survey([visuals[i] for i in missing]), strict=True):
            looks[i] = look
            if look.samples:
                _write(entries[i], look)
    return tuple(looks)


def _entry(cache_dir: str, kind: str, key: str) -> Path:
    return Path(cache_dir) / kind / f"{key}-{code_version()}.pickle"


def _read(entry: Path, kind: type[T]) -> T | None:
    try:
        with open(entry, "rb") as f:
            value = pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # a torn or foreign entry: work it out again (and overwrite it)
        return None
    if not isinstance(value, kind):
        return None
    mark_used(entry)
    return value


def _write(entry: Path, value: object) -> None:
    """Written to a temporary name and renamed, so a reader never sees half an entry; a cache that
    cannot be written is only a missed saving."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        prune(entry.parent)
    except OSError:
        pass
