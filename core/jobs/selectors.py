"""Read-only questions about jobs and separations, for pages and the API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, Max, Q
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

    Its last use is its end or the newest job that asked for it, whichever is later, so a song
    requested again keeps its files for the newcomer. None while it is still queued or running.
    """
    if separation.status not in Separation.FINISHED_STATUSES:
        return None
    latest_job = Job.objects.filter(separation=separation).aggregate(m=Max("created_at"))["m"]
    last_use = max(d for d in (separation.finished_at, separation.created_at, latest_job) if d)
    return last_use + _retention()


def due_for_expiry(now: datetime | None = None) -> list[uuid.UUID]:
    """Return the ids of finished separations whose retention time is over."""
    cutoff = (now or timezone.now()) - _retention()
    last_use = Greatest(
        Coalesce("finished_at", "created_at"),
        Coalesce(Max("jobs__created_at"), "created_at"),
        output_field=DateTimeField(),
    )
    return list(
        Separation.objects.filter(status__in=Separation.FINISHED_STATUSES)
        .annotate(last_use=last_use)
        .filter(last_use__lte=cutoff)
        .order_by("last_use")
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
