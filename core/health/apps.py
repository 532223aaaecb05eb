"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class HealthConfig(AppConfig):
    """Configure the health app."""

    name = "core.health"
    label = "health"

    def ready(self) -> None:
        """Connect the worker heartbeat to Celery's worker signals."""
        from core.health import heartbeat  # noqa: F401
