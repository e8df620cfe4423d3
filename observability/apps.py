from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        # Celery signals are process-wide; connecting them here covers the web (eager tasks in
        # tests) and the workers, which load Django before they take any task.
        from . import celery_signals  # noqa: F401
