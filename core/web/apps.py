"""Django app configuration."""

from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig


class WebConfig(AppConfig):
    """Configure the web app (pages shared by every brand)."""

    name = "core.web"
    label = "web"

    def ready(self) -> None:
        """Make sure uploads have their folder, clean of what killed processes left."""
        from django.conf import settings

        from core.web.tempfiles import prepare_upload_dir

        prepare_upload_dir(Path(settings.FILE_UPLOAD_TEMP_DIR))
