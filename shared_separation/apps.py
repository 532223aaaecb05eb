"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class SharedSeparationConfig(AppConfig):
    """Configure the shared_separation app."""

    name = "shared_separation"
