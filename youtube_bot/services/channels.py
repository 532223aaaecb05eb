"""Channels: their credentials stored or blocked, their brand, their authorization."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from core.brands import registry
from core.brands.registry import Brand
from youtube_bot import crypto, quota
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, Publication
from youtube_bot.services.publications import _AUTH_CODES
from youtube_bot.services.runtime import Runtime

logger = logging.getLogger(__name__)
Status = Publication.Status


def store_refresh_token(
    channel: Channel, refresh_token: str, *, youtube_channel_id: str = "", title: str = ""
) -> None:
    """Store a channel's new refresh token, encrypted, and make the channel active."""
    fields: dict[str, Any] = {
        "refresh_token_encrypted": crypto.encrypt(refresh_token),
        "authorized_at": timezone.now(),
        "status": Channel.Status.ACTIVE,
        "error": "",
        "error_at": None,
    }
    if youtube_channel_id:
        fields["youtube_channel_id"] = youtube_channel_id
    if title:
        fields["title"] = title[:100]
    Channel.objects.filter(pk=channel.pk).update(**fields)
    # Publications blocked on this channel's credentials may go on.
    Publication.objects.filter(channel=channel, error_code__in=_AUTH_CODES).exclude(
        status=Status.FAILED
    ).update(error_code="", error_message="")
    channel.refresh_from_db()


def block_channel(channel: Channel, message: str) -> None:
    """Mark the channel as needing authorization, with the reason, until it is authorized."""
    Channel.objects.filter(pk=channel.pk).exclude(status=Channel.Status.PAUSED).update(
        status=Channel.Status.NEEDS_AUTHORIZATION, error=message, error_at=timezone.now()
    )
    channel.refresh_from_db()
    logger.error("channel %s blocked: %s", channel.slug, message)


def brand_of(channel: Channel) -> Brand:
    """Return the channel's brand."""
    brand = registry.get(channel.brand)
    if brand is None:
        raise ValueError(f"channel {channel.slug} names an unknown brand {channel.brand!r}")
    return brand


def authorize(
    channel: Channel, refresh_token: str, runtime: Runtime | None = None
) -> tuple[str, str]:
    """Store a channel's new refresh token and return the (id, title) of its YouTube channel."""
    store_refresh_token(channel, refresh_token)
    runtime = runtime or Runtime()
    backoff = runtime.backoff()
    try:
        youtube_id, title = yt.own_channel(yt.build_client(channel, runtime.http), backoff)
    except yt.YouTubeError as error:
        if error.kind is yt.Kind.AUTH:
            block_channel(channel, error.message)
        raise
    except Exception as exc:  # classified below; anything unknown is raised again
        raise yt.classify(exc, "Reading the channel") from exc
    Channel.objects.filter(pk=channel.pk).update(youtube_channel_id=youtube_id, title=title[:100])
    channel.refresh_from_db()
    quota.reserve(channel, quota.cost("channels.list"))
    return youtube_id, title
