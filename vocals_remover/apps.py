"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class VocalsRemoverConfig(AppConfig):
    """Configure the vocals_remover brand app and register its brand."""

    name = "vocals_remover"

    def ready(self) -> None:
        """Register the brand, so the host-based middleware can serve it."""
        from core.brands import registry
        from vocals_remover.brand import BRAND

        registry.register(BRAND)
