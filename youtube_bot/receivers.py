"""What the bot does when the jobs app tells it something (core.jobs.signals)."""

from __future__ import annotations

import uuid
from typing import Any

from core.jobs import signals
from youtube_bot.services import publications


def _source_blocked(sender: object, source_ids: list[uuid.UUID], **kwargs: Any) -> None:
    """Take the videos of audio removed after a copyright notice off the bot's way."""
    publications.mark_for_takedown(source_ids)


def connect() -> None:
    """Connect the receivers (once: a dispatch_uid each)."""
    signals.source_blocked.connect(_source_blocked, dispatch_uid="youtube_bot.source_blocked")
