"""Periodic housekeeping of jobs, run by Celery beat on the light `default` queue."""

from __future__ import annotations

import logging

from celery import shared_task

from core.jobs import deliveries, selectors, services
from core.jobs.media import SeparationError
from core.jobs.models import Job, Separation

logger = logging.getLogger(__name__)

EXPIRE_TASK = "jobs.expire_due"
SWEEP_TASK = "jobs.sweep_stuck"


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_stuck() -> dict[str, int]:
    """Send again the separations whose worker or message was lost; fail the hopeless ones."""
    report = services.sweep_stuck()
    return {
        "resent_running": report.resent_running,
        "resent_queued": report.resent_queued,
        "failed": report.failed,
        "released": report.released,
        "resent_analyses": report.resent_analyses,
    }


@shared_task(name=EXPIRE_TASK, ignore_result=True)
def expire_due() -> int:
    """Expire every separation past its retention time and delete its files; return how many."""
    expired = sum(1 for pk in selectors.due_for_expiry() if services.expire_separation(pk))
    if expired:
        logger.info("retention: %d separations expired", expired)
    return expired


@shared_task(name=services.ANALYZE_TASK, ignore_result=True)
def analyze(separation_id: str) -> bool:
    """Store the tempo and key of a succeeded separation, read from its accompaniment."""
    return services.analyze_separation(separation_id)


@shared_task(name=services.PREPARE_TASK, ignore_result=True)
def prepare_deliveries(separation_id: str) -> list[str]:
    """Encode the MP3 and the waveform of each stem the separation's jobs deliver."""
    separation = (
        Separation.objects.select_related("source")
        .filter(pk=separation_id, status=Separation.Status.SUCCEEDED)
        .first()
    )
    if separation is None:
        return []
    asked = set(Job.objects.filter(separation=separation).values_list("stem", flat=True))
    stems = [
        stem
        for stem in (Job.Stem.ACCOMPANIMENT, Job.Stem.VOCALS)
        if stem in asked or Job.Stem.BOTH in asked
    ]
    done = []
    for stem in stems:
        try:
            done.append(deliveries.encoded(separation, stem, Job.Format.MP3))
            deliveries.peaks(separation, stem)
        except (SeparationError, FileNotFoundError) as exc:
            # The page will try again on demand and show its own message if it fails too.
            logger.warning("preparing %s of %s failed: %s", stem, separation_id, exc)
    return done
