"""A deleted job takes its folder (uploads and render) with it."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Job, job_dir


@receiver(post_delete, sender=Job)
def remove_job_files(sender, instance: Job, **kwargs) -> None:
    folder = Path(settings.MEDIA_ROOT) / job_dir(instance.id)
    transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
