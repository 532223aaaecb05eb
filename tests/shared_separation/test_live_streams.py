"""The real worker streams the stem a job asked for into Redis, and ends it: done or failed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import redis
from django.conf import settings
from django.core.files import File

from core.jobs import live_streams, services
from core.jobs.models import Job
from tests.audio import make_song
from tests.conftest import WorkerProcess, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _submit(path: Path, stem: str) -> Job:
    with path.open("rb") as fh:
        return services.submit(
            File(fh, name=path.name),
            services.Submission(original_name=path.name, stem=stem, brand="acapella-extractor"),
        )


def _finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.status not in Job.ACTIVE_STATUSES


def _always() -> bool:
    return True


def test_the_worker_streams_the_asked_stem_as_mp3_and_marks_its_end(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    job = _submit(make_song(tmp_path / "live.mp3", 30, seed=41), "vocals")
    wait_for(lambda: _finished(job), timeout=180)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    sid = job.separation_id
    assert live_streams.streamed(sid, 1, "vocals") is True
    assert live_streams.streamed(sid, 1, "accompaniment") is False  # nobody asked for it
    ending = live_streams.Ending()
    data = b"".join(live_streams.read(sid, 1, "vocals", alive=_always, ending=ending))
    assert ending.state == live_streams.DONE
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "mp3", "-i", "pipe:0", "-f", "f32le", "-ac", "2", "-"],
        input=data,
        capture_output=True,
        check=True,
    ).stdout
    samples = np.frombuffer(decoded, dtype="<f4").reshape(-1, 2)
    assert abs(len(samples) / 44100 - 30.0) < 0.1
    assert float(np.abs(samples).max()) > 0.05  # sound, not silence
    assert "first live vocals audio" in celery_worker.log()


def test_a_failing_separation_ends_its_stream_with_the_reason(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"This is a text file pretending to be an MP3.\n" * 50)
    job = _submit(bad, "vocals")
    wait_for(lambda: _finished(job), timeout=60)
    assert job.status == Job.Status.FAILED
    ending = live_streams.Ending()
    assert (
        list(live_streams.read(job.separation_id, 1, "vocals", alive=_always, ending=ending)) == []
    )
    assert ending.state == live_streams.FAILED
    assert ending.reason == job.error_message
