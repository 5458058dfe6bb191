from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Render jobs"

    def ready(self) -> None:
        # Here, not at the top: receivers are connected once the models are loaded (Django's own rule).
        from django_q.signals import post_spawn

        from . import host, signals  # noqa: F401

        post_spawn.connect(host.on_worker_spawn, dispatch_uid="cutline-render-worker")
