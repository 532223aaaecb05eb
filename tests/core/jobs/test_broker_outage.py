"""A broker that cannot take a message loses no job: the sweep sends it once it answers."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client

from core.celery import celery_app
from core.jobs import services
from core.jobs.models import Job, Separation
from core.jobs.services.names import QUEUE
from tests.audio import make_song

pytestmark = pytest.mark.django_db

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def _use_broker(url: str | None) -> None:
    """Point this process's Celery app at another broker, dropping pooled connections."""
    # Celery reads this variable before any setting, on every new connection.
    if url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = url
    pool = celery_app.__dict__.get("_pool")
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.force_close_all()
    # What Celery resets in a forked child, so the next message opens a new connection.
    celery_app.__dict__["_pool"] = None
    celery_app.amqp.__dict__["_producer_pool"] = None
    kombu.pools.reset()  # kombu's own registry of producer pools, keyed by connection


def _no_workers(workers: list[str]) -> dict[str, list[dict[str, object]]]:
    """Answer the sweep's question about running work: no worker runs anything."""
    return {}


@pytest.fixture
def broker_down(redis_server: str) -> Iterator[redis.Redis]:
    """Make the broker unreachable; hand back a client of the real one for later."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    _use_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    yield client
    _use_broker(None)


def test_a_separation_the_broker_refused_is_sent_by_the_next_sweep(
    broker_down: redis.Redis, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job = services.submit(
            ContentFile(b"outage" * 1000, name="s.mp3"),
            services.Submission(original_name="s.mp3", stem="vocals", duration=3.0),
        )
    separation = Separation.objects.get(pk=job.separation_id)
    assert separation.status == Separation.Status.QUEUED
    assert broker_down.llen(QUEUE) == 0

    _use_broker(None)
    report = services.sweep_stuck(ask=_no_workers)
    assert report.resent_queued == 1
    assert broker_down.llen(QUEUE) == 1
    # Sent once: the next sweep waits a whole interval before sending it again.
    assert services.sweep_stuck(ask=_no_workers).resent_queued == 0
    assert broker_down.llen(QUEUE) == 1


def test_an_upload_while_the_broker_is_down_still_leads_to_its_job_page(
    broker_down: redis.Redis,
    django_capture_on_commit_callbacks: CaptureOnCommit,
    tmp_path: Path,
    settings: Any,
) -> None:
    settings.ANON_SUBMISSIONS_PER_HOUR = 0
    song = make_song(tmp_path / "song.mp3", 3)
    client = Client(HTTP_HOST="vocals-remover.localhost:8000")
    with django_capture_on_commit_callbacks(execute=True), song.open("rb") as fh:
        response = client.post("/", {"file": fh})
    assert response.status_code == 303, response.content[:500]
    job = Job.objects.get()
    assert response["Location"].endswith(f"/jobs/{job.pk}/")
    assert client.get(response["Location"]).status_code == 200
