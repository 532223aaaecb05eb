"""The broker fails: restarted with jobs queued, or frozen without closing its connections."""

from __future__ import annotations

import time
from pathlib import Path
from typing import cast

import pytest

from core.jobs import services
from core.jobs.models import Job, Separation
from tests.faults.conftest import (
    RedisServer,
    Stack,
    assert_complete,
    ready,
    song,
    submit_song,
    wait_finished,
    wait_running,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SECONDS = 10.0


def _queued(broker: RedisServer) -> int:
    client = broker.client()
    return sum(cast(int, client.llen(q)) for q in (services.QUEUE, services.PRIORITY_QUEUE))


def _submit_several(stack: Stack, tmp_path: Path, count: int, first_seed: int) -> list[Job]:
    """Submit `count` songs at once to one warm worker; return once it works on the first."""
    worker = stack.separation_worker()
    songs = [song(tmp_path, SECONDS, seed=first_seed + i) for i in range(count)]
    ready(worker)
    jobs = [submit_song(path, SECONDS) for path in songs]
    wait_running(jobs[0], timeout=120)
    return jobs


def _each_finished_once(jobs: list[Job], stack: Stack) -> None:
    logs = stack.logs()
    for job in jobs:
        assert job.status == Job.Status.SUCCEEDED, job.error_message
        separation = Separation.objects.get(pk=job.separation_id)
        assert separation.attempts == 1, f"{separation.pk} ran {separation.attempts} times"
        assert logs.count(f"separation {separation.pk} succeeded") == 1
        assert_complete(separation, SECONDS)


def test_a_redis_restart_with_jobs_queued_loses_none(
    stack: Stack, broker: RedisServer, tmp_path: Path
) -> None:
    jobs = _submit_several(stack, tmp_path, count=4, first_seed=20)
    waiting = _queued(broker)
    assert waiting >= 2, "the jobs were not queued when Redis stopped"

    # As systemd restarts it: SIGTERM (Redis writes its append-only file), then the same
    # port and folder again.
    broker.terminate()
    time.sleep(3)
    broker.start()
    assert _queued(broker) >= waiting - 1, "queued messages did not survive the restart"

    # The same worker processes, never restarted, take the rest.
    wait_finished(jobs, timeout=240, stack=stack)
    _each_finished_once(jobs, stack)
    assert "Connection to broker lost" in stack.logs()


def test_a_frozen_broker_that_keeps_its_connections_open(
    stack: Stack, broker: RedisServer, tmp_path: Path
) -> None:
    jobs = _submit_several(stack, tmp_path, count=3, first_seed=30)
    assert _queued(broker) >= 1

    # SIGSTOP: no FIN, no RST; every connection stays open and nothing answers for a minute.
    broker.pause()
    try:
        time.sleep(60)
    finally:
        broker.resume()

    wait_finished(jobs, timeout=240, stack=stack)
    _each_finished_once(jobs, stack)
