"""What a run advances: the most popular open publications, within each day's upload cap."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from youtube_bot import quota
from youtube_bot.models import Channel, Publication

Status = Publication.Status


def uploads_today(channel: Channel, now: datetime | None = None) -> int:
    """Return the channel's uploads of this quota day: finished today, or under way."""
    now = now or timezone.now()
    return (
        Publication.objects.filter(channel=channel)
        .filter(
            Q(uploaded_at__gte=quota.day_start(now), uploaded_at__lt=quota.next_reset(now))
            | Q(status=Status.UPLOADING)
        )
        .count()
    )


def uploads_left(channel: Channel, now: datetime | None = None) -> int | None:
    """Return how many more uploads the channel may start today; None when there is no cap."""
    limit = int(settings.YOUTUBE_CHANNEL_DAILY_LIMIT)
    if limit <= 0:
        return None
    return max(0, limit - uploads_today(channel, now))


# Chart songs first, by the latest day a chart was read and their best rank on it; then the
# other songs, oldest first (a song's chart fields stay empty unless a chart import found it).
POPULAR_FIRST = (
    F("song__chart_date").desc(nulls_last=True),
    F("song__chart_rank").asc(nulls_last=True),
    "created_at",
)


def due_publications(now: datetime | None = None) -> list[Publication]:
    """Return what a scheduled run should advance: per channel, the most popular open ones.

    A channel that started its YOUTUBE_CHANNEL_DAILY_LIMIT uploads today is given no rendered
    video to upload, and one whose budget cannot pay for another upload is parked at the upload;
    both are still served up to the render, so the videos are ready when the day turns.
    """
    now = now or timezone.now()
    chosen: list[Publication] = []
    for channel in Channel.objects.exclude(status=Channel.Status.PAUSED):
        rows = (
            Publication.objects.filter(channel=channel, takedown_at__isnull=True)
            .filter(Q(parked_until__isnull=True) | Q(parked_until__lte=now))
            .filter(
                Q(status__in=Publication.OPEN_STATUSES)
                | Q(status=Status.UPLOADED, error_code="", thumbnail_set=False)
                | Q(status=Status.UPLOADED, error_code="", playlist_item_id="")
                & ~Q(channel__playlist_id="")
            )
            .select_related("channel", "song")
            .order_by(*POPULAR_FIRST)
        )
        uploads = None
        if channel.status != Channel.Status.ACTIVE:
            rows = rows.filter(status__in=[Status.QUEUED, Status.FETCHED, Status.SEPARATED])
        else:
            uploads = uploads_left(channel, now)
            if uploads == 0:
                rows = rows.exclude(status=Status.RENDERED)
        picked: list[Publication] = []
        for publication in rows.iterator(chunk_size=100):
            if publication.status == Status.RENDERED and uploads is not None:
                if uploads <= 0:
                    continue  # the more popular rendered videos take today's last uploads
                uploads -= 1
            picked.append(publication)
            if len(picked) >= settings.YOUTUBE_SONGS_PER_RUN:
                break
        chosen.extend(picked)
    return chosen
