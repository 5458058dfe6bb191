"""A render's local working folder, SCRATCH_DIR/<job>/: the job's inputs as local files, and what the
render produces until it is stored.

ffmpeg only ever reads local files. With files on disk, inputs are read in place; with a bucket they are
copied here first (jobs/storage.py decides). The folder is made empty when a render starts and removed when
it ends, on success and on failure, so a host keeps nothing of a job once its render is over.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db.models.fields.files import FieldFile

from media_pipeline.errors import MediaError

from .models import job_dir
from .storage import StorageUnavailable, job_storage

SCRATCH_DIR_NAME = "scratch"  # under MEDIA_ROOT unless SCRATCH_DIR says otherwise


class InputMissing(MediaError):
    """A file the job names is not in storage (deleted from the bucket behind Cutline's back)."""


class InputUnreachable(MediaError):
    """The storage holding the job's files could not be reached (the bucket is down or refuses the keys)."""


def scratch_root() -> Path:
    """SCRATCH_DIR, or MEDIA_ROOT/scratch (read at call time: tests move MEDIA_ROOT)."""
    return Path(settings.SCRATCH_DIR or Path(settings.MEDIA_ROOT) / SCRATCH_DIR_NAME)


def remove_orphans(rendering: Callable[[], Collection[str]]) -> int:
    """Remove the scratch folders of jobs `rendering()` does not name (ids as text): what a render host that
    was killed (power, out of memory) left, found when it claims its next job. Returns how many were removed.

    The folders are listed before `rendering` is asked: a job is claimed (committed) before its folder is
    made, so a folder that was listed belongs to a job the answer names if it is still being rendered. Asked
    first, a job another host claimed in between would lose the folder it had just made.
    """
    root = scratch_root()
    # Only folders named as a job's: SCRATCH_DIR may be a folder that holds other things too.
    listed = [entry for entry in (root.iterdir() if root.is_dir() else ()) if entry.is_dir() and _is_job_id(entry.name)]
    if not listed:
        return 0
    keep = set(rendering())
    orphans = [entry for entry in listed if entry.name not in keep]
    for orphan in orphans:
        shutil.rmtree(orphan, ignore_errors=True)
    return len(orphans)


def _is_job_id(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


@dataclass(frozen=True)
class Scratch:
    """The working folder of one job's render."""

    job_id: uuid.UUID

    @classmethod
    def of(cls, job_id: uuid.UUID | str) -> "Scratch":
        return cls(uuid.UUID(str(job_id)))

    @property
    def folder(self) -> Path:
        return scratch_root() / str(self.job_id)

    def create(self) -> Path:
        """An empty folder: whatever an earlier attempt on this host left is removed first."""
        self.remove()
        self.folder.mkdir(parents=True)
        return self.folder

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def input(self, file: FieldFile) -> Path:
        """A local path to read a stored input from: in place on disk, a copy here from a bucket."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            return job_storage().fetch(file.name, self.folder)
        except FileNotFoundError:
            raise InputMissing(
                f"{PurePosixPath(file.name).name} is missing from storage; make the video again with your files"
            ) from None
        except StorageUnavailable as exc:
            raise InputUnreachable("Your files could not be read from storage just now; try again in a minute") from exc

    def output(self, name: str) -> Path:
        """Where the render writes a file it produces (stored later under `name`, by its base name)."""
        return self.folder / PurePosixPath(name).name

    def store(self, produced: Mapping[str, Path]) -> dict[str, str]:
        """Store each file the render produced under the job's folder; returns each key's stored name."""
        return {
            key: job_storage().keep(path, f"{job_dir(self.job_id)}/{path.name}") for key, path in produced.items()
        }
