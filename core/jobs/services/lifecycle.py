"""Transitions of a running separation and its jobs: claim, progress, success, failure, cancel."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.billing import services as billing
from core.celery import celery_app
from core.jobs import signals
from core.jobs.models import Job, Separation
from core.jobs.services.analysis import request_analysis
from core.jobs.services.names import (
    LIGHT_QUEUE,
    PREPARE_TASK,
)
from shared_separation import errors

logger = logging.getLogger(__name__)


class Claim(StrEnum):
    """What a worker's attempt to claim a separation found."""

    CLAIMED = "claimed"
    BUSY = "busy"  # another worker holds it and its heartbeat is fresh: ask again later
    GONE = "gone"  # finished, failed, cancelled or deleted: nothing to do


def claim_separation(
    separation_id: uuid.UUID | str, worker: str
) -> tuple[Claim, Separation | None]:
    """Take a queued separation, or a running one whose worker stopped beating, for this worker.

    Each claim increments `attempts`; later writes name that attempt, so a worker that lost its
    claim can no longer change the separation.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SEPARATION_STALE_AFTER)
    with transaction.atomic():
        claimed = Separation.objects.filter(
            Q(status=Separation.Status.QUEUED)
            | Q(status=Separation.Status.RUNNING, heartbeat_at__lt=stale),
            pk=separation_id,
        ).update(
            status=Separation.Status.RUNNING,
            worker=worker[:255],
            started_at=now,
            heartbeat_at=now,
            progress=0.0,
            attempts=F("attempts") + 1,
        )
        if claimed == 1:
            Job.objects.filter(separation_id=separation_id, status=Job.Status.QUEUED).update(
                status=Job.Status.RUNNING
            )
    if claimed == 1:
        return Claim.CLAIMED, Separation.objects.select_related("source").get(pk=separation_id)
    running = Separation.objects.filter(pk=separation_id, status=Separation.Status.RUNNING).exists()
    return (Claim.BUSY if running else Claim.GONE), None


def _current(separation_id: uuid.UUID | str, attempt: int | None) -> QuerySet[Separation]:
    rows = Separation.objects.filter(pk=separation_id)
    return rows if attempt is None else rows.filter(attempts=attempt)


def record_progress(
    separation_id: uuid.UUID | str, fraction: float, *, attempt: int | None = None
) -> bool:
    """Store progress and a heartbeat; False when this attempt no longer holds the work."""
    updated = (
        _current(separation_id, attempt)
        .filter(status=Separation.Status.RUNNING)
        .update(progress=max(0.0, min(1.0, fraction)), heartbeat_at=timezone.now())
    )
    return updated == 1


def release_separation(separation_id: uuid.UUID | str, *, attempt: int) -> bool:
    """Give a running separation back to the queue (a service it needs was unreachable).

    Its jobs wait again; the next claim starts a new attempt at once, without waiting for the
    heartbeat to go stale.
    """
    with transaction.atomic():
        released = (
            _current(separation_id, attempt)
            .filter(status=Separation.Status.RUNNING)
            .update(
                status=Separation.Status.QUEUED,
                worker="",
                progress=0.0,
                started_at=None,
                # For a queued separation: when it was last sent (the requeue sweep reads it).
                heartbeat_at=timezone.now(),
            )
        )
        if released == 1:
            Job.objects.filter(separation_id=separation_id, status=Job.Status.RUNNING).update(
                status=Job.Status.QUEUED
            )
    return released == 1


def complete_separation(
    separation_id: uuid.UUID | str,
    *,
    vocals: str,
    accompaniment: str,
    attempt: int | None = None,
) -> bool:
    """Mark a running separation succeeded with its stored stems, and its jobs with it."""
    now = timezone.now()
    with transaction.atomic():
        done = (
            _current(separation_id, attempt)
            .filter(status=Separation.Status.RUNNING)
            .update(
                status=Separation.Status.SUCCEEDED,
                vocals=vocals,
                accompaniment=accompaniment,
                progress=1.0,
                finished_at=now,
                heartbeat_at=now,
                error_code="",
                error_message="",
            )
        )
        if done != 1:
            return False
        Job.objects.filter(separation_id=separation_id, status__in=Job.ACTIVE_STATUSES).update(
            status=Job.Status.SUCCEEDED, finished_at=now
        )
        # Every succeeded job of it, read after the update so none that the update reached is
        # missed; charging is idempotent, so those charged before move nothing.
        succeeded = _job_ids(separation_id, Job.Status.SUCCEEDED)
        billing.charge_jobs(succeeded)
        transaction.on_commit(lambda: prepare_deliveries(separation_id))
        # Tempo and key come a few seconds after the stems, from a light worker: the result
        # is never held back for them.
        transaction.on_commit(lambda: request_analysis(separation_id))
        transaction.on_commit(lambda: _announce(succeeded))
    return True


def _job_ids(separation_id: uuid.UUID | str, status: Job.Status) -> list[uuid.UUID]:
    return list(
        Job.objects.filter(separation_id=separation_id, status=status).values_list("pk", flat=True)
    )


def prepare_deliveries(separation_id: uuid.UUID | str) -> None:
    """Ask a light worker to encode the MP3s and waveforms the result pages will ask for."""
    try:
        celery_app.send_task(PREPARE_TASK, args=[str(separation_id)], queue=LIGHT_QUEUE)
    except Exception:
        # Only a head start: the pages encode on demand when this did not happen.
        logger.warning("could not queue deliveries of %s", separation_id, exc_info=True)


def fail_separation(
    separation_id: uuid.UUID | str, *, code: str, message: str, attempt: int | None = None
) -> bool:
    """Mark a queued or running separation failed, and its active jobs with the same reason."""
    code = errors.known(code)
    now = timezone.now()
    with transaction.atomic():
        failed = (
            _current(separation_id, attempt)
            .filter(status__in=[Separation.Status.QUEUED, Separation.Status.RUNNING])
            .update(
                status=Separation.Status.FAILED,
                error_code=code,
                error_message=message,
                finished_at=now,
            )
        )
        if failed != 1:
            return False
        Job.objects.filter(separation_id=separation_id, status__in=Job.ACTIVE_STATUSES).update(
            status=Job.Status.FAILED, error_code=code, error_message=message, finished_at=now
        )
        failed_jobs = _job_ids(separation_id, Job.Status.FAILED)
        billing.release_jobs(failed_jobs)
        transaction.on_commit(lambda: _announce(failed_jobs))
    return True


def _announce(job_ids: list[uuid.UUID]) -> None:
    """Tell receivers (the API's callbacks) which jobs just finished; never fail the caller."""
    if job_ids:
        signals.jobs_finished.send_robust(sender=Job, job_ids=job_ids)


def cancel_job(job_id: uuid.UUID | str) -> bool:
    """Cancel an active job; cancel its separation too if nobody else waits for it."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in Job.ACTIVE_STATUSES:
            return False
        Job.objects.filter(pk=job_id).update(status=Job.Status.CANCELLED, finished_at=now)
        billing.release(job.pk)
        others = (
            Job.objects.filter(separation_id=job.separation_id, status__in=Job.ACTIVE_STATUSES)
            .exclude(pk=job_id)
            .exists()
        )
        if not others:
            Separation.objects.filter(
                pk=job.separation_id,
                status__in=[Separation.Status.QUEUED, Separation.Status.RUNNING],
            ).update(status=Separation.Status.CANCELLED, finished_at=now)
    return True
