"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class SharedSeparationConfig(AppConfig):
    """Configure the shared_separation app."""

    name = "shared_separation"

    def ready(self) -> None:
        """Register the system check of the link importer's JavaScript runtime."""
        from shared_separation import checks  # noqa: F401
