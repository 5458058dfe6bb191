"""Empty the metrics folder (PROMETHEUS_MULTIPROC_DIR) before a host's web, housekeeping and worker processes
start: `make run`, the Procfile's release step, the compose file's `release` service and the systemd units do."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from jobs import metrics


class Command(BaseCommand):
    help = "Empty PROMETHEUS_MULTIPROC_DIR; run it before the host's processes start, never while they run."

    def handle(self, *args, **options) -> None:
        removed = metrics.reset()
        self.stdout.write(f"metrics folder {metrics.metrics_dir()} emptied ({removed} files)")
