"""A deleted job (or a deleted clip, photo or song row) takes its stored files with it, once committed,
except the files another job still names: a remix shares its original's inputs (jobs/stored_files.py).

Whoever deletes (the delete page and API, the retention clean-up, the admin, a cascade) gets the same
result; services.job_delete and the purge delete the files first themselves, so here they are already gone.
"""

from django.core.files.storage import Storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from . import stored_files
from .models import Audio, Job, Visual, job_dir
from .stored_files import StoredFile


def _delete_after_commit(files: list[StoredFile], storage: Storage, job_id) -> None:
    def delete() -> None:
        # The rows are gone by now: a file the storage refuses is logged (stored_files.delete) and left.
        stored_files.delete(stored_files.unshared(files, besides=()), strict=False)
        stored_files.remove_empty_folder(storage, job_dir(job_id))

    transaction.on_commit(delete)


@receiver(post_delete, sender=Job)
def remove_job_files(sender, instance: Job, **kwargs) -> None:
    files = [field for field in (instance.output_video, instance.poster) if field and field.name]
    stored = [StoredFile(field.name, field.storage) for field in files]
    _delete_after_commit(stored, instance.output_video.storage, instance.id)


@receiver(post_delete, sender=Visual)
@receiver(post_delete, sender=Audio)
def remove_input_file(sender, instance: Visual | Audio, **kwargs) -> None:
    stored = [StoredFile(instance.file.name, instance.file.storage)] if instance.file.name else []
    _delete_after_commit(stored, instance.file.storage, instance.job_id)
