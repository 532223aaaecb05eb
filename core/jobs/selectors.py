"""Read-only questions about jobs and separations, for pages and the API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, Max, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.jobs.models import Job, LinkImport, Separation


def job_for_brand(job_id: uuid.UUID | str, brand: str) -> Job | None:
    """Return a brand's job with its separation and source, or None (never another brand's)."""
    return (
        Job.objects.select_related("separation", "separation__source")
        .filter(pk=job_id, brand=brand)
        .first()
    )


def queue_position(separation: Separation) -> int | None:
    """Return 1 for the next separation to start, 2 for the one after...; None unless queued.

    Workers take the priority queue first, then each queue in order of arrival.
    """
    if separation.status != Separation.Status.QUEUED:
        return None
    ahead = Q(created_at__lt=separation.created_at, priority=separation.priority)
    if not separation.priority:
        ahead |= Q(priority=True)
    waiting = Separation.objects.filter(status=Separation.Status.QUEUED).exclude(pk=separation.pk)
    return waiting.filter(ahead).count() + 1


def job_by_id(job_id: uuid.UUID | str) -> Job | None:
    """Return any job by its id (its UUID is the secret that grants access), or None."""
    return Job.objects.select_related("separation").filter(pk=job_id).first()


def _retention() -> timedelta:
    return timedelta(hours=settings.RETENTION_HOURS)


def files_expire_at(separation: Separation) -> datetime | None:
    """Return when a finished separation's files go: the retention time after its last use.

    Each job keeps the files for its own retention (its owner's plan when it was submitted,
    RETENTION_HOURS without one) after its last use: the separation's end or the job's
    arrival, whichever is later. So a song requested again keeps its files for the newcomer,
    and a paying visitor's song stays its 7 days. None while it is still queued or running.
    """
    if separation.status not in Separation.FINISHED_STATUSES:
        return None
    default = _retention()
    finished = separation.finished_at or separation.created_at
    ends = [finished + default]
    for created_at, retention in Job.objects.filter(separation=separation).values_list(
        "created_at", "retention"
    ):
        ends.append(max(created_at, finished) + (retention or default))
    return max(ends)


def due_for_expiry(now: datetime | None = None) -> list[uuid.UUID]:
    """Return the ids of finished separations whose retention time is over."""
    default = Value(_retention(), output_field=DurationField())
    finished = Coalesce("finished_at", "created_at", output_field=DateTimeField())
    own_end = ExpressionWrapper(finished + default, output_field=DateTimeField())
    job_end = Max(
        ExpressionWrapper(
            Greatest("jobs__created_at", finished, output_field=DateTimeField())
            + Coalesce("jobs__retention", default, output_field=DurationField()),
            output_field=DateTimeField(),
        )
    )
    expires = Greatest(own_end, Coalesce(job_end, own_end), output_field=DateTimeField())
    return list(
        Separation.objects.filter(status__in=Separation.FINISHED_STATUSES)
        .annotate(expires=expires)
        .filter(expires__lte=now or timezone.now())
        .order_by("expires")
        .values_list("pk", flat=True)
    )


def link_for_brand(link_id: uuid.UUID | str, brand: str) -> LinkImport | None:
    """Return a brand's link import, or None (never another brand's)."""
    return LinkImport.objects.filter(pk=link_id, brand=brand).first()


def jobs_of_owner(owner_id: int, *, limit: int = 100) -> list[Job]:
    """Return a user's latest jobs on every brand, newest first."""
    return list(
        Job.objects.select_related("separation")
        .filter(owner_id=owner_id)
        .order_by("-created_at")[:limit]
    )


def tempo_and_key(separation: Separation) -> str | None:
    """Return the song's tempo and key for people ("118 BPM · A minor (8A)"), or None."""
    analysis = separation.analysis or {}
    parts = []
    if analysis.get("bpm"):
        parts.append(f"{round(float(analysis['bpm']))} BPM")
    if analysis.get("key") and analysis.get("key_confidence"):
        parts.append(f"{analysis['key']} ({analysis['camelot']})")
    return " · ".join(parts) or None
