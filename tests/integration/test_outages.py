"""A service that does not answer: named at start-up, and a job in progress waits for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.exceptions import Retry
from django.core.files.base import ContentFile
from pytest_django.fixtures import Settings

from core.env import env_storages
from core.jobs import services
from core.jobs.models import Job, Separation
from shared_separation.tasks import SERVICE_RETRY_S, separate
from tests.integration.s3 import free_port, s3_env
from tests.integration.stack import SCRIPT

ROOT = Path(__file__).resolve().parents[2]


def _check_services(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings",
        "DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check_services", "database", "storage"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unreachable_bucket_at_start_up_is_named(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    done = _check_services(tmp_path, **s3_env(endpoint, "media-prod"))
    assert done.returncode == 1
    assert f"storage unreachable: S3 bucket 'media-prod' at {endpoint}" in done.stderr
    assert "database unreachable" not in done.stderr


def test_an_unreachable_database_at_start_up_is_named(tmp_path: Path) -> None:
    port = free_port()
    done = _check_services(tmp_path, DATABASE_URL=f"postgres://app:pw@127.0.0.1:{port}/stemsplit")
    assert done.returncode == 1
    assert f"database unreachable: postgresql database 'stemsplit' at 127.0.0.1:{port}" in (
        done.stderr
    )
    assert ":pw@" not in done.stderr and "storage unreachable" not in done.stderr


def test_a_worker_role_refuses_to_start_naming_the_bucket(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings",
        "STEMSPLIT_VENV": str(Path(sys.executable).parent.parent),
        "DATA_DIR": str(tmp_path),
        **s3_env(endpoint, "media-prod"),
    }
    done = subprocess.run(
        [str(SCRIPT), "separation-worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert f"storage unreachable: S3 bucket 'media-prod' at {endpoint}" in done.stderr
    assert "celery" not in done.stdout.lower()  # stopped before the worker started


def test_reachable_services_pass(tmp_path: Path) -> None:
    done = _check_services(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "database ok" in done.stdout and "storage ok" in done.stdout


@pytest.mark.django_db
def test_a_bucket_unreachable_during_a_job_sends_it_back_to_the_queue(
    redis_server: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = services.submit(
        ContentFile(b"some audio", name="song.mp3"),
        services.Submission(original_name="song.mp3", stem="vocals", duration=30.0),
    )
    broker = redis.Redis.from_url(redis_server)
    broker.flushdb()
    # The worker's view: the bucket holding the input stopped answering.
    for name, value in s3_env(f"http://127.0.0.1:{free_port()}", "media").items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = env_storages(settings.MEDIA_ROOT, url_expiry=60)
    # As a worker runs it: a request that is neither eager nor a direct call.
    request: dict[str, Any] = {
        "id": "task-1",
        "args": [str(job.separation_id)],
        "kwargs": {},
        "retries": 0,
        "hostname": "w1@host",
        "is_eager": False,
        "called_directly": False,
    }
    separate.push_request(**request)
    try:
        with pytest.raises(Retry) as retry:
            separate.run(str(job.separation_id))
    finally:
        separate.pop_request()
    assert retry.value.when == SERVICE_RETRY_S
    assert broker.llen("separation") == 1  # sent again, to run after the delay
    separation = Separation.objects.get(pk=job.separation_id)
    assert separation.status == Separation.Status.QUEUED
    assert separation.attempts == 1 and separation.worker == "" and not separation.error_code
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and not job.error_code
