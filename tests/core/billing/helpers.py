"""Users with credits, and jobs submitted by them, for the ledger's tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection, connections

from core.billing import services as billing
from core.billing.models import CreditAccount, CreditEntry
from core.jobs import services
from core.jobs.models import Job

T = TypeVar("T")


def user_with(credits: int, email: str | None = None) -> User:
    """Return a new user whose balance is `credits` (a grant)."""
    email = email or f"{uuid.uuid4().hex[:10]}@example.com"
    user = User.objects.create_user(username=email, email=email, password="x-secret-1")
    if credits:
        billing.grant(user, credits, key=f"test-grant:{user.pk}")
    return user


def submit(owner: User | None, data: bytes = b"some audio bytes", **kw: Any) -> Job:
    """Submit bytes as a song of `duration` seconds (default 100 s: two credits)."""
    fields: dict[str, Any] = {
        "original_name": "song.mp3",
        "stem": "accompaniment",
        "brand": "vocals-remover",
        "duration": 100.0,
        **kw,
    }
    return services.submit(
        ContentFile(data, name="song.mp3"), services.Submission(**fields), owner=owner
    )


def kinds(job: Job) -> list[str]:
    """Return the kinds of a job's ledger entries, oldest first."""
    return list(CreditEntry.objects.filter(job=job).order_by("id").values_list("kind", flat=True))


def assert_consistent(user: User) -> None:
    """The account row equals the sum of its entries, and nothing is negative."""
    account = CreditAccount.objects.get(user=user)
    entries = CreditEntry.objects.filter(account=account)
    assert account.balance == sum(e.amount for e in entries)
    assert account.reserved == sum(e.reserved_change for e in entries)
    assert account.balance >= 0 and account.reserved >= 0


def race(count: int, work: Callable[[int], T]) -> tuple[list[T | BaseException], set[int]]:
    """Run work(i) in `count` threads released together; return results and backend pids."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("not run")] * count
    pids: set[int] = set()

    def run(i: int) -> None:
        try:
            connection.ensure_connection()
            pids.add(connection.connection.info.backend_pid)
            barrier.wait(timeout=60)
            results[i] = work(i)
        except BaseException as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, pids
