from django.apps import AppConfig


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Render jobs"

    def ready(self) -> None:
        # Here, not at the top: receivers are connected once the models are loaded (Django's own rule).
        from . import signals  # noqa: F401
