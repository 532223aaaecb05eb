"""Read-only questions about API jobs: which are an account's, and how each one stands."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.urls import reverse

from core.api.models import ApiJob
from core.billing import selectors as billing
from core.jobs import progress
from core.jobs import selectors as jobs
from core.jobs.models import Job, LinkImport

STEMS = (Job.Stem.VOCALS.value, Job.Stem.ACCOMPANIMENT.value)


def api_jobs_of(user: User) -> QuerySet[ApiJob]:
    """Return an account's API jobs, newest first, with what describing them needs."""
    return ApiJob.objects.filter(user=user).select_related(
        "job__separation", "link__job__separation"
    )


def api_job_for(user: User, api_job_id: uuid.UUID | str) -> ApiJob | None:
    """Return one of the account's API jobs, or None (another account's is None too)."""
    return api_jobs_of(user).filter(pk=api_job_id).first()


def job_of(api_job: ApiJob) -> Job | None:
    """Return the job behind an API job: its own, or its link's once the link is fetched."""
    if api_job.job is not None:
        return api_job.job
    link = api_job.link
    if link is not None and link.job is not None:
        return link.job
    return None


def delivered_stems(stem: str) -> tuple[str, ...]:
    """Return the stems a job of this stem delivers."""
    return STEMS if stem == Job.Stem.BOTH else (stem,)


@dataclass(frozen=True)
class State:
    """Where an API job stands: its status and, when it has one, its job."""

    status: str
    job: Job | None
    error: dict[str, str] | None
    finished_at: datetime | None


def state(api_job: ApiJob) -> State:
    """Return an API job's status, from its job or, before the job exists, its link import."""
    job = job_of(api_job)
    if job is not None:
        error = (
            {"code": job.error_code or "failed", "message": job.error_message}
            if job.status == Job.Status.FAILED
            else None
        )
        return State(job.status, job, error, job.finished_at)
    link = api_job.link
    if link is not None and link.status == LinkImport.Status.FAILED:
        error = {"code": link.error_code or "link_failed", "message": link.error_message}
        return State("failed", None, error, link.finished_at)
    if link is not None:
        return State("fetching", None, None, None)
    # Its job was deleted from under it (only the API deletes API jobs, with their rows).
    return State("expired", None, None, None)


def _quality(api_job: ApiJob, job: Job | None) -> str:
    """Return the separation's quality, or, before the link's job exists, the one asked for."""
    if job is not None:
        return str(job.separation.quality)
    asked = api_job.link.quality if api_job.link is not None else ""
    return asked or settings.SEPARATION_DEFAULT_QUALITY


def describe(api_job: ApiJob, base_url: str) -> dict[str, Any]:
    """Return what the API shows of a job, its addresses absolute under `base_url`."""
    current = state(api_job)
    job, separation = current.job, None
    held = charged = 0
    if job is not None:
        separation = job.separation
        held, charged = billing.job_credits(job.pk)
    self_url = base_url + reverse("api:separation", args=[api_job.pk])
    downloads = {}
    if current.status == Job.Status.SUCCEEDED:
        downloads = {
            stem: base_url
            + reverse("api:download", kwargs={"pk": api_job.pk, "stem": stem, "fmt": fmt})
            for stem in delivered_stems(api_job.stem)
            for fmt in (api_job.format,)
        }
    streams = {}
    if current.status in Job.ACTIVE_STATUSES:
        streams = {
            stem: base_url + reverse("api:stream", kwargs={"pk": api_job.pk, "stem": stem})
            for stem in delivered_stems(api_job.stem)
        }
    link = api_job.link
    return {
        "id": api_job.pk,
        "url": self_url,
        "status": current.status,
        "stem": api_job.stem,
        "format": api_job.format,
        "quality": _quality(api_job, job),
        "name": job.original_name if job is not None else None,
        "source": "link" if link is not None else "upload",
        "link": link.url if link is not None else None,
        "queue_position": (
            jobs.queue_position(separation)
            if separation is not None and current.status == Job.Status.QUEUED
            else None
        ),
        "progress": (
            round(progress.current(separation), 3)
            if separation is not None and current.status == Job.Status.RUNNING
            else 1.0
            if current.status == Job.Status.SUCCEEDED
            else None
        ),
        "error": current.error,
        "credits_held": held,
        "credits_charged": charged,
        "created_at": api_job.created_at,
        "finished_at": current.finished_at,
        "expires_at": jobs.files_expire_at(separation) if separation is not None else None,
        "callback_url": api_job.callback_url or None,
        "downloads": downloads,
        "cancel_url": base_url + reverse("api:cancel", args=[api_job.pk]),
        "streams": streams,
        "analysis": (
            separation.analysis
            if separation is not None and separation.analysis and current.status == "succeeded"
            else None
        ),
    }
