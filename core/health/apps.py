"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Configure the health app."""

    name = "core.health"
    label = "health"

    def ready(self) -> None:
        """Connect the worker heartbeat and the task metrics to Celery's signals."""
        from core.health import heartbeat, task_metrics  # noqa: F401
