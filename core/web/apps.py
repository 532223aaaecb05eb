"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    """Configure the web app (pages shared by every brand)."""

    name = "core.web"
    label = "web"
