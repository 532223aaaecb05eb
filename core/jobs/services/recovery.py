"""Recovery of separations that a worker or the broker lost: send them again, or fail them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from core.celery import celery_app
from core.health import heartbeat
from core.jobs.models import Separation
from core.jobs.services.analysis import resend_lost_analyses
from core.jobs.services.lifecycle import fail_separation, release_separation
from core.jobs.services.submission import enqueue

logger = logging.getLogger(__name__)

WORKER_LOST_MESSAGE = (
    "The separation was interrupted several times because its worker stopped. "
    "Please upload the song again; if it keeps happening, tell us."
)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    resent_running: int
    resent_queued: int
    failed: int
    # Running separations given back to the queue at once: their worker is gone or runs
    # something else (a pool process killed under it).
    released: int = 0
    # Succeeded separations whose tempo-and-key analysis was asked for again.
    resent_analyses: int = 0


# Asked only about workers that still beat: what each is running now ({hostname: [task info]}),
# None when they do not answer in time. A parameter so the unit tests need no live worker.
Running = Mapping[str, Sequence[Mapping[str, object]]]
ActiveTasks = Callable[[list[str]], Running | None]


def active_tasks(hostnames: list[str]) -> Running | None:
    """Ask these workers which tasks their pool processes are running now."""
    try:
        inspector = celery_app.control.inspect(
            destination=hostnames, timeout=settings.SEPARATION_INSPECT_TIMEOUT
        )
        return inspector.active()
    except (OperationalError, redis.RedisError, OSError) as exc:
        logger.warning("could not ask the workers what they run: %s", exc)
        return None


def _runs(tasks: Sequence[Mapping[str, object]], separation_id: str) -> bool:
    return any(separation_id in str(task.get("args", "")) for task in tasks)


def release_orphans(*, now: datetime, ask: ActiveTasks = active_tasks) -> tuple[int, int]:
    """Give back to the queue the running separations no live pool process is working on.

    A separation beats about once a second while its network runs. Silent for
    SEPARATION_LOST_AFTER, its worker is asked what its pool processes run: it is given back at
    once when the worker answers without it (a process killed under a live worker), or when the
    worker does not answer and its own heartbeat has expired (the whole worker was killed);
    only the attempt that was lost is touched. A worker that runs it (quiet while storing large
    stems), or that beats but does not answer (busy), keeps it: SEPARATION_STALE_AFTER decides.
    Return (released, failed).
    """
    lost_before = now - timedelta(seconds=settings.SEPARATION_LOST_AFTER)
    quiet = list(
        Separation.objects.select_related("source").filter(
            status=Separation.Status.RUNNING, heartbeat_at__lt=lost_before
        )
    )
    if not quiet:
        return 0, 0
    try:
        alive = {beat.hostname for beat in heartbeat.alive()}
    except redis.RedisError as exc:
        logger.warning("worker heartbeats unreadable, not releasing: %s", exc)
        return 0, 0
    # Asked even when their heartbeat is gone: an answer is better evidence than a missing key.
    holders = sorted({s.worker for s in quiet if s.worker})
    running = ask(holders) if holders else {}
    released = failed = 0
    for separation in quiet:
        answer = None if running is None else running.get(separation.worker)
        if answer is not None:
            if _runs(answer, str(separation.pk)):
                continue
            why = "its worker runs other work"
        elif separation.worker in alive:
            continue  # beats but does not answer: perhaps busy, not known to be lost
        else:
            why = "its worker is gone"
        if separation.attempts >= settings.SEPARATION_MAX_ATTEMPTS:
            failed += _fail_lost(separation)
            continue
        if release_separation(separation.pk, attempt=separation.attempts):
            enqueue(separation)
            released += 1
            logger.warning(
                "separation %s: attempt %d lost (%s: %s); sent again",
                separation.pk,
                separation.attempts,
                why,
                separation.worker,
            )
    return released, failed


def _fail_lost(separation: Separation) -> int:
    """Fail a separation that lost its worker on its last attempt; return 1 if this did it."""
    if not fail_separation(
        separation.pk,
        code="worker_lost",
        message=WORKER_LOST_MESSAGE,
        attempt=separation.attempts,
    ):
        return 0
    logger.warning("separation %s failed: worker lost", separation.pk)
    return 1


def sweep_stuck(*, now: datetime | None = None, ask: ActiveTasks = active_tasks) -> SweepReport:
    """Send again the work whose worker went silent or whose message may be lost.

    First, running separations that no live pool process works on are given back to the queue
    at once (release_orphans), so a killed worker costs seconds, not SEPARATION_STALE_AFTER.
    A running separation whose heartbeat is older than SEPARATION_STALE_AFTER lost its worker:
    its task is sent again and the next claim takes it over as a new attempt, or it fails (and
    its credits are released) after SEPARATION_MAX_ATTEMPTS. A separation queued for longer than
    SEPARATION_REQUEUE_AFTER may have lost its message (a broker restarted without its data):
    it is sent again, at most once per that interval. Extra messages are harmless, since a
    claim only succeeds on a queued or silent separation.
    """
    now = now or timezone.now()
    released, failed = release_orphans(now=now, ask=ask)
    stale = now - timedelta(seconds=settings.SEPARATION_STALE_AFTER)
    resent_running = 0
    silent = Separation.objects.select_related("source").filter(
        status=Separation.Status.RUNNING, heartbeat_at__lt=stale
    )
    for separation in silent:
        if separation.attempts >= settings.SEPARATION_MAX_ATTEMPTS:
            failed += _fail_lost(separation)
            continue
        enqueue(separation)
        resent_running += 1
        logger.warning(
            "separation %s: worker %s silent since %s; sent again",
            separation.pk,
            separation.worker,
            separation.heartbeat_at,
        )
    cutoff = now - timedelta(seconds=settings.SEPARATION_REQUEUE_AFTER)
    # For a queued separation, heartbeat_at records when it was last sent again.
    waiting = Separation.objects.select_related("source").filter(
        Q(heartbeat_at__isnull=True, created_at__lt=cutoff) | Q(heartbeat_at__lt=cutoff),
        status=Separation.Status.QUEUED,
    )
    resent_queued = 0
    for separation in waiting:
        marked = Separation.objects.filter(
            pk=separation.pk, status=Separation.Status.QUEUED
        ).update(heartbeat_at=now)
        if marked == 1:
            enqueue(separation)
            resent_queued += 1
    if resent_queued:
        logger.warning("%d queued separations sent again", resent_queued)
    return SweepReport(
        resent_running, resent_queued, failed, released, resend_lost_analyses(now=now)
    )
