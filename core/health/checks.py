"""Probe the services a process depends on (database, Redis, storage), each with a short timeout."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core import storage

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class CheckResult:
    """One dependency's state."""

    name: str
    ok: bool
    detail: str
    millis: float


def _web() -> str:
    # Answering at all is the web check; the name tells a load balancer's operator which one.
    return f"{socket.gethostname()} pid {os.getpid()}"


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
    return type(storage.default()).__name__


CHECKS: dict[str, Callable[[], str]] = {
    "web": _web,
    "database": _database,
    "redis": _redis,
    "storage": _storage,
}


def target(name: str) -> str:
    """Return what a check reaches, for messages that must name it (no password)."""
    if name == "web":
        return "this process"
    if name == "database":
        db = connection.settings_dict
        where = f" at {db['HOST']}:{db['PORT']}" if db.get("HOST") else ""
        return f"{connection.vendor} database {str(db['NAME'])!r}{where}"
    if name == "redis":
        url = urlsplit(settings.REDIS_URL)
        return f"Redis at {url.hostname}:{url.port or 6379}{url.path}"
    if name == "storage":
        return storage.describe()
    raise KeyError(name)


def run_checks(names: Iterable[str] | None = None) -> list[CheckResult]:
    """Run every check (or the named ones), catching each failure into its result."""
    results = []
    for name, check in CHECKS.items():
        if names is not None and name not in names:
            continue
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # a health check reports failures, it does not raise them
            detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
        results.append(CheckResult(name, ok, detail, (time.perf_counter() - started) * 1000))
    return results


def unapplied_migrations() -> list[str]:
    """Return the migrations of this code that the database lacks, in the order they apply.

    Migrations the database has and this code does not know (a release rolled back) are no
    reason to refuse: migrations are kept backward compatible for exactly that.
    """
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [
        f"{migration.app_label}.{migration.name}" for migration, backwards in plan if not backwards
    ]
