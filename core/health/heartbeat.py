"""Each Celery worker announces itself in Redis every few seconds; a silent one expires.

The key lives three intervals, so a worker killed with -9 (or a host that went away) drops
out of the admin page and of /metrics by itself, while a slow beat is tolerated.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "stemsplit:worker:"


@dataclass(frozen=True)
class WorkerBeat:
    """What a worker last said about itself."""

    hostname: str
    queues: tuple[str, ...]
    concurrency: int | None
    pid: int
    started_at: float
    beat_at: float

    @property
    def age(self) -> float:
        """Seconds since the last beat."""
        return max(0.0, time.time() - self.beat_at)


def client() -> redis.Redis:
    """Return a Redis client with short timeouts (health must answer quickly)."""
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=3)


def beat(conn: redis.Redis, info: dict[str, Any]) -> None:
    """Store one beat of a worker, living three intervals."""
    ttl = max(1, int(settings.WORKER_HEARTBEAT_SECONDS * 3))
    conn.set(f"{PREFIX}{info['hostname']}", json.dumps({**info, "beat_at": time.time()}), ex=ttl)


def alive(conn: redis.Redis | None = None) -> list[WorkerBeat]:
    """Return the workers whose beat has not expired, by name."""
    conn = conn or client()
    keys = sorted(conn.scan_iter(match=f"{PREFIX}*", count=500))
    found = []
    values: list[bytes | None] = conn.mget(keys) if keys else []  # type: ignore[assignment]
    for raw in values:
        if raw is None:
            continue  # expired between the scan and the read
        data = json.loads(raw)
        found.append(
            WorkerBeat(
                hostname=str(data["hostname"]),
                queues=tuple(data.get("queues", ())),
                concurrency=data.get("concurrency"),
                pid=int(data.get("pid", 0)),
                started_at=float(data.get("started_at", 0.0)),
                beat_at=float(data["beat_at"]),
            )
        )
    return sorted(found, key=lambda b: b.hostname)


class _Beater(threading.Thread):
    """A daemon thread of the worker's main process that beats until told to stop."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(name="stemsplit-heartbeat", daemon=True)
        self.info = info
        self.stopped = threading.Event()

    def run(self) -> None:
        conn = client()
        while not self.stopped.is_set():
            try:
                beat(conn, self.info)
            except redis.RedisError as exc:
                # Redis away: the worker cannot take jobs either; say so and keep trying.
                logger.warning("worker heartbeat not stored: %s", exc)
            self.stopped.wait(settings.WORKER_HEARTBEAT_SECONDS)
        with contextlib.suppress(redis.RedisError):  # else it expires by itself
            conn.delete(f"{PREFIX}{self.info['hostname']}")


_beater: _Beater | None = None


@worker_ready.connect
def _start(sender: Any = None, **_: Any) -> None:
    """Start beating once the worker consumes."""
    global _beater
    queues = getattr(sender.app.amqp.queues, "consume_from", None) or {}
    info = {
        "hostname": str(sender.hostname),
        "queues": sorted(queues),
        "concurrency": getattr(sender.controller, "concurrency", None),
        "pid": os.getpid(),
        "started_at": time.time(),
    }
    _beater = _Beater(info)
    _beater.start()


@worker_shutdown.connect
def _stop(**_: Any) -> None:
    """Leave the list of live workers at once on a clean shutdown."""
    if _beater is not None:
        _beater.stopped.set()
        _beater.join(timeout=5)
