"""A job's stem as a growing MP3 while it is separated, for the job page's player and the API.

The bytes come from core.jobs.streams (Redis), so any web process on any host serves them,
whichever worker separates. A finished job's stream is its finished file; a failed, cancelled
or expired one answers an error the caller can show.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from django.http import StreamingHttpResponse

from core.jobs import streams
from core.jobs.models import Job, Separation

logger = logging.getLogger(__name__)

# How long a stream asked for while its job waits in the queue waits for the job to start; each
# waiting listener holds a web thread, so the page reconnects after this instead (job.js).
QUEUE_WAIT_SECONDS = 60
STATE_POLL_SECONDS = 0.25
# How long a started attempt may take to say which stems it streams (it does so right away).
ANNOUNCE_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Refusal:
    """Why a job has no live stream: an HTTP status, a code and a message for people."""

    status: int
    code: str
    message: str


def refusal(job: Job, stem: str) -> Refusal | None:
    """Return why `job` cannot stream `stem` now, or None if it can (queued or running)."""
    if job.status == Job.Status.FAILED:
        reason = job.error_message or "The separation failed."
        return Refusal(409, "failed", f"This separation failed: {reason}")
    if job.status == Job.Status.EXPIRED:
        return Refusal(410, "gone", "The files of this separation have been deleted.")
    if job.status == Job.Status.CANCELLED:
        return Refusal(410, "cancelled", "This separation was cancelled.")
    if job.status not in Job.ACTIVE_STATUSES:
        return None  # succeeded: the caller serves the finished file
    separation = job.separation
    if separation.status == Separation.Status.RUNNING:
        try:
            streamed = streams.streamed(separation.pk, separation.attempts, stem)
        except redis.RedisError:  # Redis is down: no stream, but the job goes on
            logger.warning("live stream of %s unavailable", separation.pk, exc_info=True)
            return Refusal(503, "unavailable", "Live playback is unavailable; please wait.")
        if streamed is False:
            return Refusal(
                409, "not_streamed", "This stem is not streamed live; it will be ready soon."
            )
    return None


def response(job: Job, stem: str) -> StreamingHttpResponse:
    """Return the growing MP3 of a queued or running job's stem."""
    body = _follow(job.separation_id, stem)
    resp = StreamingHttpResponse(body, content_type="audio/mpeg")
    # Never stored: the same address gives the finished file later.
    resp["Cache-Control"] = "no-store"
    resp["X-Content-Type-Options"] = "nosniff"
    # Proxies (nginx) pass each chunk on at once instead of buffering the response.
    resp["X-Accel-Buffering"] = "no"
    return resp


def _separation(separation_id: uuid.UUID) -> Separation | None:
    return Separation.objects.filter(pk=separation_id).only("status", "attempts").first()


def _follow(separation_id: uuid.UUID, stem: str) -> Iterator[bytes]:
    """Wait for the separation to start, then yield its stream until it ends."""
    deadline = time.monotonic() + QUEUE_WAIT_SECONDS
    separation = _separation(separation_id)
    while separation is not None and separation.status == Separation.Status.QUEUED:
        if time.monotonic() > deadline:
            return
        time.sleep(STATE_POLL_SECONDS)
        separation = _separation(separation_id)
    if separation is None or separation.status != Separation.Status.RUNNING:
        return  # finished meanwhile: the page (or client) asks again and gets the file
    attempt = separation.attempts

    def alive() -> bool:
        return Separation.objects.filter(
            pk=separation_id, status=Separation.Status.RUNNING, attempts=attempt
        ).exists()

    ending = streams.Ending()
    try:
        waited = time.monotonic() + ANNOUNCE_WAIT_SECONDS
        while (announced := streams.streamed(separation_id, attempt, stem)) is None:
            if time.monotonic() > waited or not alive():
                return
            time.sleep(STATE_POLL_SECONDS)
        if not announced:
            return
        yield from streams.read(separation_id, attempt, stem, alive=alive, ending=ending)
    except redis.RedisError:
        # The listener's stream stops early; the page's polling still brings the result.
        logger.warning("live stream of %s cut: Redis failed", separation_id, exc_info=True)
        return
    if ending.state == streams.FAILED:
        logger.info("live stream of %s ended: %s", separation_id, ending.reason)
