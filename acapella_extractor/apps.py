"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class AcapellaExtractorConfig(AppConfig):
    """Configure the acapella_extractor brand app and register its brand."""

    name = "acapella_extractor"

    def ready(self) -> None:
        """Register the brand, so the host-based middleware can serve it."""
        from acapella_extractor.brand import BRAND
        from core.brands import registry

        registry.register(BRAND)
