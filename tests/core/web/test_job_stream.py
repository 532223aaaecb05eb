"""/jobs/<id>/stream: the growing MP3 of a running job, the file once done, clear refusals."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from pytest_django.fixtures import Settings

from core.jobs import live_streams, services
from core.jobs.models import Job, Separation
from core.jobs.services import submission
from tests.core.web.conftest import finished_job


@pytest.fixture(autouse=True)
def _clean_redis(redis_server: str) -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


def _queued_job(data: bytes | None = None, stem: str = "accompaniment") -> Job:
    return services.submit(
        ContentFile(data or uuid.uuid4().bytes, name="Live Song.mp3"),
        services.Submission(original_name="Live Song.mp3", stem=stem, brand="vocals-remover"),
    )


def _running(job: Job) -> Separation:
    _claim, separation = services.claim_separation(job.separation_id, "w")
    assert separation is not None
    return separation


@pytest.mark.django_db
def test_a_running_job_streams_the_chunks_then_ends(vr: Client) -> None:
    job = _queued_job()
    separation = _running(job)
    live_streams.announce(separation.pk, separation.attempts, ["accompaniment"])
    writer = live_streams.Writer(separation.pk, separation.attempts, "accompaniment")
    writer(b"ID3-free mp3 frames, part one;")
    later = [b" part two;", b" part three."]

    def work() -> None:
        for chunk in later:
            time.sleep(0.3)
            writer(chunk)
        writer.end()

    thread = threading.Thread(target=work)
    thread.start()
    response = vr.get(f"/jobs/{job.pk}/stream")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Cache-Control"] == "no-store"
    assert not response.has_header("Content-Length")
    got = list(response.streaming_content)  # type: ignore[attr-defined]
    thread.join()
    assert b"".join(got) == b"ID3-free mp3 frames, part one; part two; part three."
    assert len(got) == 3  # each chunk went out as it came


@pytest.mark.django_db
def test_a_stream_that_fails_midway_stops_cleanly(vr: Client) -> None:
    job = _queued_job()
    separation = _running(job)
    live_streams.announce(separation.pk, separation.attempts, ["accompaniment"])
    writer = live_streams.Writer(separation.pk, separation.attempts, "accompaniment")
    writer(b"some audio")
    writer.end("The audio could not be decoded.")
    response = vr.get(f"/jobs/{job.pk}/stream")
    assert b"".join(response.streaming_content) == b"some audio"  # type: ignore[attr-defined]
    # Once the job has failed, asking again says why.
    services.fail_separation(
        job.separation_id, code="decode_failed", message="The audio could not be decoded."
    )
    again = vr.get(f"/jobs/{job.pk}/stream", HTTP_ACCEPT="application/json")
    assert again.status_code == 409
    assert again.json() == {"error": "This separation failed: The audio could not be decoded."}
    page = vr.get(f"/jobs/{job.pk}/stream")
    assert page.status_code == 409
    assert "The audio could not be decoded." in page.content.decode()


@pytest.mark.django_db
def test_expired_and_cancelled_jobs_have_no_stream(vr: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    Separation.objects.filter(pk=job.separation_id).update(status=Separation.Status.EXPIRED)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.EXPIRED)
    response = vr.get(f"/jobs/{job.pk}/stream", HTTP_ACCEPT="application/json")
    assert response.status_code == 410
    assert "deleted" in response.json()["error"]
    cancelled = _queued_job()
    assert services.cancel_job(cancelled.pk)
    assert vr.get(f"/jobs/{cancelled.pk}/stream").status_code == 410


@pytest.mark.django_db
def test_a_finished_job_streams_its_whole_file(vr: Client, tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    response = vr.get(f"/jobs/{job.pk}/stream")
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/audio/result.mp3"
    audio = vr.get(response["Location"])
    assert audio["Content-Type"] == "audio/mpeg"
    assert len(b"".join(audio.streaming_content)) > 10_000  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_stem_nobody_streams_is_refused_and_other_brands_see_nothing(
    vr: Client, ae: Client
) -> None:
    job = _queued_job()
    separation = _running(job)
    live_streams.announce(separation.pk, separation.attempts, ["vocals"])
    response = vr.get(f"/jobs/{job.pk}/stream", HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert "not streamed" in response.json()["error"]
    assert ae.get(f"/jobs/{job.pk}/stream").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_stream_asked_while_queued_waits_for_the_start(
    vr: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Committed for real here, the job is sent to the broker: to a queue no worker consumes, so
    # that a session's worker (started by an earlier test) cannot take it from under the test.
    monkeypatch.setattr(submission, "QUEUE", "tests-nobody-consumes")
    job = _queued_job()

    def work() -> None:
        time.sleep(0.5)
        separation = _running(job)
        live_streams.announce(separation.pk, separation.attempts, ["accompaniment"])
        writer = live_streams.Writer(separation.pk, separation.attempts, "accompaniment")
        writer(b"first seconds")
        writer.end()

    thread = threading.Thread(target=work)
    thread.start()
    response = vr.get(f"/jobs/{job.pk}/stream")
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    thread.join()
    assert body == b"first seconds"


@pytest.mark.django_db
def test_the_job_page_offers_the_live_player_until_the_job_is_done(
    vr: Client, tmp_path: Path, settings: Settings
) -> None:
    job = _queued_job()
    page = vr.get(f"/jobs/{job.pk}/").content.decode()
    assert f'src="/jobs/{job.pk}/stream"' in page
    assert 'id="live-audio" controls preload="none" aria-labelledby="live-caption"' in page
    done = finished_job(tmp_path)
    assert "live-audio" not in vr.get(f"/jobs/{done.pk}/").content.decode()
    settings.LIVE_STREAMS = False  # turned off: no player that would wait for nothing
    assert "live-audio" not in vr.get(f"/jobs/{job.pk}/").content.decode()
