"""The worker pool for real: redis-server, a Celery worker process and the Spleeter model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from core.jobs import services
from core.jobs.models import Job, Separation
from tests.audio import make_song
from tests.conftest import WorkerProcess, start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _submit(path: Path, stem: str = "accompaniment") -> Job:
    with path.open("rb") as fh:
        return services.submit(
            File(fh, name=path.name), services.Submission(original_name=path.name, stem=stem)
        )


def _finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.status not in Job.ACTIVE_STATUSES


def _probe(name: str) -> dict[str, object]:
    path = default_storage.path(name)
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration,format_name:stream=codec_name",
            "-of",
            "json",
            path,
        ],
        capture_output=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_worker_separates_a_stored_input_and_stores_both_stems(
    celery_worker: WorkerProcess, tmp_path: Path
) -> None:
    song = make_song(tmp_path / "song.mp3", 20)
    job = _submit(song)
    wait_for(lambda: _finished(job), timeout=180)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    sep = Separation.objects.get(pk=job.separation_id)
    assert sep.status == Separation.Status.SUCCEEDED
    assert sep.progress == 1.0 and sep.attempts == 1 and sep.worker.startswith("test-")
    for name in (sep.vocals.name, sep.accompaniment.name):
        info = _probe(name)
        assert info["format"]["format_name"] == "flac"  # type: ignore[index]
        assert abs(float(info["format"]["duration"]) - 20.0) < 0.1  # type: ignore[index]
    assert default_storage.size(sep.vocals.name) != default_storage.size(sep.accompaniment.name)

    # The same audio again, for the other stem: answered at once, no second separation.
    again = _submit(song, stem="vocals")
    assert again.status == Job.Status.SUCCEEDED
    assert Separation.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (b"This is a text file pretending to be an MP3.\n" * 50, "not_audio", "could not be read"),
        (b"", "empty_file", "empty"),
    ],
)
def test_bad_input_fails_the_job_with_a_clear_message_and_stores_nothing(
    celery_worker: WorkerProcess, tmp_path: Path, content: bytes, code: str, words: str
) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(content)
    job = _submit(bad)
    wait_for(lambda: _finished(job), timeout=60)
    assert job.status == Job.Status.FAILED
    assert job.error_code == code
    assert words in job.error_message
    sep = Separation.objects.get(pk=job.separation_id)
    assert sep.status == Separation.Status.FAILED
    assert not sep.vocals and not sep.accompaniment
    assert not default_storage.exists(f"separations/{sep.pk}")


def test_worker_refuses_to_start_without_the_model(
    django_db_setup: None, redis_server: str, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path, MODEL_ROOT=str(tmp_path / "no-model-here"))
    try:
        assert worker.proc.wait(timeout=60) != 0
    finally:
        worker.stop()
    log = worker.log()
    assert "worker cannot start" in log and "model is missing" in log
