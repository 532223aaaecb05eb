"""Counters and histograms that every process adds to in Redis, and /metrics reads back.

Web processes run on several hosts and workers on others, so a count kept in one process's
memory (or prometheus_client's multiprocess files, which only add up processes of one host)
would give each scrape one process's share. Redis is already what they all share (heartbeats,
the broker): each observation is one pipelined round trip of HINCRBY / HINCRBYFLOAT on a hash
per metric, its fields keyed by the label values, so any scrape of any web process sees the
sum of all of them. Buckets are stored per bucket and summed into Prometheus' cumulative form
at scrape time. Counters live as long as Redis keeps them; a flushed Redis is a counter reset,
which Prometheus' rate() expects.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import redis
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

logger = logging.getLogger(__name__)

PREFIX = "stemsplit:metrics:"
# Recording must never slow a request much: a Redis that does not answer within this is
# skipped for BACKOFF_S, so it costs one timeout per process every few seconds, not per request.
TIMEOUT_S = 0.25
BACKOFF_S = 5.0
_SEP = "\x1f"


@dataclass(frozen=True)
class Counter:
    """A count that only grows (exposed as <name>_total)."""

    name: str
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Histogram:
    """A distribution of observed values, in fixed buckets (upper bounds)."""

    name: str
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...]


HTTP_DURATION = Histogram(
    "stemsplit_http_request_duration_seconds",
    "Time until a response starts, by method, route (URL name) and status class.",
    ("method", "route", "status"),
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
HTTP_REQUESTS = Counter(
    "stemsplit_http_requests",
    "Requests answered, by method, route (URL name) and status code.",
    ("method", "route", "code"),
)
TASK_DURATION = Histogram(
    "stemsplit_task_duration_seconds",
    "Time a Celery task ran, by task name and final state (SUCCESS, FAILURE, RETRY...).",
    ("task", "state"),
    (0.05, 0.25, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0),
)
TASK_FAILURES = Counter(
    "stemsplit_task_failures", "Celery tasks that raised, by task name.", ("task",)
)
TASK_RETRIES = Counter(
    "stemsplit_task_retries", "Celery tasks that asked to be tried again, by task name.", ("task",)
)
REALTIME_FACTOR = Histogram(
    "stemsplit_separation_realtime_factor",
    "Audio seconds per second of separating, of each separation that succeeded (over 1: "
    "faster than the song plays), by quality.",
    ("quality",),
    (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0),
)
METRICS: tuple[Counter | Histogram, ...] = (
    HTTP_DURATION,
    HTTP_REQUESTS,
    TASK_DURATION,
    TASK_FAILURES,
    TASK_RETRIES,
    REALTIME_FACTOR,
)

Change = tuple[Counter | Histogram, Sequence[str], float]

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()
_skip_until = 0.0


def _client() -> redis.Redis:
    # One pool per URL and process (redis-py starts a new pool in a forked child by itself).
    url = settings.REDIS_URL
    with _lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
            )
        return _clients[url]


def _labelkey(metric: Counter | Histogram, values: Sequence[str]) -> str:
    if len(values) != len(metric.labels):
        raise ValueError(f"{metric.name} takes labels {metric.labels}, got {tuple(values)}")
    return json.dumps([str(v) for v in values])


def _bucket(metric: Histogram, value: float) -> int:
    for index, bound in enumerate(metric.buckets):
        if value <= bound:
            return index
    return len(metric.buckets)  # +Inf


def record(changes: Iterable[Change]) -> None:
    """Add observations (histograms) and increments (counters) in one round trip; never raise."""
    global _skip_until
    if time.monotonic() < _skip_until:
        return
    try:
        pipe = _client().pipeline(transaction=False)
        for metric, labels, value in changes:
            key, field = PREFIX + metric.name, _labelkey(metric, labels)
            if isinstance(metric, Counter):
                pipe.hincrbyfloat(key, field, value)
            elif math.isfinite(value):
                pipe.hincrby(key, f"{field}{_SEP}{_bucket(metric, value)}", 1)
                pipe.hincrbyfloat(key, f"{field}{_SEP}sum", value)
        pipe.execute()
    except redis.RedisError as exc:
        _skip_until = time.monotonic() + BACKOFF_S
        logger.warning("metrics not recorded (skipping for %.0f s): %s", BACKOFF_S, exc)


def families(conn: redis.Redis) -> Iterator[Metric]:
    """Yield every recorded metric in Prometheus' form, summed over all processes."""
    pipe = conn.pipeline(transaction=False)
    for metric in METRICS:
        pipe.hgetall(PREFIX + metric.name)
    for metric, raw in zip(METRICS, pipe.execute(), strict=True):
        fields = {k.decode(): float(v) for k, v in raw.items()}
        if isinstance(metric, Counter):
            counter = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
            for labels, value in sorted(fields.items()):
                counter.add_metric(json.loads(labels), value)
            yield counter
            continue
        series: dict[str, dict[str, float]] = {}
        for name, value in fields.items():
            labels, _, part = name.rpartition(_SEP)
            series.setdefault(labels, {})[part] = value
        histogram = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
        for labels, parts in sorted(series.items()):
            bounds = [*(repr(float(b)) for b in metric.buckets), "+Inf"]
            cumulative, running = [], 0.0
            for index, bound in enumerate(bounds):
                running += parts.get(str(index), 0.0)
                cumulative.append((bound, running))
            histogram.add_metric(json.loads(labels), cumulative, parts.get("sum", 0.0))
        yield histogram
