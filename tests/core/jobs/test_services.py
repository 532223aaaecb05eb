"""State changes of jobs and separations: one place, checked, shared between requests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from core.jobs import services
from core.jobs.models import AudioSource, Job, Separation

pytestmark = pytest.mark.django_db


def _submit(data: bytes = b"RIFF-not-really-audio", **kw: Any) -> Job:
    fields: dict[str, Any] = {"original_name": "song.mp3", "stem": "accompaniment", **kw}
    submission = services.Submission(**fields)
    return services.submit(ContentFile(data, name="song.mp3"), submission)


def test_same_audio_shares_one_separation_and_enqueues_once(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks() as first:
        job1 = _submit(b"same bytes")
    with django_capture_on_commit_callbacks() as second:
        job2 = _submit(b"same bytes", brand="acapella-extractor", stem="vocals")
    assert job1.separation_id == job2.separation_id
    assert AudioSource.objects.count() == 1
    assert Separation.objects.count() == 1
    assert len(first) == 1
    assert len(second) == 0
    assert job2.status == Job.Status.QUEUED


def test_different_audio_gets_its_own_separation() -> None:
    a = _submit(b"one")
    b = _submit(b"two")
    assert a.separation_id != b.separation_id
    assert AudioSource.objects.count() == 2


def test_finished_separation_answers_a_new_job_at_once() -> None:
    job = _submit(b"bytes")
    assert services.claim_separation(job.separation_id, "w1")[0] == services.Claim.CLAIMED
    assert services.complete_separation(job.separation_id, vocals="v.flac", accompaniment="a.flac")
    again = _submit(b"bytes")
    assert again.separation_id == job.separation_id
    assert again.status == Job.Status.SUCCEEDED
    assert again.finished_at is not None


def test_claim_is_conditional() -> None:
    job = _submit()
    claim, first = services.claim_separation(job.separation_id, "worker-a")
    assert claim == services.Claim.CLAIMED
    assert first is not None and first.worker == "worker-a" and first.attempts == 1
    assert services.claim_separation(job.separation_id, "worker-b") == (services.Claim.BUSY, None)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_a_silent_worker_loses_its_claim_and_its_writes(settings: Any) -> None:
    job = _submit()
    services.claim_separation(job.separation_id, "worker-a")
    settings.SEPARATION_STALE_AFTER = 30
    Separation.objects.filter(pk=job.separation_id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=31)
    )
    claim, taken = services.claim_separation(job.separation_id, "worker-b")
    assert claim == services.Claim.CLAIMED and taken is not None and taken.attempts == 2
    # The first worker wakes up: none of its writes land.
    assert not services.record_progress(job.separation_id, 0.9, attempt=1)
    assert not services.complete_separation(
        job.separation_id, vocals="v", accompaniment="a", attempt=1
    )
    assert not services.fail_separation(job.separation_id, code="x", message="y", attempt=1)
    assert services.complete_separation(
        job.separation_id, vocals="v2", accompaniment="a2", attempt=2
    )
    assert Separation.objects.get(pk=job.separation_id).vocals.name == "v2"


def test_claim_of_a_finished_separation_is_gone() -> None:
    job = _submit()
    services.fail_separation(job.separation_id, code="x", message="y")
    assert services.claim_separation(job.separation_id, "w") == (services.Claim.GONE, None)


def test_failure_reaches_every_active_job_but_not_cancelled_ones() -> None:
    a = _submit(b"x")
    b = _submit(b"x")
    c = _submit(b"x")
    assert services.cancel_job(c.pk)
    services.claim_separation(a.separation_id, "w")
    assert services.fail_separation(a.separation_id, code="not_audio", message="No audio track.")
    for job in (a, b):
        job.refresh_from_db()
        assert job.status == Job.Status.FAILED
        assert job.error_message == "No audio track."
    c.refresh_from_db()
    assert c.status == Job.Status.CANCELLED
    # A finished separation cannot fail or succeed again.
    assert not services.fail_separation(a.separation_id, code="x", message="y")
    assert not services.complete_separation(a.separation_id, vocals="v", accompaniment="a")


def test_failed_audio_is_tried_again_by_a_new_submission() -> None:
    job = _submit(b"flaky")
    services.fail_separation(job.separation_id, code="internal", message="boom")
    again = _submit(b"flaky")
    assert again.separation_id != job.separation_id
    assert again.status == Job.Status.QUEUED


def test_progress_only_while_running() -> None:
    job = _submit()
    assert not services.record_progress(job.separation_id, 0.5)
    services.claim_separation(job.separation_id, "w")
    assert services.record_progress(job.separation_id, 0.5)
    sep = Separation.objects.get(pk=job.separation_id)
    assert sep.progress == 0.5 and sep.heartbeat_at is not None


def test_cancelling_the_last_job_cancels_the_separation() -> None:
    a = _submit(b"c")
    b = _submit(b"c")
    assert services.cancel_job(a.pk)
    assert Separation.objects.get(pk=a.separation_id).status == Separation.Status.QUEUED
    assert services.cancel_job(b.pk)
    assert Separation.objects.get(pk=a.separation_id).status == Separation.Status.CANCELLED
    assert not services.cancel_job(b.pk)


def test_time_limits_grow_with_length() -> None:
    short_soft, short_hard = services.time_limits(60)
    long_soft, long_hard = services.time_limits(3600)
    assert short_soft < long_soft and short_hard > short_soft and long_hard > long_soft
