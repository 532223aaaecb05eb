"""Recovery of separations that a worker or the broker lost: send them again, or fail them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.jobs.models import Separation
from core.jobs.services.lifecycle import fail_separation
from core.jobs.services.submission import enqueue

logger = logging.getLogger(__name__)

WORKER_LOST_MESSAGE = (
    "The separation was interrupted several times because its worker stopped. "
    "Please upload the song again; if it keeps happening, tell us."
)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    resent_running: int
    resent_queued: int
    failed: int


def sweep_stuck(*, now: datetime | None = None) -> SweepReport:
    """Send again the work whose worker went silent or whose message may be lost.

    A running separation whose heartbeat is older than SEPARATION_STALE_AFTER lost its worker:
    its task is sent again and the next claim takes it over as a new attempt, or it fails (and
    its credits are released) after SEPARATION_MAX_ATTEMPTS. A separation queued for longer than
    SEPARATION_REQUEUE_AFTER may have lost its message (a broker restarted without its data):
    it is sent again, at most once per that interval. Extra messages are harmless, since a
    claim only succeeds on a queued or silent separation.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.SEPARATION_STALE_AFTER)
    resent_running = failed = 0
    silent = Separation.objects.select_related("source").filter(
        status=Separation.Status.RUNNING, heartbeat_at__lt=stale
    )
    for separation in silent:
        if separation.attempts >= settings.SEPARATION_MAX_ATTEMPTS:
            if fail_separation(
                separation.pk,
                code="worker_lost",
                message=WORKER_LOST_MESSAGE,
                attempt=separation.attempts,
            ):
                failed += 1
                logger.warning("separation %s failed: worker lost", separation.pk)
            continue
        enqueue(separation)
        resent_running += 1
        logger.warning(
            "separation %s: worker %s silent since %s; sent again",
            separation.pk,
            separation.worker,
            separation.heartbeat_at,
        )
    cutoff = now - timedelta(seconds=settings.SEPARATION_REQUEUE_AFTER)
    # For a queued separation, heartbeat_at records when it was last sent again.
    waiting = Separation.objects.select_related("source").filter(
        Q(heartbeat_at__isnull=True, created_at__lt=cutoff) | Q(heartbeat_at__lt=cutoff),
        status=Separation.Status.QUEUED,
    )
    resent_queued = 0
    for separation in waiting:
        marked = Separation.objects.filter(
            pk=separation.pk, status=Separation.Status.QUEUED
        ).update(heartbeat_at=now)
        if marked == 1:
            enqueue(separation)
            resent_queued += 1
    if resent_queued:
        logger.warning("%d queued separations sent again", resent_queued)
    return SweepReport(resent_running, resent_queued, failed)
