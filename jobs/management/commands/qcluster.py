"""django-q2's qcluster, with a stop that reaches the renders (jobs.host.pass_stop_on) and, on a render host
with METRICS_PORT set, this host's metrics served (jobs.metrics.serve_host).

The jobs app comes before django_q in INSTALLED_APPS, so `manage.py qcluster` is this command.
"""

from django.conf import settings
from django_q.management.commands import qcluster

from jobs import host, metrics


class Command(qcluster.Command):
    # A render host serves no pages: Django's system checks would import the URLconf, and with it the
    # web's views and the API's ninja and pydantic, about 10 MB every worker would hold beside its renders.
    # `manage.py check` (and the web's own start) still run them.
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        # django-q2 installs its own signal handlers when the cluster starts; ours replace them after.
        super().handle(*args, **options)
        if not options.get("run_once"):
            host.pass_stop_on()
            if settings.METRICS_PORT:
                # Started once the cluster's processes are forked, so none of them inherits the socket.
                metrics.serve_host(settings.METRICS_PORT)
