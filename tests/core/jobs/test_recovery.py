"""The sweep sends lost work again and fails what keeps losing its worker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from core.celery import celery_app
from core.jobs import services, tasks
from core.jobs.models import Job, Separation

pytestmark = pytest.mark.django_db

Sent = list[tuple[str, list[str], str]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Record what would go to the broker."""
    messages: Sent = []

    def send_task(name: str, args: list[str], queue: str, **_: Any) -> None:
        messages.append((name, args, queue))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return messages


def _job(data: bytes) -> Job:
    return services.submit(
        ContentFile(data, name="s.mp3"),
        services.Submission(original_name="s.mp3", stem="vocals"),
    )


def _age(separation_id: uuid.UUID, **fields: Any) -> None:
    Separation.objects.filter(pk=separation_id).update(**fields)


def test_a_silent_worker_s_separation_is_sent_again_and_taken_over(
    sent: Sent, settings: Any
) -> None:
    settings.SEPARATION_STALE_AFTER = 60
    job = _job(b"lost worker")
    services.claim_separation(job.separation_id, "gone-worker")
    _age(job.separation_id, heartbeat_at=timezone.now() - timedelta(seconds=61))
    sent.clear()
    report = services.sweep_stuck()
    assert (report.resent_running, report.failed) == (1, 0)
    assert sent == [(services.SEPARATE_TASK, [str(job.separation_id)], services.QUEUE)]
    # The message that arrives is claimed as a second attempt.
    claim, taken = services.claim_separation(job.separation_id, "new-worker")
    assert claim == services.Claim.CLAIMED and taken is not None and taken.attempts == 2


def test_a_beating_worker_is_left_alone(sent: Sent) -> None:
    job = _job(b"busy worker")
    services.claim_separation(job.separation_id, "alive")
    services.record_progress(job.separation_id, 0.4, attempt=1)
    sent.clear()
    assert services.sweep_stuck() == services.SweepReport(0, 0, 0)
    assert sent == []


def test_after_the_last_attempt_the_jobs_fail_with_a_clear_reason(
    sent: Sent, settings: Any
) -> None:
    settings.SEPARATION_MAX_ATTEMPTS = 2
    job = _job(b"cursed song")
    _age(
        job.separation_id,
        status=Separation.Status.RUNNING,
        attempts=2,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )
    sent.clear()
    assert services.sweep_stuck().failed == 1
    assert sent == []
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_code == "worker_lost" and "interrupted several times" in job.error_message


def test_a_long_queued_separation_is_sent_again_once_per_interval(
    sent: Sent, settings: Any
) -> None:
    settings.SEPARATION_REQUEUE_AFTER = 600
    job = _job(b"lost message")
    now = timezone.now()
    _age(job.separation_id, created_at=now - timedelta(seconds=601))
    sent.clear()
    assert services.sweep_stuck(now=now).resent_queued == 1
    assert services.sweep_stuck(now=now + timedelta(seconds=300)).resent_queued == 0
    assert services.sweep_stuck(now=now + timedelta(seconds=601)).resent_queued == 1
    assert len(sent) == 2


def test_a_fresh_queued_separation_is_not_sent_twice(sent: Sent) -> None:
    _job(b"just queued")
    sent.clear()
    assert services.sweep_stuck().resent_queued == 0
    assert sent == []


def test_beat_runs_the_sweep_on_the_light_queue(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-stuck-separations"]
    assert entry["task"] == tasks.SWEEP_TASK
    assert settings.CELERY_TASK_ROUTES[tasks.SWEEP_TASK] == {"queue": "default"}
    assert tasks.sweep_stuck() == {"resent_running": 0, "resent_queued": 0, "failed": 0}
