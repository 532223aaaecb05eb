"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class BrandsConfig(AppConfig):
    """Configure the brands app; brand apps register their brand into it when ready."""

    name = "core.brands"
    label = "brands"

    def ready(self) -> None:
        """Register the system checks of the brand settings."""
        from core.brands import checks  # noqa: F401
