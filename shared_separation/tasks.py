"""Celery tasks of the separation pool."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init
from django.conf import settings

from core.health.transient import is_transient
from core.jobs import services
from shared_separation import runner, worker
from shared_separation.engine import SeparationError

logger = logging.getLogger(__name__)

# How long a separation waits before trying again when a shared service was unreachable.
SERVICE_RETRY_S = 15


@worker_init.connect
def _check_before_consuming(sender: Any = None, **_: Any) -> None:
    """Refuse to start a separation worker that could only fail every job."""
    consumed = set(getattr(sender.app.amqp.queues, "consume_from", None) or {})
    # Workers of the light queues (default, bot) never load the model.
    worker.serves_separation = bool(consumed & {services.QUEUE, services.PRIORITY_QUEUE})
    if not worker.serves_separation:
        return
    try:
        worker.check_prerequisites()
    except SeparationError as exc:
        logger.critical("worker cannot start: %s", exc.message)
        # Celery logs and swallows ordinary exceptions from signal handlers; this one stops it.
        raise SystemExit(f"worker cannot start: {exc.message}") from exc


@worker_process_init.connect
def _load_engine(**_: Any) -> None:
    """Load the model in each pool process before it takes its first job."""
    if worker.serves_separation:
        worker.get_engine()


@shared_task(
    name=services.SEPARATE_TASK,
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=20,
)
def separate(self: Any, separation_id: str) -> str:
    """Separate one stored input by its Separation id."""
    try:
        outcome = runner.run_separation(separation_id, worker=self.request.hostname or "unknown")
        if outcome == services.Claim.BUSY:
            # A redelivered message while the first worker may still be alive: look again
            # once its heartbeat would have gone stale, and take over if it has.
            raise self.retry(countdown=settings.SEPARATION_STALE_AFTER)
        return outcome
    except Retry:
        raise
    except SoftTimeLimitExceeded:
        services.fail_separation(
            separation_id,
            code="timeout",
            message="The separation took longer than allowed for a song of this length.",
        )
        return "timeout"
    except Exception as exc:
        if is_transient(exc):
            # The database, Redis or the bucket is unreachable: not the job's fault, try again.
            logger.warning(
                "separation %s: a service is unreachable, retrying: %s", separation_id, exc
            )
            raise self.retry(countdown=SERVICE_RETRY_S, exc=exc) from exc
        logger.exception("separation %s stopped on an unexpected error", separation_id)
        services.fail_separation(
            separation_id,
            code="internal",
            message=(
                "An internal error stopped the separation. It has been logged; please try again."
            ),
        )
        raise


@shared_task(name=services.LINK_TASK, ignore_result=True, acks_late=True)
def import_link_task(link_id: str) -> str:
    """Fetch a pasted link's audio and submit it as a job, or record why it failed.

    A video fetched before attaches to its stored audio; one that another link is fetching
    now waits for that fetch: each video is downloaded once.
    """
    return services.fetch_link(link_id)
