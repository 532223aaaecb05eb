"""Celery tasks of the separation pool."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from celery import shared_task
from celery.exceptions import Retry, SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init
from django.conf import settings
from django.core.files import File

from core.billing import plans
from core.billing.services import InsufficientCredits
from core.health.transient import is_transient
from core.jobs import services
from shared_separation import runner, worker
from shared_separation.engine import SeparationError
from shared_separation.links import LinkError, import_link

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
    """Fetch a pasted link's audio and submit it as a job, or record why it failed."""
    link = services.claim_link(link_id)
    if link is None:
        return "gone"  # already taken (a redelivered message) or finished
    # The owner's plan when the link is fetched sets the longest song it may bring; a longer
    # one that a higher plan takes comes in too, and only its first seconds are separated.
    plan = plans.plan_for(link.owner)
    try:
        # The download lives only as long as this task: stored by submit(), or deleted.
        with tempfile.TemporaryDirectory(prefix="link-") as tmp:
            audio = import_link(
                link.url,
                Path(tmp) / "download",
                max_duration=plans.longest_previewable(plan),
                max_bytes=max(settings.LINK_MAX_BYTES, plan.max_upload_bytes),
                allow_generic=settings.LINK_ALLOW_GENERIC,
                allow=settings.LINK_ALLOWED_PRIVATE,
                socket_timeout=settings.LINK_SOCKET_TIMEOUT,
                timeout=settings.LINK_TIMEOUT,
            )
            # The extension keeps the title whole when the download name drops it.
            name = f"{(audio.title or 'song').strip()[:200]}{audio.path.suffix}"
            submission = services.Submission(
                original_name=name,
                stem=link.stem,
                format=link.format,
                brand=link.brand,
                duration=audio.duration,
                quality=link.quality or None,
            )
            preview = plans.plan_for_preview(plan, audio.duration or 0.0) is not None
            with audio.path.open("rb") as fh:
                content = File(fh, name=name)
                if preview:
                    job = services.submit_preview(content, submission, owner=link.owner)
                else:
                    job = services.submit(content, submission, owner=link.owner)
    except InsufficientCredits as exc:
        message = (
            f"This song needs {exc.needed} credit{'s' if exc.needed != 1 else ''} (one per "
            f"started minute) and your balance is {exc.balance}. Nothing was charged."
        )
        services.fail_link(link_id, code="no_credits", message=message)
        return "no_credits"
    except LinkError as exc:
        # Too long now means too long for every plan (a higher plan's songs come as previews).
        services.fail_link(link_id, code=exc.code, message=exc.message)
        logger.info("link %s failed: %s (%s)", link_id, exc.message, exc.code)
        return exc.code
    except SeparationError as exc:
        # The preview could not be cut from the download.
        services.fail_link(link_id, code=exc.code, message=exc.message)
        return str(exc.code)
    except SoftTimeLimitExceeded:
        services.fail_link(link_id, code="timeout", message="Fetching the link took too long.")
        return "timeout"
    except Exception:
        logger.exception("link %s stopped on an unexpected error", link_id)
        services.fail_link(
            link_id,
            code="internal",
            message="An internal error stopped the import. It has been logged; please try again.",
        )
        raise
    services.complete_link(link_id, job)
    return "succeeded"
