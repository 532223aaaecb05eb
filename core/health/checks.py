"""Probe the services a web process depends on, each with a short timeout."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class CheckResult:
    """One dependency's state."""

    name: str
    ok: bool
    detail: str
    millis: float


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _redis() -> str:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ping"


def _storage() -> str:
    # A write, a read and a delete: a bucket that lists but refuses writes is not healthy.
    name = default_storage.save(f"health/{uuid.uuid4().hex}", ContentFile(b"ok"))
    try:
        with default_storage.open(name, "rb") as fh:
            if fh.read() != b"ok":
                raise OSError("storage returned other bytes than were written")
    finally:
        default_storage.delete(name)
    return type(default_storage._wrapped).__name__  # type: ignore[attr-defined]


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database,
    "redis": _redis,
    "storage": _storage,
}


def run_checks() -> list[CheckResult]:
    """Run every check, catching each failure into its result."""
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # a health check reports failures, it does not raise them
            detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
        results.append(CheckResult(name, ok, detail, (time.perf_counter() - started) * 1000))
    return results
