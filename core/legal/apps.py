"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class LegalConfig(AppConfig):
    """Configure the legal app: terms, privacy, contact and the copyright takedown notices."""

    name = "core.legal"
    label = "legal"
