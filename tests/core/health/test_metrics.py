"""/metrics and the admin's operations page: queues, jobs per state, workers and their speed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yt_dlp
import yt_dlp_ejs
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from core.health import heartbeat
from core.jobs.models import LinkImport, Separation
from shared_separation.links import runtime
from tests.conftest import start_worker, wait_for
from tests.factories import finished_job

pytestmark = pytest.mark.django_db


def _samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


@pytest.fixture
def pool(redis_server: str, tmp_path: Path, settings: Settings) -> Iterator[Separation]:
    """A separation done by 'gpu-1@host' in 1.5 s for 3 s of audio, two messages waiting."""
    settings.ANON_SUBMISSIONS_PER_HOUR = 0
    conn = heartbeat.client()
    conn.flushdb()
    job = finished_job(tmp_path, seed=21)
    now = timezone.now()
    Separation.objects.filter(pk=job.separation_id).update(
        worker="gpu-1@host", started_at=now - timedelta(seconds=1.5), finished_at=now
    )
    conn.lpush("separation", "m1", "m2")
    conn.lpush("separation_priority\x06\x163", "m3")  # kombu's key for priority 3
    heartbeat.beat(
        conn,
        {"hostname": "gpu-1@host", "queues": ["separation"], "pid": 1, "started_at": 0.0},
    )
    yield Separation.objects.get(pk=job.separation_id)
    # They are not messages: a worker started later in the session would choke on them.
    conn.delete("separation", "separation_priority\x06\x163")


def test_metrics_are_refused_to_strangers(client: Client, settings: Settings) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    wrong = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", headers={"authorization": "Bearer nope"}
    )
    assert wrong.status_code == 403


def test_metrics_with_the_token_from_anywhere_on_any_host(
    pool: Separation, client: Client, settings: Settings
) -> None:
    settings.METRICS_TOKEN = "s3cret-token"
    settings.METRICS_ALLOWED_NETWORKS = []
    response = client.get(
        "/metrics",
        REMOTE_ADDR="203.0.113.9",
        headers={"authorization": "Bearer s3cret-token", "host": "10.0.0.5:8000"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")


def test_metrics_report_queues_states_and_worker_speed(pool: Separation, client: Client) -> None:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers={"host": "10.0.0.5"})
    assert response.status_code == 200
    samples = _samples(response.content)
    assert samples[("stemsplit_queue_depth", (("queue", "separation"),))] == 2
    assert samples[("stemsplit_queue_depth", (("queue", "separation_priority"),))] == 1
    assert samples[("stemsplit_queue_depth", (("queue", "default"),))] == 0
    assert samples[("stemsplit_jobs", (("status", "succeeded"),))] == 1
    assert samples[("stemsplit_jobs", (("status", "queued"),))] == 0
    assert samples[("stemsplit_separations", (("status", "succeeded"),))] == 1
    worker = (("worker", "gpu-1@host"),)
    assert samples[("stemsplit_worker_speed_ratio", worker)] == pytest.approx(2.0)
    assert samples[("stemsplit_worker_separations_recent", worker)] == 1
    assert samples[("stemsplit_worker_up", (("queues", "separation"), *worker))] == 1
    assert samples[("stemsplit_worker_heartbeat_age_seconds", worker)] < 30
    assert samples[("stemsplit_redis_up", ())] == 1


def test_a_finished_separation_older_than_the_window_has_no_speed(
    pool: Separation, client: Client, settings: Settings
) -> None:
    settings.METRICS_SPEED_WINDOW = 60
    Separation.objects.filter(pk=pool.pk).update(
        finished_at=timezone.now() - timedelta(minutes=5),
        started_at=timezone.now() - timedelta(minutes=6),
    )
    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1").content)
    assert ("stemsplit_worker_speed_ratio", (("worker", "gpu-1@host"),)) not in samples


def test_the_admin_operations_page(pool: Separation, client: Client) -> None:
    page = "/admin/operations/"
    assert client.get(page, headers={"host": "vocals-remover.localhost"}).status_code == 302
    staff = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    client.force_login(staff)
    response = client.get(page, headers={"host": "vocals-remover.localhost"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "gpu-1@host" in html
    assert "2.0x" in html  # 3 s of audio in 1.5 s
    assert "<td>separation</td><td>2</td>" in html
    assert "style=" not in html.split('id="content-main"')[1]
    # The link importer's yt-dlp, solver and runtime, as installed here.
    assert f"<td>yt-dlp</td><td>{yt_dlp.version.__version__}</td>" in html
    assert f"<td>{yt_dlp_ejs.version}</td>" in html
    deno = runtime.status()
    assert f"deno {deno.deno_version}, <code>{deno.deno_path}</code>" in html
    assert 'class="errornote"' not in html


def test_the_operations_page_says_what_the_link_importer_lacks_and_the_fix(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "deno_path", lambda: None)
    staff = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    client.force_login(staff)
    html = client.get("/admin/operations/", headers={"host": "vocals-remover.localhost"}).content
    text = html.decode()
    assert "<td>JavaScript runtime</td><td>none</td>" in text
    assert "The deno JavaScript runtime is not installed" in text
    assert "Run scripts/install.sh (uv sync --frozen)" in text


def test_youtubes_bot_checks_are_counted_for_the_operator(pool: Separation, client: Client) -> None:
    now = timezone.now()
    for n, (code, age) in enumerate(
        [("bot_check", 1), ("bot_check", 5), ("bot_check", 30), ("not_found", 2)]
    ):
        LinkImport.objects.create(
            url=f"https://www.youtube.com/watch?v=video{n:05d}",
            stem="vocals",
            status=LinkImport.Status.FAILED,
            error_code=code,
            finished_at=now - timedelta(hours=age),
        )
    LinkImport.objects.create(url="https://youtu.be/x", stem="vocals")  # still queued
    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1").content)
    # The last 24 hours only: the one from 30 hours ago is not counted.
    assert samples[("stemsplit_link_failures_recent", (("code", "bot_check"),))] == 2
    assert samples[("stemsplit_link_failures_recent", (("code", "not_found"),))] == 1
    staff = User.objects.create_user("ops", "ops@example.com", "pw", is_staff=True)
    client.force_login(staff)
    html = client.get("/admin/operations/", headers={"host": "vocals-remover.localhost"})
    text = html.content.decode()
    assert "<td>bot_check (YouTube's sign-in wall)</td><td>2</td>" in text
    assert "set <code>LINK_PROXY</code> or <code>LINK_COOKIES_FILE</code>" in text


def test_with_no_bot_check_the_gauge_says_zero(pool: Separation, client: Client) -> None:
    samples = _samples(client.get("/metrics", REMOTE_ADDR="127.0.0.1").content)
    assert samples[("stemsplit_link_failures_recent", (("code", "bot_check"),))] == 0


@pytest.mark.slow
def test_a_worker_beats_while_alive_and_expires_when_killed(
    redis_server: str, tmp_path: Path
) -> None:
    worker = start_worker(tmp_path, queues="default", WORKER_HEARTBEAT_SECONDS="1")
    try:
        worker.wait_ready(timeout=120)

        def beating() -> list[heartbeat.WorkerBeat]:
            return [b for b in heartbeat.alive() if b.pid == worker.proc.pid]

        wait_for(lambda: beating(), timeout=20)
        (beat,) = beating()
        assert beat.queues == ("default",)
        assert beat.concurrency == 1
        os.kill(worker.proc.pid, signal.SIGKILL)  # no clean shutdown: the key must expire
        worker.proc.wait()
        started = time.monotonic()
        wait_for(lambda: not beating(), timeout=15)
        assert time.monotonic() - started < 10
    finally:
        worker.stop()
