"""The pool's state at this moment, read from the database and Redis: queues, jobs, workers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from core.health import heartbeat
from core.jobs.models import Job, LinkImport, Separation
from core.jobs.services import LIGHT_QUEUE, PRIORITY_QUEUE, QUEUE
from shared_separation.links import runtime

QUEUES = (PRIORITY_QUEUE, QUEUE, LIGHT_QUEUE, "bot")
LINK_FAILURE_WINDOW = timedelta(hours=24)
# kombu's Redis transport keeps a queue's messages of priority p > 0 under "<queue>\x06\x16<p>".
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (0, 3, 6, 9)


@dataclass
class WorkerStats:
    """One worker: its heartbeat (if alive) and what it separated lately."""

    hostname: str
    beat: heartbeat.WorkerBeat | None = None
    running: int = 0
    done: int = 0
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def speed(self) -> float | None:
        """Audio seconds separated per wall second, over the recent window."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else None


@dataclass
class Snapshot:
    """Everything the admin page and /metrics show."""

    queue_depths: dict[str, int | None]
    jobs: dict[str, int]
    separations: dict[str, int]
    oldest_queued_seconds: float | None
    workers: list[WorkerStats] = field(default_factory=list)
    window_seconds: float = 0.0
    redis_error: str = ""
    # Failed link imports per code over LINK_FAILURE_WINDOW: "bot_check" is YouTube refusing
    # the server's address (docs/deploy.md: LINK_PROXY, LINK_COOKIES_FILE).
    link_failures: dict[str, int] = field(default_factory=dict)
    link_window_seconds: float = LINK_FAILURE_WINDOW.total_seconds()

    @property
    def bot_checks(self) -> int:
        """Return the links YouTube refused with its "confirm you're not a bot" wall lately."""
        return self.link_failures.get("bot_check", 0)

    # yt-dlp, its solver and runtime as installed on this host (the same lock as the workers').
    link_runtime: runtime.RuntimeStatus | None = None


def queue_depths(conn: redis.Redis) -> dict[str, int]:
    """Return the messages waiting in each queue (not those a worker holds)."""
    depths = {}
    for queue in QUEUES:
        keys = [f"{queue}{_PRIORITY_SEP}{p}" if p else queue for p in _PRIORITY_STEPS]
        pipe = conn.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        depths[queue] = sum(int(n) for n in pipe.execute())
    return depths


def _counts(model: type[Job] | type[Separation]) -> dict[str, int]:
    counts = {str(value): 0 for value in model.Status.values}
    for row in model.objects.order_by().values("status").annotate(n=Count("pk")):
        counts[str(row["status"])] = int(row["n"])
    return counts


def snapshot(*, link_runtime: bool = True) -> Snapshot:
    """Read the pool's state now; Redis being away leaves its parts empty, not an error."""
    now = timezone.now()
    window = timedelta(seconds=settings.METRICS_SPEED_WINDOW)
    oldest = Separation.objects.filter(status=Separation.Status.QUEUED).aggregate(
        t=Min("created_at")
    )["t"]
    result = Snapshot(
        queue_depths=dict.fromkeys(QUEUES),
        jobs=_counts(Job),
        separations=_counts(Separation),
        oldest_queued_seconds=(now - oldest).total_seconds() if oldest else None,
        window_seconds=window.total_seconds(),
        # About 30 ms of package metadata: the admin page asks for it, /metrics does not.
        link_runtime=runtime.status() if link_runtime else None,
    )
    workers: dict[str, WorkerStats] = defaultdict(lambda: WorkerStats(hostname=""))
    try:
        conn = heartbeat.client()
        result.queue_depths = dict(queue_depths(conn))
        for beat in heartbeat.alive(conn):
            workers[beat.hostname] = WorkerStats(hostname=beat.hostname, beat=beat)
    except redis.RedisError as exc:
        result.redis_error = f"{type(exc).__name__}: {exc}"
    running = (
        Separation.objects.filter(status=Separation.Status.RUNNING)
        .order_by()
        .values("worker")
        .annotate(n=Count("pk"))
    )
    for row in running:
        stats = workers.setdefault(row["worker"], WorkerStats(hostname=row["worker"]))
        stats.running = int(row["n"])
    recent = Separation.objects.filter(
        status__in=[Separation.Status.SUCCEEDED, Separation.Status.EXPIRED],
        finished_at__gte=now - window,
        started_at__isnull=False,
        source__duration__isnull=False,
    ).values_list("worker", "started_at", "finished_at", "source__duration")
    for worker, started, finished, duration in recent:
        if finished is None or started is None or duration is None:
            continue  # excluded by the query; the types cannot say so
        stats = workers.setdefault(worker, WorkerStats(hostname=worker))
        stats.done += 1
        stats.audio_seconds += float(duration)
        stats.wall_seconds += max(0.0, (finished - started).total_seconds())
    result.workers = sorted((w for name, w in workers.items() if name), key=lambda w: w.hostname)
    failed = (
        LinkImport.objects.filter(
            status=LinkImport.Status.FAILED, finished_at__gte=now - LINK_FAILURE_WINDOW
        )
        .order_by()
        .values("error_code")
        .annotate(n=Count("pk"))
    )
    result.link_failures = {str(row["error_code"]): int(row["n"]) for row in failed}
    return result
