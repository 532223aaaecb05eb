"""Live streams of separations in progress: MP3 chunks in Redis, from the worker to the web.

The engine encodes the chunks (shared_separation/engine/live.py); this module carries them. The
worker appends each stem's MP3 bytes, as the engine encodes them, to a Redis list per
(separation, attempt, stem), then writes a terminal marker: done, or failed with the reason.
Any web process, on any host, reads the list from the start (so a job attached later hears the
song from its beginning) and follows it until the marker. The keys expire: while written,
STREAM_TTL_SECONDS after the last chunk; once ended, STREAM_KEEP_SECONDS (the stored stems serve
everyone who asks after that). A job's stream, as the sites and the API answer it, is the
growing MP3 of `response()`, or the `refusal()` of a job that has none.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import cast

import redis
from django.conf import settings
from django.http import StreamingHttpResponse

from core.jobs.models import Job, Separation

logger = logging.getLogger(__name__)

STREAM_TTL_SECONDS = 3600
STREAM_KEEP_SECONDS = 600
DONE = "done"
FAILED = "failed"
READ_BATCH = 64  # chunks per LRANGE
POLL_SECONDS = 0.1
# How often a reader waiting for chunks asks its caller whether the attempt still runs.
CHECK_SECONDS = 2.0
# How long a stream asked for while its job waits in the queue waits for the job to start; each
# waiting listener holds a web thread, so the page reconnects after this instead (job.js).
QUEUE_WAIT_SECONDS = 60
STATE_POLL_SECONDS = 0.25
# How long a started attempt may take to say which stems it streams (it does so right away).
ANNOUNCE_WAIT_SECONDS = 30.0


@cache
def connection() -> redis.Redis:
    """Return the Redis of live data: streams and progress (LIVE_STREAMS_REDIS_URL)."""
    url = settings.LIVE_STREAMS_REDIS_URL
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def _key(separation_id: uuid.UUID | str, attempt: int, stem: str) -> str:
    return f"stream:{separation_id}:{attempt}:{stem}"


def _end_key(separation_id: uuid.UUID | str, attempt: int, stem: str) -> str:
    return _key(separation_id, attempt, stem) + ":end"


class Writer:
    """A live sink for the engine: append one stem's chunks; give up quietly if Redis fails.

    A listener's stream is a convenience: a Redis error must never fail the separation, so the
    writer logs it once and drops the rest (the reader then ends when the attempt ends).
    """

    def __init__(self, separation_id: uuid.UUID | str, attempt: int, stem: str) -> None:
        self.separation_id = separation_id
        self.attempt = attempt
        self.stem = stem
        self.key = _key(separation_id, attempt, stem)
        self.broken = False
        self.first_at: float | None = None  # time.monotonic() of the first chunk stored

    def __call__(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            pipe = connection().pipeline(transaction=False)
            pipe.rpush(self.key, data)
            pipe.expire(self.key, STREAM_TTL_SECONDS)
            pipe.execute()
            if self.first_at is None:
                self.first_at = time.monotonic()
        except redis.RedisError:
            self.broken = True
            logger.warning("live stream %s: Redis failed, the rest is dropped", self.key)

    def end(self, error: str | None = None) -> None:
        """Write the terminal marker: done, or failed with the reason a listener is shown."""
        marker = DONE if error is None else f"{FAILED}:{error}"
        end_key = _end_key(self.separation_id, self.attempt, self.stem)
        try:
            pipe = connection().pipeline(transaction=False)
            pipe.set(end_key, marker, ex=STREAM_KEEP_SECONDS)
            pipe.expire(self.key, STREAM_KEEP_SECONDS)
            pipe.execute()
        except redis.RedisError:
            logger.warning("live stream %s: the end marker could not be written", self.key)


def announce(separation_id: uuid.UUID | str, attempt: int, stems: Iterable[str]) -> None:
    """Record which stems this attempt streams (the ones its jobs asked for when it started)."""
    key = f"stream:{separation_id}:{attempt}:stems"
    try:
        pipe = connection().pipeline(transaction=False)
        pipe.delete(key)
        pipe.rpush(key, "", *stems)  # "" keeps the list present when no stem is streamed
        pipe.expire(key, STREAM_TTL_SECONDS)
        pipe.execute()
    except redis.RedisError:
        logger.warning("live streams of %s could not be announced", separation_id)


def streamed(separation_id: uuid.UUID | str, attempt: int, stem: str) -> bool | None:
    """Say whether this attempt streams `stem`; None when the worker has not said yet."""
    stems = cast(list[bytes], connection().lrange(f"stream:{separation_id}:{attempt}:stems", 0, -1))
    if not stems:
        return None
    return stem.encode() in stems


@dataclass
class Ending:
    """How a stream that a reader followed ended."""

    state: str = ""  # done, failed, or "" when it stopped without a marker (attempt gone)
    reason: str = ""


def read(
    separation_id: uuid.UUID | str,
    attempt: int,
    stem: str,
    *,
    alive: Callable[[], bool],
    ending: Ending | None = None,
    max_seconds: float = STREAM_TTL_SECONDS,
) -> Iterator[bytes]:
    """Yield a stem's chunks from the first one, following the list until it ends.

    `alive` says whether the attempt still runs; it is asked every CHECK_SECONDS while no chunk
    comes, so a stream whose worker died (no marker ever) stops instead of hanging. `ending`,
    if given, is filled in with how the stream ended.
    """
    conn = connection()
    key, end_key = _key(separation_id, attempt, stem), _end_key(separation_id, attempt, stem)
    ending = ending if ending is not None else Ending()
    position = 0
    deadline = time.monotonic() + max_seconds
    last_check = time.monotonic()
    while time.monotonic() < deadline:
        # The marker is read before the chunks: once it is there, every chunk is there too.
        marker = cast(bytes | None, conn.get(end_key))
        chunks = cast(list[bytes], conn.lrange(key, position, position + READ_BATCH - 1))
        if chunks:
            position += len(chunks)
            yield from chunks
            last_check = time.monotonic()
            continue
        if marker is not None:
            state, _, reason = marker.decode().partition(":")
            ending.state, ending.reason = state, reason
            return
        if time.monotonic() - last_check >= CHECK_SECONDS:
            last_check = time.monotonic()
            if not alive():
                # One more look: the marker may have come just before the attempt ended.
                if conn.get(end_key) is None and not cast(int, conn.llen(key)) > position:
                    return
                continue
        time.sleep(POLL_SECONDS)


# -- a job's stream, as the sites and the API answer it ----------------------------------------


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
            announced = streamed(separation.pk, separation.attempts, stem)
        except redis.RedisError:  # Redis is down: no stream, but the job goes on
            logger.warning("live stream of %s unavailable", separation.pk, exc_info=True)
            return Refusal(503, "unavailable", "Live playback is unavailable; please wait.")
        if announced is False:
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

    ending = Ending()
    try:
        waited = time.monotonic() + ANNOUNCE_WAIT_SECONDS
        while (announced := streamed(separation_id, attempt, stem)) is None:
            if time.monotonic() > waited or not alive():
                return
            time.sleep(STATE_POLL_SECONDS)
        if not announced:
            return
        yield from read(separation_id, attempt, stem, alive=alive, ending=ending)
    except redis.RedisError:
        # The listener's stream stops early; the page's polling still brings the result.
        logger.warning("live stream of %s cut: Redis failed", separation_id, exc_info=True)
        return
    if ending.state == FAILED:
        logger.info("live stream of %s ended: %s", separation_id, ending.reason)
