"""Progress: every step to Redis for the pages, the database row (and heartbeat) coarsely."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings

from core.jobs import live_streams, progress, services
from core.jobs.models import Job, Separation
from tests.core.web.conftest import VR_HOST

pytestmark = pytest.mark.django_db


class Clock:
    """time.monotonic for the reporter, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(progress.time, "monotonic", fake)
    return fake


@pytest.fixture(autouse=True)
def _clean_redis(redis_server: str) -> Iterator[None]:
    live_streams.connection.cache_clear()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield
    live_streams.connection.cache_clear()


def _running() -> tuple[Job, Separation]:
    job = services.submit(
        ContentFile(uuid.uuid4().bytes, name="Song.mp3"),
        services.Submission(original_name="Song.mp3", stem="accompaniment", brand="vocals-remover"),
    )
    _claim, separation = services.claim_separation(job.separation_id, "w")
    assert separation is not None
    return job, separation


def _row_updates(queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "jobs_separation"') and "progress" in q["sql"]
    )


def test_each_step_goes_to_redis_and_the_row_only_every_few_seconds(clock: Clock) -> None:
    job, separation = _running()
    reporter = progress.Reporter(separation.pk, separation.attempts)
    with CaptureQueriesContext(connection) as queries:
        for step in range(1, 21):  # ten seconds of the engine's steps, two a second
            reporter(step / 100)
            clock.now += progress.PUBLISH_INTERVAL_S
            separation.refresh_from_db()
            # The page's figure is the latest step, whatever the row holds.
            assert progress.current(separation) == pytest.approx(step / 100)
    # The first step, then one every DATABASE_INTERVAL_S: 0 s and 5 s of the ten.
    assert _row_updates(queries) == 2
    assert separation.progress == pytest.approx(0.11)
    assert separation.heartbeat_at is not None
    page = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/status.json").json()
    assert (page["state"], page["progress"]) == ("running", 0.2)
    # The last step always reaches the row.
    reporter(1.0)
    separation.refresh_from_db()
    assert separation.progress == 1.0


def test_a_cancelled_separation_is_noticed_at_the_next_database_write(clock: Clock) -> None:
    job, separation = _running()
    reporter = progress.Reporter(separation.pk, separation.attempts)
    reporter(0.1)
    assert services.cancel_job(job.pk)
    reporter(0.2)
    assert not reporter.cancelled()  # not asked yet: the row is written every few seconds
    clock.now += progress.DATABASE_INTERVAL_S
    reporter(0.3)
    assert reporter.cancelled()


def test_with_redis_down_the_page_shows_the_rows_figure_and_the_work_goes_on(
    clock: Clock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    job, separation = _running()
    live_streams.connection.cache_clear()
    settings.LIVE_STREAMS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    reporter = progress.Reporter(separation.pk, separation.attempts)
    for step in range(1, 25):
        reporter(step / 100)
        clock.now += progress.PUBLISH_INTERVAL_S
    warnings = [r for r in caplog.records if "not published" in r.getMessage()]
    assert len(warnings) == 1  # once per attempt, not once a step
    separation.refresh_from_db()
    assert separation.progress == pytest.approx(0.21)  # steps 1, 11 and 21 reached the row
    assert progress.current(separation) == pytest.approx(0.21)
    page = Client(HTTP_HOST=VR_HOST).get(f"/jobs/{job.pk}/status.json").json()
    assert page["progress"] == 0.21


def test_an_older_attempts_figure_is_not_shown(clock: Clock) -> None:
    """A retried separation starts again from the row's figure, not the lost attempt's."""
    _job, separation = _running()
    progress.publish(separation.pk, separation.attempts + 1, 0.9)
    progress.publish(separation.pk, separation.attempts - 1, 0.8)
    assert progress.current(separation) == 0.0
    progress.publish(separation.pk, separation.attempts, 0.4)
    assert progress.current(separation) == pytest.approx(0.4)


def test_the_heartbeat_stays_inside_a_short_lost_after(clock: Clock, settings: Settings) -> None:
    settings.SEPARATION_LOST_AFTER = 6.0
    _job, separation = _running()
    reporter = progress.Reporter(separation.pk, separation.attempts)
    beats = []
    for step in range(1, 21):
        reporter(step / 100)
        separation.refresh_from_db()
        beats.append(separation.progress)
        clock.now += progress.PUBLISH_INTERVAL_S
    # Every 2 s (a third of the 6 s), not every 5 s.
    assert sorted(set(beats)) == [0.01, 0.05, 0.09, 0.13, 0.17]
