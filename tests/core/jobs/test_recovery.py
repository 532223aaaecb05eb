"""The sweep sends lost work again and fails what keeps losing its worker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from core.celery import celery_app
from core.health import heartbeat
from core.jobs import services, tasks
from core.jobs.models import Job, Separation
from core.jobs.services.recovery import ActiveTasks

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
    # The path for a worker nobody can vouch for; the heartbeat path is tested below.
    settings.SEPARATION_LOST_AFTER = 3600
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
    settings.SEPARATION_LOST_AFTER = 7200
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
    assert tasks.sweep_stuck() == {
        "resent_running": 0,
        "resent_queued": 0,
        "failed": 0,
        "released": 0,
        "resent_analyses": 0,
    }


# -- a killed worker or pool process: given back at once, by the workers' own heartbeats -------


def _running_on(data: bytes, worker: str, silent_for: float) -> Job:
    """Return a job whose separation `worker` claimed and has not reported for `silent_for` s."""
    job = _job(data)
    services.claim_separation(job.separation_id, worker)
    _age(job.separation_id, heartbeat_at=timezone.now() - timedelta(seconds=silent_for))
    return job


def _beating(hostname: str) -> None:
    heartbeat.beat(heartbeat.client(), {"hostname": hostname, "queues": ["separation"], "pid": 1})


def _answers(running: dict[str, list[str]] | None) -> ActiveTasks:
    """Return what live workers would answer: the separation ids their processes run."""

    def ask(hostnames: list[str]) -> dict[str, list[dict[str, object]]] | None:
        if running is None:
            return None
        return {h: [{"args": [i]} for i in ids] for h, ids in running.items() if h in hostnames}

    return ask


@pytest.fixture
def workers(redis_server: str, settings: Any) -> None:
    """A Redis for the heartbeats, emptied; a lost separation is one silent for 30 s."""
    heartbeat.client().flushdb()
    settings.SEPARATION_LOST_AFTER = 30
    settings.SEPARATION_STALE_AFTER = 120


def test_a_separation_whose_worker_stopped_beating_is_queued_again_at_once(
    sent: Sent, workers: None
) -> None:
    job = _running_on(b"killed worker", "dead@host", silent_for=31)
    sent.clear()
    report = services.sweep_stuck(ask=_answers({}))
    assert report == services.SweepReport(0, 0, 0, released=1)
    assert sent == [(services.SEPARATE_TASK, [str(job.separation_id)], services.QUEUE)]
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    # Long before SEPARATION_STALE_AFTER, the message is claimed as the second attempt.
    claim, taken = services.claim_separation(job.separation_id, "other@host")
    assert claim == services.Claim.CLAIMED and taken is not None and taken.attempts == 2
    # The lost attempt can change nothing any more.
    assert not services.record_progress(job.separation_id, 0.9, attempt=1)


def test_a_live_worker_that_runs_something_else_lost_its_pool_process(
    sent: Sent, workers: None
) -> None:
    _beating("alive@host")
    job = _running_on(b"killed child", "alive@host", silent_for=31)
    sent.clear()
    report = services.sweep_stuck(ask=_answers({"alive@host": ["another-separation"]}))
    assert report.released == 1 and len(sent) == 1
    assert Separation.objects.get(pk=job.separation_id).status == Separation.Status.QUEUED


def test_a_quiet_separation_its_worker_still_runs_is_left_alone(sent: Sent, workers: None) -> None:
    _beating("alive@host")
    job = _running_on(b"storing big stems", "alive@host", silent_for=100)
    sent.clear()
    running = {"alive@host": [str(job.separation_id)]}
    assert services.sweep_stuck(ask=_answers(running)) == services.SweepReport(0, 0, 0)
    assert sent == []


def test_a_worker_whose_heartbeat_expired_but_answers_with_it_keeps_it(
    sent: Sent, workers: None
) -> None:
    job = _running_on(b"heartbeat lost in a redis restart", "quiet@host", silent_for=100)
    sent.clear()
    running = {"quiet@host": [str(job.separation_id)]}
    assert services.sweep_stuck(ask=_answers(running)) == services.SweepReport(0, 0, 0)
    assert sent == []


def test_a_beating_worker_that_does_not_answer_is_given_until_stale(
    sent: Sent, workers: None
) -> None:
    _beating("busy@host")
    job = _running_on(b"no answer", "busy@host", silent_for=100)
    sent.clear()
    assert services.sweep_stuck(ask=_answers(None)) == services.SweepReport(0, 0, 0)
    _age(job.separation_id, heartbeat_at=timezone.now() - timedelta(seconds=121))
    assert services.sweep_stuck(ask=_answers(None)).resent_running == 1


def test_a_separation_that_reported_recently_is_not_released(sent: Sent, workers: None) -> None:
    _running_on(b"just reported", "dead@host", silent_for=5)
    sent.clear()
    assert services.sweep_stuck(ask=_answers({})) == services.SweepReport(0, 0, 0)
    assert sent == []


def test_a_lost_separation_on_its_last_attempt_fails_with_a_clear_reason(
    sent: Sent, workers: None, settings: Any
) -> None:
    settings.SEPARATION_MAX_ATTEMPTS = 1
    job = _running_on(b"last attempt", "dead@host", silent_for=31)
    sent.clear()
    assert services.sweep_stuck(ask=_answers({})).failed == 1
    assert sent == []
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_code == "worker_lost"


def _succeeded(data: bytes, *, finished_ago: float, asked_ago: float | None) -> Separation:
    job = _job(data)
    services.claim_separation(job.separation_id, "w")
    assert services.complete_separation(job.separation_id, vocals="v.flac", accompaniment="a.flac")
    now = timezone.now()
    _age(
        job.separation_id,
        finished_at=now - timedelta(seconds=finished_ago),
        analysis_requested_at=None if asked_ago is None else now - timedelta(seconds=asked_ago),
    )
    return Separation.objects.get(pk=job.separation_id)


def test_an_analysis_whose_message_was_lost_is_asked_again_a_bounded_number_of_times(
    sent: Sent, settings: Any
) -> None:
    settings.ANALYSIS_RESEND_AFTER = 600
    settings.ANALYSIS_RESEND_WITHIN = 7200
    lost = _succeeded(b"lost analysis", finished_ago=900, asked_ago=700)
    never_asked = _succeeded(b"never asked", finished_ago=700, asked_ago=None)
    recent = _succeeded(b"asked a minute ago", finished_ago=900, asked_ago=60)
    done = _succeeded(b"analysed", finished_ago=900, asked_ago=700)
    _age(done.pk, analysis={"bpm": 120.0})
    too_old = _succeeded(b"hopeless", finished_ago=7300, asked_ago=700)
    sent.clear()

    report = services.sweep_stuck()

    assert report.resent_analyses == 2
    assert sorted(sent) == sorted(
        [(services.ANALYZE_TASK, [str(pk)], "default") for pk in (lost.pk, never_asked.pk)]
    )
    # Marked when sent: the next sweep, minutes later, does not send them again.
    for separation in (lost, never_asked):
        separation.refresh_from_db()
        assert separation.analysis_requested_at is not None
        assert timezone.now() - separation.analysis_requested_at < timedelta(seconds=60)
    for separation in (recent, done, too_old):
        untouched = separation.analysis_requested_at
        separation.refresh_from_db()
        assert separation.analysis_requested_at == untouched
    sent.clear()
    assert services.sweep_stuck().resent_analyses == 0
    assert sent == []


def test_asking_for_an_analysis_records_when(sent: Sent) -> None:
    separation = _succeeded(b"asked", finished_ago=0, asked_ago=None)
    services.request_analysis(separation.pk)
    separation.refresh_from_db()
    assert separation.analysis_requested_at is not None
    assert sent == [(services.ANALYZE_TASK, [str(separation.pk)], "default")]
