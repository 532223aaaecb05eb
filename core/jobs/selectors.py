"""Read-only questions about jobs and separations, for pages and the API."""

from __future__ import annotations

import uuid

from django.db.models import Q

from core.jobs.models import Job, Separation


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
