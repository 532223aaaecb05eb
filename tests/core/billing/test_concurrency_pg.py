"""On a real PostgreSQL server: parallel requests from separate connections never overdraw.

50 visitors' submissions of one-credit songs race for a balance of 10 through the real
`core.jobs.services.submit`; exactly 10 get a job, the other 40 get InsufficientCredits, and a
reader polling all along never sees the balance below zero.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import IntegrityError, connection, connections, transaction

from core.billing import services as billing
from core.billing.models import CreditAccount, CreditEntry
from core.jobs.models import AudioSource, Job
from tests import postgres
from tests.core.billing.helpers import assert_consistent, kinds, race, submit, user_with

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", postgres.ALIAS]),
    pytest.mark.timeout(300),
]

PARALLEL = 50


@pytest.fixture(autouse=True)
def _on_postgres() -> Iterator[None]:
    with postgres.as_default():
        assert connection.vendor == "postgresql"
        yield


@pytest.mark.usefixtures("redis_server")  # accepted jobs are queued (no worker takes them)
def test_fifty_parallel_submissions_spend_ten_credits_exactly_ten_times() -> None:
    user = user_with(10)
    lowest: list[int] = []
    done = threading.Event()

    def watch() -> None:
        # Its own connection, reading committed balances while the spenders race.
        try:
            while not done.is_set():
                lowest.append(CreditAccount.objects.get(user=user).balance)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results, pids = race(PARALLEL, lambda i: submit(user, f"song {i}".encode(), duration=42.0))
    finally:
        done.set()
        watcher.join(timeout=60)

    jobs = [r for r in results if isinstance(r, Job)]
    refused = [r for r in results if isinstance(r, billing.InsufficientCredits)]
    others = [r for r in results if not isinstance(r, Job | billing.InsufficientCredits)]
    assert others == []
    assert len(pids) == PARALLEL  # separate connections, each its own server process
    assert (len(jobs), len(refused)) == (10, 40)
    assert all(exc.balance == 0 and exc.needed == 1 for exc in refused)
    account = CreditAccount.objects.get(user=user)
    assert (account.balance, account.reserved) == (0, 10)
    assert lowest and min(lowest) >= 0
    assert Job.objects.count() == 10 and AudioSource.objects.count() == 10
    assert CreditEntry.objects.filter(kind="reserve").count() == 10
    assert all(kinds(job) == ["reserve"] for job in jobs)
    assert_consistent(user)


def test_a_job_settled_from_many_connections_at_once_is_settled_once() -> None:
    user = user_with(3)
    job = submit(user, duration=100.0)
    results, _pids = race(
        20, lambda i: billing.charge(job.pk) if i % 2 else billing.release(job.pk)
    )
    assert all(isinstance(r, CreditEntry) for r in results), results
    settled = CreditEntry.objects.filter(job=job).exclude(kind="reserve")
    assert settled.count() == 1
    assert {r.pk for r in results if isinstance(r, CreditEntry)} == {settled.get().pk}
    assert CreditAccount.objects.get(user=user).reserved == 0
    assert_consistent(user)


def test_postgres_refuses_a_negative_balance() -> None:
    user = user_with(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(user=user).update(balance=-1)
    assert CreditAccount.objects.get(user=user).balance == 1
