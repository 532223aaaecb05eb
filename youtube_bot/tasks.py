"""Celery tasks of the bot, on the `bot` queue: each takes ids and calls one service."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from youtube_bot import chart, services
from youtube_bot import youtube as yt

logger = logging.getLogger(__name__)

# Transient failures (after the in-request retries) are tried again this many times.
MAX_TASK_RETRIES = 8


@shared_task(name="youtube_bot.advance", bind=True, max_retries=MAX_TASK_RETRIES)
def advance(self: Task, publication_id: str) -> str:
    """Advance one publication as far as it goes now; retry transient failures later."""
    outcome = services.run_publication(publication_id)
    logger.info("publication %s: %s %s", publication_id, outcome.step, outcome.detail)
    if outcome.step is services.Step.RETRY:
        # Exponential: 1, 2, 4... minutes; the stored session makes each retry resume.
        countdown = outcome.delay * 2**self.request.retries
        if self.request.retries >= MAX_TASK_RETRIES:
            services.give_up(publication_id, outcome.detail)
            return str(services.Step.FAILED)
        raise self.retry(countdown=countdown)
    return str(outcome.step)


@shared_task(name="youtube_bot.remove_video", bind=True, max_retries=MAX_TASK_RETRIES)
def remove_video(self: Task, publication_id: str) -> bool:
    """Delete a taken-down publication's video on YouTube; retry a failure later."""
    if services.remove_from_youtube(publication_id):
        return True
    if self.request.retries >= MAX_TASK_RETRIES:
        return False  # still pending: every bot run tries again
    raise self.retry(countdown=60 * 2**self.request.retries)


def queue_removals() -> int:
    """Send every video still to come down from YouTube to the bot queue; return how many."""
    ids = [str(pk) for pk in services.pending_removals().values_list("pk", flat=True)]
    for publication_id in ids:
        remove_video.delay(publication_id)
    return len(ids)


@shared_task(name="youtube_bot.run")
def run() -> int:
    """Send the publications that are due, and the videos to remove, to the bot queue."""
    due = services.due_publications()
    for publication in due:
        advance.delay(str(publication.pk))
    if removals := queue_removals():
        logger.info("youtube bot run: %d video(s) to remove from YouTube", removals)
    logger.info("youtube bot run: %d publications due", len(due))
    return len(due)


@shared_task(name="youtube_bot.import_charts")
def import_charts() -> int:
    """Add the new songs of each region's chart in YOUTUBE_CHART_REGIONS; return how many."""
    if not settings.YOUTUBE_CHART_REGIONS:
        return 0
    channel = chart.default_channel()
    if channel is None:
        logger.warning("charts not read: no active channel with credentials")
        return 0
    added = 0
    for region in settings.YOUTUBE_CHART_REGIONS:
        try:
            result = chart.import_chart(channel, region, limit=settings.YOUTUBE_CHART_LIMIT)
        except yt.YouTubeError as error:
            logger.error("chart %s not read: %s", region, error.message)
            if error.kind in (yt.Kind.QUOTA, yt.Kind.AUTH):
                break  # the next region would be refused the same way
            continue
        added += len(result.songs)
    return added
