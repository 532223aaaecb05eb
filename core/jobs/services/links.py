"""Pasted links: submit, claim, complete or fail a link import."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.celery import celery_app
from core.jobs import signals
from core.jobs.models import Job, LinkImport
from core.jobs.services.names import (
    LIGHT_QUEUE,
    LINK_TASK,
    LINK_TASK_MARGIN,
)
from shared_separation.links import check_url

logger = logging.getLogger(__name__)


def submit_link(
    url: str,
    *,
    stem: str,
    brand: str = "",
    format: str = Job.Format.MP3,
    client: str = "",
    owner: User | None = None,
    quality: str = "",
) -> LinkImport:
    """Check a pasted link and queue its import; raise LinkError before creating anything.

    Only http(s) links to public addresses pass (or the LINK_ALLOWED_PRIVATE exceptions of the
    tests); the worker's address guard checks every connection again, redirects included.
    """
    url = check_url(url, allow=settings.LINK_ALLOWED_PRIVATE)
    with transaction.atomic():
        link = LinkImport.objects.create(
            url=url,
            brand=brand,
            stem=stem,
            format=format,
            quality=quality,
            client=client[:64],
            owner=owner,
        )
        transaction.on_commit(lambda: enqueue_link(link.pk))
    logger.info("link %s submitted", link.pk)
    return link


def enqueue_link(link_id: uuid.UUID | str) -> None:
    """Send a link import to a light worker, with a hard stop past its fetch timeout."""
    soft = int(settings.LINK_TIMEOUT) + LINK_TASK_MARGIN
    celery_app.send_task(
        LINK_TASK,
        args=[str(link_id)],
        queue=LIGHT_QUEUE,
        soft_time_limit=soft,
        time_limit=soft + 30,
    )


def claim_link(link_id: uuid.UUID | str) -> LinkImport | None:
    """Take a queued link import for fetching; None when another worker took it or it is done."""
    if LinkImport.objects.filter(pk=link_id, status=LinkImport.Status.QUEUED).update(
        status=LinkImport.Status.FETCHING
    ):
        return LinkImport.objects.get(pk=link_id)
    return None


def complete_link(link_id: uuid.UUID | str, job: Job) -> bool:
    """Mark a fetching link import succeeded with the job made of its audio."""
    done = LinkImport.objects.filter(pk=link_id, status=LinkImport.Status.FETCHING).update(
        status=LinkImport.Status.SUCCEEDED, job=job, finished_at=timezone.now()
    )
    if done == 1:
        _announce(link_id)
    return done == 1


def _announce(link_id: uuid.UUID | str) -> None:
    """Tell receivers (the API's callbacks) that a link import finished, once committed."""
    transaction.on_commit(
        lambda: signals.link_finished.send_robust(sender=LinkImport, link_id=link_id)
    )


def fail_link(link_id: uuid.UUID | str, *, code: str, message: str) -> bool:
    """Mark a queued or fetching link import failed with a reason a visitor can read."""
    failed = LinkImport.objects.filter(pk=link_id, status__in=LinkImport.ACTIVE_STATUSES).update(
        status=LinkImport.Status.FAILED,
        error_code=code[:32],
        error_message=message,
        finished_at=timezone.now(),
    )
    if failed == 1:
        _announce(link_id)
    return failed == 1
