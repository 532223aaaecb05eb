"""Django app configuration."""

from __future__ import annotations

from django.apps import AppConfig


class YoutubeBotConfig(AppConfig):
    """Configure the youtube_bot app."""

    name = "youtube_bot"

    def ready(self) -> None:
        """Follow the jobs app's signals."""
        from youtube_bot import receivers

        receivers.connect()
