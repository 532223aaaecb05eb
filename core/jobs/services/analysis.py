"""The tempo and key of a finished separation, read from its accompaniment by a light worker."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.celery import celery_app
from core.jobs import media
from core.jobs.models import Separation
from core.jobs.services.names import ANALYZE_TASK, LIGHT_QUEUE

logger = logging.getLogger(__name__)


def request_analysis(separation_id: uuid.UUID | str) -> None:
    """Ask a light worker to analyse a succeeded separation (never fails the caller)."""
    Separation.objects.filter(pk=separation_id).update(analysis_requested_at=timezone.now())
    _send(separation_id)


def _send(separation_id: uuid.UUID | str) -> bool:
    try:
        celery_app.send_task(ANALYZE_TASK, args=[str(separation_id)], queue=LIGHT_QUEUE)
    except Exception:
        # Only extra information: the pages and the API show the separation without it.
        logger.warning("could not queue the analysis of %s", separation_id, exc_info=True)
        return False
    return True


def resend_lost_analyses(*, now: datetime | None = None) -> int:
    """Ask again for the analyses whose message may be lost; return how many were sent.

    A succeeded separation still without its tempo and key ANALYSIS_RESEND_AFTER after it was
    last asked is asked again, while it finished less than ANALYSIS_RESEND_WITHIN ago: a lost
    message (a broker restarted without its data) costs minutes, and a song whose analysis
    keeps failing is tried a bounded number of times, never forever.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ANALYSIS_RESEND_AFTER)
    lost = Separation.objects.filter(
        Q(analysis_requested_at__lt=cutoff)
        | Q(analysis_requested_at__isnull=True, finished_at__lt=cutoff),
        status=Separation.Status.SUCCEEDED,
        analysis={},
        finished_at__gte=now - timedelta(seconds=settings.ANALYSIS_RESEND_WITHIN),
    ).values_list("pk", "analysis_requested_at")
    sent = 0
    for pk, asked in lost:
        # Marked first, and only by one sweep: two sweeps at once send it once.
        if Separation.objects.filter(pk=pk, analysis_requested_at=asked).update(
            analysis_requested_at=now
        ) and _send(pk):
            sent += 1
    if sent:
        logger.warning("%d analyses asked again (their message may be lost)", sent)
    return sent


def analyze_separation(separation_id: uuid.UUID | str) -> bool:
    """Store the tempo and key of a succeeded separation's accompaniment; False if not stored."""
    separation = Separation.objects.filter(
        pk=separation_id, status=Separation.Status.SUCCEEDED
    ).first()
    if separation is None or not separation.accompaniment:
        return False
    stem = separation.accompaniment.name
    try:
        with media.local_copy(stem) as path:
            analysis = media.analyze(path)
    except (media.SeparationError, FileNotFoundError) as exc:
        # Expired meanwhile, or unreadable: the separation stands without an analysis.
        logger.warning("analysis of %s failed: %s", separation_id, exc)
        return False
    # Only onto the result it was read from: not an expired one, nor another attempt's stems.
    updated = Separation.objects.filter(
        pk=separation_id, status=Separation.Status.SUCCEEDED, accompaniment=stem
    ).update(analysis=analysis)
    if updated == 1 and separation.finished_at is not None:
        # How long the result waited for its tempo and key (the pages show them from then on).
        after = (timezone.now() - separation.finished_at).total_seconds()
        logger.info("analysis of %s stored %.1f s after the stems", separation_id, after)
    return updated == 1
