"""A running separation's progress: often in Redis for the pages, coarsely in the database.

The worker publishes each step of its progress to Redis, which any web process on any host
reads; the database row gets the progress (and the heartbeat the recovery sweep watches) only
every DATABASE_INTERVAL_S, so a long song no longer costs the database that every page and
worker shares a write a second. A reader takes the larger of the two figures: with Redis down
or its key expired, a page shows the database's coarser one, never an error.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import cast

import redis
from django.conf import settings

from core.jobs import live_streams, services
from core.jobs.models import Separation

logger = logging.getLogger(__name__)

PUBLISH_INTERVAL_S = 0.5
# Also how soon a running worker notices that its separation was cancelled or taken away. The
# heartbeat must stay well inside SEPARATION_LOST_AFTER (30 s by default, 5 s at least).
DATABASE_INTERVAL_S = 5.0
TTL_SECONDS = 3600


def _key(separation_id: uuid.UUID | str, attempt: int) -> str:
    return f"progress:{separation_id}:{attempt}"


def publish(separation_id: uuid.UUID | str, attempt: int, fraction: float) -> bool:
    """Store an attempt's progress in Redis; False (logged) when Redis failed."""
    try:
        live_streams.connection().set(
            _key(separation_id, attempt), f"{max(0.0, min(1.0, fraction)):.4f}", ex=TTL_SECONDS
        )
    except redis.RedisError as exc:
        logger.warning("progress of %s not published: %s", separation_id, exc)
        return False
    return True


def current(separation: Separation) -> float:
    """Return how far a separation has come: Redis's figure while it runs, else the row's."""
    stored = separation.progress
    if separation.status != Separation.Status.RUNNING:
        return stored
    try:
        raw = cast(
            bytes | None, live_streams.connection().get(_key(separation.pk, separation.attempts))
        )
    except redis.RedisError:
        return stored
    if raw is None:
        return stored
    return max(stored, float(raw))


class Reporter:
    """The engine's progress callback for one attempt: Redis often, the database coarsely.

    Remembers when the database said the attempt no longer holds the separation (cancelled,
    or taken over after a lost heartbeat), which the engine asks through `cancelled`.
    """

    def __init__(self, separation_id: uuid.UUID | str, attempt: int) -> None:
        self.separation_id = separation_id
        self.attempt = attempt
        self.published = self.stored = float("-inf")
        self.lost = False
        self.broken = False
        self.interval = min(DATABASE_INTERVAL_S, settings.SEPARATION_LOST_AFTER / 3)

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        final = fraction >= 1.0
        if not self.broken and (final or now - self.published >= PUBLISH_INTERVAL_S):
            self.published = now
            # One warning per attempt: a Redis outage must not flood the log, nor stop the work.
            self.broken = not publish(self.separation_id, self.attempt, fraction)
        if final or now - self.stored >= self.interval:
            self.stored = now
            if not services.record_progress(self.separation_id, fraction, attempt=self.attempt):
                self.lost = True

    def cancelled(self) -> bool:
        """Say whether the attempt lost its separation (the engine then stops)."""
        return self.lost
