"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    """Configure the API app and connect its receivers of finished jobs."""

    name = "core.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        """Queue the callbacks of API jobs when the jobs app says they finished."""
        from core.api import receivers  # noqa: F401
