"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class AcapellaExtractorConfig(AppConfig):
    """Configure the acapella_extractor app."""

    name = "acapella_extractor"
