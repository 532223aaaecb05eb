"""/metrics in Prometheus' text format, computed at scrape time from the database and Redis.

Gauges are read from the shared state when scraped, and counters and histograms (requests,
tasks, separation speed) are added up in Redis by every process (core.health.recorder), never
kept inside one, so any number of web processes (gunicorn workers, hosts) give the same answer.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.health import heartbeat, recorder
from core.health.stats import snapshot

PATH = "/metrics"


class PoolCollector(Collector):
    """Queue depths, jobs and separations per state, workers and their speed."""

    def collect(self) -> Iterator[Metric]:
        """Yield every gauge from one fresh snapshot."""
        snap = snapshot(link_runtime=False)
        depth = GaugeMetricFamily(
            "stemsplit_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for queue, count in snap.queue_depths.items():
            if count is not None:
                depth.add_metric([queue], count)
        yield depth
        yield GaugeMetricFamily(
            "stemsplit_redis_up",
            "Whether Redis answered this scrape.",
            value=0 if snap.redis_error else 1,
        )
        oldest = GaugeMetricFamily(
            "stemsplit_oldest_queued_separation_seconds",
            "Age of the separation waiting longest for a worker (0: none waits).",
        )
        oldest.add_metric([], snap.oldest_queued_seconds or 0.0)
        yield oldest
        for name, counts, what in (
            ("stemsplit_jobs", snap.jobs, "Jobs"),
            ("stemsplit_separations", snap.separations, "Separations"),
        ):
            family = GaugeMetricFamily(name, f"{what} per state.", labels=["status"])
            for status, count in counts.items():
                family.add_metric([status], count)
            yield family
        up = GaugeMetricFamily(
            "stemsplit_worker_up",
            "A worker whose heartbeat is fresh (1).",
            labels=["worker", "queues"],
        )
        age = GaugeMetricFamily(
            "stemsplit_worker_heartbeat_age_seconds",
            "Seconds since the worker's last heartbeat.",
            labels=["worker"],
        )
        running = GaugeMetricFamily(
            "stemsplit_worker_running_separations",
            "Separations a worker holds now.",
            labels=["worker"],
        )
        speed = GaugeMetricFamily(
            "stemsplit_worker_speed_ratio",
            "Audio seconds separated per wall second, over METRICS_SPEED_WINDOW.",
            labels=["worker"],
        )
        done = GaugeMetricFamily(
            "stemsplit_worker_separations_recent",
            "Separations a worker finished within METRICS_SPEED_WINDOW.",
            labels=["worker"],
        )
        for worker in snap.workers:
            if worker.beat is not None:
                up.add_metric([worker.hostname, ",".join(worker.beat.queues)], 1)
                age.add_metric([worker.hostname], worker.beat.age)
            running.add_metric([worker.hostname], worker.running)
            done.add_metric([worker.hostname], worker.done)
            if worker.speed is not None:
                speed.add_metric([worker.hostname], worker.speed)
        yield from (up, age, running, speed, done)
        links = GaugeMetricFamily(
            "stemsplit_link_failures_recent",
            "Link imports that failed within the last 24 hours, by code "
            '(code="bot_check": YouTube asked the server to sign in).',
            labels=["code"],
        )
        links.add_metric(["bot_check"], snap.bot_checks)
        for code, count in sorted(snap.link_failures.items()):
            if code != "bot_check":
                links.add_metric([code], count)
        yield links


class RecordedCollector(Collector):
    """Request latencies and counts, task durations and failures, separation speed."""

    def collect(self) -> Iterator[Metric]:
        """Yield what every process recorded; nothing when Redis is away (see redis_up)."""
        try:
            yield from recorder.families(heartbeat.client())
        except redis.RedisError:
            return


def allowed(request: HttpRequest) -> bool:
    """Return whether the scraper shows the bearer token, or comes from an allowed network."""
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False)
        for net in settings.METRICS_ALLOWED_NETWORKS
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Answer a scrape: 403 for anyone not allowed, else every gauge."""
    if not allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PoolCollector())
    registry.register(RecordedCollector())
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
