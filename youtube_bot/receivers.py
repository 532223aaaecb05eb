"""What the bot does when core tells it something (core.jobs.signals, core.legal's resolvers)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from core.brands.registry import Brand
from core.jobs import signals
from core.legal import services as legal
from core.web import seo
from youtube_bot import tasks
from youtube_bot.models import Publication
from youtube_bot.services import publications

logger = logging.getLogger(__name__)

_SONG_PATH = re.compile(r"^/t/([-\w]+)/")
_VIDEO_PATH = re.compile(r"^/(?:shorts/|embed/|live/|v/)?([\w-]{11})/?$")


def _source_blocked(sender: object, source_ids: list[uuid.UUID], **kwargs: Any) -> None:
    """Take the videos of audio removed after a copyright notice off the bot's way."""
    if publications.mark_for_takedown(source_ids):
        # Deleted on YouTube once the marks are stored; each bot run sweeps what this missed.
        transaction.on_commit(_queue_removals)


def _queue_removals() -> None:
    """Queue the deletions on YouTube; with the broker down, the bot's next run sends them."""
    try:
        tasks.queue_removals()
    except (KombuOperationalError, RedisError, OSError) as exc:
        logger.warning("video removals not queued (%s); the next bot run sends them", exc)


def _video_id(location: str) -> str:
    """Return the YouTube video id an address names, or ""."""
    parts = urlsplit(location)
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
    if host == "youtu.be" or host.endswith("youtube.com"):
        if ids := parse_qs(parts.query).get("v"):
            return ids[0]
        if match := _VIDEO_PATH.match(parts.path):
            return match.group(1)
    return ""


def sources_named(location: str) -> list[uuid.UUID]:
    """Return the audio of the bot's song page or video an address names (a takedown notice)."""
    song = _SONG_PATH.match(urlsplit(location).path)
    video = _video_id(location)
    if not song and not video:
        return []
    named = Q(song__slug=song.group(1)) if song else Q(pk__in=[])
    if video:
        named |= Q(video_id=video)
    rows = Publication.objects.filter(named).exclude(job=None)
    return list(rows.order_by().values_list("job__separation__source_id", flat=True).distinct())


def song_pages(brand: Brand) -> list[seo.Page]:
    """Return the song pages of a brand's sitemap: those whose video is up on YouTube.

    A rendered video's page already answers (for a reviewer), but is listed only once public.
    """
    rows = Publication.objects.filter(
        channel__brand=brand.slug, status=Publication.Status.UPLOADED, takedown_at__isnull=True
    ).select_related("song")
    return [
        seo.Page(reverse("youtube_bot:song", args=[p.song.slug]), lastmod=p.updated_at)
        for p in rows.order_by("song__slug")
    ]


def connect() -> None:
    """Connect the receivers (once: a dispatch_uid each)."""
    signals.source_blocked.connect(_source_blocked, dispatch_uid="youtube_bot.source_blocked")
    legal.register_resolver(sources_named)
    seo.register_pages(song_pages)
