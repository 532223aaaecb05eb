"""Periodic housekeeping of jobs, run by Celery beat on the light `default` queue."""

from __future__ import annotations

import logging

from celery import shared_task

from core.jobs import selectors, services

logger = logging.getLogger(__name__)

EXPIRE_TASK = "jobs.expire_due"


@shared_task(name=EXPIRE_TASK, ignore_result=True)
def expire_due() -> int:
    """Expire every separation past its retention time and delete its files; return how many."""
    expired = sum(1 for pk in selectors.due_for_expiry() if services.expire_separation(pk))
    if expired:
        logger.info("retention: %d separations expired", expired)
    return expired
