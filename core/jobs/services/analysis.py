"""The tempo and key of a finished separation, read from its accompaniment by a light worker."""

from __future__ import annotations

import logging
import uuid

from django.utils import timezone

from core.celery import celery_app
from core.jobs import media
from core.jobs.models import Separation
from core.jobs.services.names import ANALYZE_TASK, LIGHT_QUEUE

logger = logging.getLogger(__name__)


def request_analysis(separation_id: uuid.UUID | str) -> None:
    """Ask a light worker to analyse a succeeded separation (never fails the caller)."""
    try:
        celery_app.send_task(ANALYZE_TASK, args=[str(separation_id)], queue=LIGHT_QUEUE)
    except Exception:
        # Only extra information: the pages and the API show the separation without it.
        logger.warning("could not queue the analysis of %s", separation_id, exc_info=True)


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
