"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class VocalsRemoverConfig(AppConfig):
    """Configure the vocals_remover app."""

    name = "vocals_remover"
