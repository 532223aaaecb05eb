"""The callback task, on the light `default` queue: deliver, retry with doubling waits."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from core.api import callbacks, selectors
from core.api.models import ApiJob

logger = logging.getLogger(__name__)


@shared_task(name=callbacks.CALLBACK_TASK, bind=True, ignore_result=True, acks_late=True)
def send_callback(self: Any, api_job_id: str) -> str:
    """POST an API job's signed callback; on an error or a non-2xx answer, try again later."""
    api_job = ApiJob.objects.select_related("job__separation", "link__job__separation").filter(
        pk=api_job_id
    )
    found = api_job.first()
    if found is None or not found.callback_url:
        return "gone"
    if selectors.state(found).status not in ("succeeded", "failed"):
        return "not_finished"
    attempt = self.request.retries + 1
    try:
        status = callbacks.deliver(
            found.callback_url, callbacks.payload(found), callbacks.secret_for(found.user_id)
        )
        problem = None if 200 <= status < 300 else f"answered {status}"
    except callbacks.CallbackRefused as exc:
        callbacks.record(api_job_id, delivered=False, attempts=attempt)
        logger.info("callback of %s refused: %s", api_job_id, exc)
        return "refused"
    except OSError as exc:
        problem = str(exc) or type(exc).__name__
    if problem is None:
        callbacks.record(api_job_id, delivered=True, attempts=attempt)
        return "delivered"
    if self.request.retries >= settings.API_CALLBACK_MAX_RETRIES:
        callbacks.record(api_job_id, delivered=False, attempts=attempt)
        return "failed"
    logger.info("callback of %s failed (%s); trying again", api_job_id, problem)
    countdown = settings.API_CALLBACK_RETRY_DELAY * (2**self.request.retries)
    raise self.retry(countdown=countdown, max_retries=settings.API_CALLBACK_MAX_RETRIES)
