"""A job's stored files, and deleting those no other job uses.

A remix is a new job whose Visual and Audio rows name the same stored files as its original (no copies),
so a file goes only when no job's row names it any more. Files are deleted through their storage (a local
folder or a bucket, jobs/storage.py), never by path; only an emptied local job folder is removed by path.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.files.storage import Storage
from django.db.models import Q
from django.db.models.fields.files import FieldFile

from .models import Audio, Job, Visual, job_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredFile:
    """One stored name and the storage that holds it."""

    name: str
    storage: Storage


def job_files(job: Job) -> list[StoredFile]:
    """Every file the job's rows name: its clips and photos, its song, its render and its poster."""
    fields: list[FieldFile] = [visual.file for visual in Visual.objects.filter(job=job)]
    fields += [audio.file for audio in Audio.objects.filter(job=job)]
    fields += [job.output_video, job.poster]
    return [StoredFile(field.name, field.storage) for field in fields if field and field.name]


def names_in_use(names: Iterable[str], *, besides: Iterable = ()) -> set[str]:
    """Which of `names` a row of a job other than those in `besides` (ids) still names."""
    names = set(names)
    if not names:
        return set()
    besides = list(besides)
    used: set[str] = set()
    for model, field in ((Visual, "file"), (Audio, "file")):
        used.update(model.objects.filter(**{f"{field}__in": names}).exclude(job_id__in=besides)
                    .values_list(field, flat=True))
    rows = Job.objects.filter(Q(output_video__in=names) | Q(poster__in=names)).exclude(id__in=besides)
    for output, poster in rows.values_list("output_video", "poster"):
        used.update({output, poster})
    return used & names


def unshared(files: Iterable[StoredFile], *, besides: Iterable) -> list[StoredFile]:
    """The files no job but those in `besides` (ids) names, each once."""
    by_name = {file.name: file for file in files}
    used = names_in_use(by_name, besides=besides)
    return [file for name, file in by_name.items() if name not in used]


def size_of(file: StoredFile) -> int:
    """Its size in bytes; 0 when it is already gone or the storage cannot tell."""
    try:
        return file.storage.size(file.name)
    except (OSError, NotImplementedError, ValueError):
        return 0
    except Exception as exc:  # a bucket's client errors have no common base class here
        log.warning("could not read the size of %s: %s", file.name, exc)
        return 0


class NotDeleted(Exception):
    """The storage refused to delete some files (a bucket out of reach); the job keeping them stays."""


def delete(files: Iterable[StoredFile], *, strict: bool = True) -> int:
    """Delete the files through their storage and remove the local folders they leave empty.

    Returns the bytes freed. A file already gone is no error. One that cannot be deleted is logged, and
    with `strict` raises NotDeleted once the others are done, so the caller keeps the row that names it
    and a later delete or clean-up tries again.
    """
    freed = 0
    failed: list[str] = []
    for file in files:
        size = size_of(file)
        try:
            file.storage.delete(file.name)
        except Exception as exc:  # a bucket's client errors have no common base class here
            log.error("could not delete the stored file %s: %s", file.name, exc)
            failed.append(file.name)
            continue
        freed += size
        remove_empty_folder(file.storage, str(PurePosixPath(file.name).parent))
    if failed and strict:
        raise NotDeleted(f"could not delete {', '.join(failed)}")
    return freed


def remove_empty_folder(storage: Storage, name: str) -> None:
    """Remove a job's local folder once nothing is left in it; a bucket has no folders to remove."""
    if not name.startswith(job_dir("")):
        return  # only job folders, never MEDIA_ROOT or anything above a job
    try:
        folder = storage.path(name)
    except NotImplementedError:
        return
    try:
        os.rmdir(folder)  # fails, as it should, while anything is left in it
    except OSError:
        pass
