"""Receivers of the jobs app's signals: queue the callbacks of API jobs that finished."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from django.dispatch import receiver

from core.api import callbacks, selectors
from core.api.models import ApiJob
from core.jobs.signals import jobs_finished, link_finished

FINAL = ("succeeded", "failed")


@receiver(jobs_finished)
def _jobs_finished(sender: Any, job_ids: list[uuid.UUID], **_: Any) -> None:
    """Queue the callbacks of the API jobs among these jobs (directly or through a link)."""
    rows = ApiJob.objects.filter(Q(job_id__in=job_ids) | Q(link__job_id__in=job_ids)).exclude(
        callback_url=""
    )
    callbacks.queue(list(rows.values_list("pk", flat=True)))


@receiver(link_finished)
def _link_finished(sender: Any, link_id: uuid.UUID | str, **_: Any) -> None:
    """Queue the callback of a link's API job if the link failed or its job already finished."""
    api_job = (
        ApiJob.objects.select_related("link__job__separation")
        .filter(link_id=uuid.UUID(str(link_id)))
        .exclude(callback_url="")
        .first()
    )
    if api_job is not None and selectors.state(api_job).status in FINAL:
        callbacks.queue([api_job.pk])
