"""Videos of blocked audio come down from YouTube: videos.delete with the channel's credentials.

`mark_for_takedown` marks them (core.legal acting on a notice); the `remove_video` task, queued
when that commits, and every bot run (in case Redis was down) call `remove` here until YouTube
confirms. A 404 means the video is gone already, which is what was wanted.
"""

from __future__ import annotations

import logging
import uuid

from django.db.models import F, QuerySet
from django.utils import timezone
from googleapiclient.errors import HttpError

from youtube_bot import youtube as yt
from youtube_bot.models import Publication
from youtube_bot.services.runtime import Runtime

logger = logging.getLogger(__name__)


def pending_removals() -> QuerySet[Publication]:
    """Return the marked publications whose video is still to come down from YouTube."""
    return Publication.objects.filter(
        takedown_at__isnull=False, takedown_done_at__isnull=True
    ).exclude(video_id="")


def remove(publication_id: uuid.UUID | str, runtime: Runtime | None = None) -> bool:
    """Delete a marked publication's video on YouTube; True once it is gone (or was).

    A failure is recorded (attempts, error) and leaves the publication pending, to be tried
    again by the task's retries and the bot's runs.
    """
    publication = pending_removals().select_related("channel").filter(pk=publication_id).first()
    if publication is None:
        return True  # removed already, never uploaded, or not marked
    runtime = runtime or Runtime()
    try:
        youtube = yt.build_client(publication.channel, http=runtime.http)
        request = youtube.videos().delete(id=publication.video_id)
        try:
            yt.call(request, "videos.delete", runtime.backoff())
        except yt.YouTubeError as error:
            cause = error.__cause__
            if not (isinstance(cause, HttpError) and int(cause.resp.status) in (404, 410)):
                raise
            logger.info("video %s was gone from YouTube already", publication.video_id)
    except yt.YouTubeError as error:
        Publication.objects.filter(pk=publication.pk).update(
            takedown_attempts=F("takedown_attempts") + 1,
            takedown_error=f"{error.code}: {error.message}",
        )
        logger.error("video %s not removed: %s", publication.video_id, error.message)
        return False
    Publication.objects.filter(pk=publication.pk, takedown_done_at__isnull=True).update(
        takedown_done_at=timezone.now(),
        takedown_attempts=F("takedown_attempts") + 1,
        takedown_error="",
    )
    logger.warning("video %s removed from YouTube after a takedown", publication.video_id)
    return True
