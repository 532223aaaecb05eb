"""/metrics counts requests and tasks of every process, through Redis, and their durations."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files import File
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from core.health import heartbeat, recorder
from core.jobs import services
from core.jobs.models import Job
from tests.audio import make_song
from tests.conftest import ROOT, WorkerProcess, wait_for, worker_env

pytestmark = pytest.mark.django_db

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(client: Client) -> Samples:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


@pytest.fixture
def fresh(redis_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget what earlier tests recorded (only the metrics: a worker's queues stay bound)."""
    # An earlier test without Redis may have left this process skipping for a few seconds.
    monkeypatch.setattr(recorder, "_skip_until", 0.0)
    conn = heartbeat.client()
    for key in conn.scan_iter(match=f"{recorder.PREFIX}*"):
        conn.delete(key)


def test_requests_are_timed_and_counted_by_route_never_by_path(fresh: None, client: Client) -> None:
    host = {"host": "vocals-remover.localhost"}
    for _ in range(3):
        assert client.get("/", headers=host).status_code == 200
    assert (
        client.get(f"/jobs/{'0' * 8}-0000-0000-0000-{'0' * 12}/", headers=host).status_code == 404
    )
    assert client.get("/no/such/page/", headers=host).status_code == 404
    assert client.get("/", headers={"host": "nobody.example"}).status_code == 400
    samples = _samples(client)
    home = (("code", "200"), ("method", "GET"), ("route", "web:home"))
    assert samples[("stemsplit_http_requests_total", home)] == 3
    # The job page's route is its name: the id in its path never becomes a label.
    job = (("code", "404"), ("method", "GET"), ("route", "web:job"))
    assert samples[("stemsplit_http_requests_total", job)] == 1
    unmatched = (("code", "404"), ("method", "GET"), ("route", "unmatched"))
    assert samples[("stemsplit_http_requests_total", unmatched)] == 1
    refused = (("code", "400"), ("method", "GET"), ("route", "unmatched"))
    assert samples[("stemsplit_http_requests_total", refused)] == 1
    labels = (("method", "GET"), ("route", "web:home"), ("status", "2xx"))
    assert samples[("stemsplit_http_request_duration_seconds_count", labels)] == 3
    inf = tuple(sorted((*labels, ("le", "+Inf"))))
    assert samples[("stemsplit_http_request_duration_seconds_bucket", inf)] == 3
    assert samples[("stemsplit_http_request_duration_seconds_sum", labels)] > 0
    assert not any("0000-0000" in str(key) for key in samples)
    # A scrape is recorded after its answer: the next one sees it, under its own name.
    again = _samples(client)
    scraped = (("code", "200"), ("method", "GET"), ("route", "metrics"))
    assert again[("stemsplit_http_requests_total", scraped)] == 1


def test_every_response_carries_a_request_id(fresh: None, client: Client) -> None:
    first = client.get("/healthz")
    second = client.get("/healthz")
    assert first["X-Request-ID"] != second["X-Request-ID"]
    kept = client.get("/healthz", headers={"x-request-id": "proxy-1234-abcd"})
    assert kept["X-Request-ID"] == "proxy-1234-abcd"
    forged = client.get("/healthz", headers={"x-request-id": "bad id\nwith a newline"})
    assert forged["X-Request-ID"] != "bad id\nwith a newline"
    assert len(forged["X-Request-ID"]) == 32


def test_observations_of_other_processes_add_up(fresh: None, client: Client) -> None:
    code = (
        "from core.health import recorder;"
        "recorder.record([(recorder.REALTIME_FACTOR, ('high',), 3.0),"
        " (recorder.TASK_FAILURES, ('some.task',), 1)])"
    )
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=worker_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    recorder.record([(recorder.REALTIME_FACTOR, ("high",), 200.0)])
    samples = _samples(client)
    high = (("quality", "high"),)
    assert samples[("stemsplit_separation_realtime_factor_count", high)] == 3
    assert samples[("stemsplit_separation_realtime_factor_sum", high)] == pytest.approx(206.0)
    assert samples[("stemsplit_separation_realtime_factor_bucket", (("le", "4.0"), *high))] == 2
    assert samples[("stemsplit_separation_realtime_factor_bucket", (("le", "128.0"), *high))] == 2
    assert samples[("stemsplit_separation_realtime_factor_bucket", (("le", "+Inf"), *high))] == 3
    assert samples[("stemsplit_task_failures_total", (("task", "some.task"),))] == 2


def test_recording_without_redis_neither_fails_nor_waits(
    client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "_skip_until", 0.0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    started = time.monotonic()
    for _ in range(20):
        assert client.get("/", headers={"host": "vocals-remover.localhost"}).status_code == 200
    # Twenty requests, but at most one connection attempt: the rest are skipped for a while.
    assert time.monotonic() - started < 20 * recorder.TIMEOUT_S


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_separation_records_its_realtime_factor(
    celery_worker: WorkerProcess, tmp_path: Path, client: Client
) -> None:
    def count() -> float:
        samples = _samples(client)
        key = ("stemsplit_separation_realtime_factor_count", (("quality", "high"),))
        return samples.get(key, 0.0)

    before = count()
    song = make_song(tmp_path / "song.mp3", 6)
    with song.open("rb") as fh:
        job = services.submit(
            File(fh, name=song.name),
            services.Submission(original_name=song.name, stem="vocals", quality="high"),
        )

    def finished() -> bool:
        job.refresh_from_db()
        return job.status not in Job.ACTIVE_STATUSES

    wait_for(finished, timeout=300)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    wait_for(lambda: count() == before + 1, timeout=30)
    samples = _samples(client)
    total = samples[("stemsplit_separation_realtime_factor_sum", (("quality", "high"),))]
    assert total > 0
    # The separate task itself was timed, and did not fail.
    task = (("state", "SUCCESS"), ("task", "shared_separation.separate"))
    assert samples[("stemsplit_task_duration_seconds_count", task)] >= 1
