from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Render jobs"

    def ready(self) -> None:
        from . import signals  # noqa: F401
