"""Logs as JSON lines, errors to a real Sentry SDK without e-mail addresses or file names."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from django.conf import settings as django_settings
from django.test import Client
from pytest_django.fixtures import Settings

from core import observability
from core.celery import celery_app
from tests.conftest import ROOT, WorkerProcess, wait_for, worker_env
from tests.core.health.worker_tasks import SECRET_EMAIL, SECRET_NAME
from tests.sentry_server import SentryServer

pytestmark = pytest.mark.django_db

QUEUE = f"obs-test-{uuid.uuid4().hex[:6]}"


def _private(text: str) -> list[str]:
    """Return the private strings found in a text (empty: none leaked)."""
    found = [s for s in (SECRET_EMAIL, SECRET_NAME, "Secret Song", "jane.doe") if s in text]
    return found + (
        [str(django_settings.MEDIA_ROOT)] if str(django_settings.MEDIA_ROOT) in text else []
    )


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_json_logs_are_one_object_per_line_with_the_traceback_inside() -> None:
    code = (
        "import logging\n"
        "try:\n    1 / 0\n"
        "except ZeroDivisionError:\n    logging.getLogger('probe').exception('it broke: %s', 42)\n"
        "logging.getLogger('probe').warning('second line')\n"
    )
    done = _manage("shell", "-c", code, LOG_FORMAT="json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.strip().splitlines()]
    broke, second = (r for r in lines if r["logger"] == "probe")
    assert broke["level"] == "ERROR" and broke["message"] == "it broke: 42"
    assert "ZeroDivisionError" in broke["exc_info"] and "Traceback" in broke["exc_info"]
    assert second["message"] == "second line" and "exc_info" not in second
    assert broke["time"].endswith("+00:00")


def test_an_unknown_log_format_stops_the_process() -> None:
    done = _manage("check", LOG_FORMAT="yaml")
    assert done.returncode != 0
    assert "LOG_FORMAT must be one of text, json, not 'yaml'" in done.stderr


def test_a_request_logs_its_id(client: Client) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(observability.ContextFilter())
    handler.setFormatter(observability.JsonFormatter())
    loggers = [logging.getLogger(n) for n in ("core.brands.middleware", "django.request")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        response = client.get("/", headers={"host": "nobody.example"})
        logging.getLogger("django.request").warning("between requests")
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    refused, bad_request, between = (json.loads(line) for line in stream.getvalue().splitlines())
    # Django's own "Bad Request" line comes after the middleware returned: it has the id too.
    for record in (refused, bad_request):
        assert record["request_id"] == response["X-Request-ID"] and "task_id" not in record
    assert bad_request["logger"] == "django.request" and bad_request["level"] == "WARNING"
    assert "request_id" not in between


def test_the_scrubber_leaves_no_address_name_or_private_path() -> None:
    observability.set_private_roots([django_settings.MEDIA_ROOT])
    text = (
        f"open '{django_settings.MEDIA_ROOT}/sources/x/{SECRET_NAME}' failed for {SECRET_EMAIL};"
        f' also "Jane Doe - Secret Song.flac" and take2.WAV, id 1234'
    )
    scrubbed = observability.scrub_text(text)
    assert _private(scrubbed) == [] and "take2" not in scrubbed
    assert "failed for [email]" in scrubbed and "id 1234" in scrubbed
    event = observability.scrub_event(
        {
            "message": text,
            "breadcrumbs": {"values": [{"message": SECRET_EMAIL, "data": {"name": SECRET_NAME}}]},
            "exception": {
                "values": [
                    {
                        "value": text,
                        "stacktrace": {
                            "frames": [
                                {
                                    "abs_path": "/srv/app/core/web/uploads.py",
                                    "filename": "core/web/uploads.py",
                                    "vars": {"name": repr(SECRET_NAME)},
                                }
                            ]
                        },
                    }
                ]
            },
        }
    )
    assert _private(json.dumps(event)) == []
    frame = event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["abs_path"] == "/srv/app/core/web/uploads.py"  # code locations stay


@pytest.fixture
def sentry() -> Iterator[SentryServer]:
    """Sentry's real SDK in this process, sending to a local envelope server."""
    with SentryServer() as server:
        observability.init_sentry(
            server.dsn, environment="test", private_roots=[django_settings.MEDIA_ROOT]
        )
        try:
            yield server
        finally:
            sentry_sdk.init()  # no DSN: the SDK sends nothing to later tests


def test_an_error_in_a_view_reaches_sentry_without_private_data(
    sentry: SentryServer, redis_server: str, settings: Settings
) -> None:
    settings.ROOT_URLCONF = "tests.core.observability_urls"
    client = Client(raise_request_exception=False)
    response = client.get(
        f"/broken/?email={SECRET_EMAIL}",
        headers={"host": "vocals-remover.localhost", "cookie": "sessionid=abc"},
    )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)
    event = sentry.wait_for(lambda e: e.get("exception"), timeout=30)
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "FileNotFoundError"
    assert "[file]" in exc["value"] or "[path]" in exc["value"]
    # No body, no cookies (the test client bypasses the WSGI layer that adds the URL).
    assert not event["request"].get("data") and "cookies" not in event["request"]
    raw = b"".join(sentry.raw).decode(errors="replace")
    assert _private(raw) == [], _private(raw)


@pytest.fixture(scope="module")
def observed_worker(
    django_db_setup: None,
    django_db_blocker: Any,
    redis_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[WorkerProcess, SentryServer]]:
    """A real light worker logging JSON and reporting to a local Sentry, on its own queue."""
    tmp = tmp_path_factory.mktemp("observed")
    with SentryServer() as server:
        args = ["-Q", QUEUE, "-c", "1", "-P", "prefork", "-n", f"obs-{QUEUE}@%h", "-l", "info"]
        args += ["--without-gossip", "--without-mingle", "-I", "tests.core.health.worker_tasks"]
        env = worker_env(LOG_FORMAT="json", SENTRY_DSN=server.dsn)
        worker = WorkerProcess(args, env, tmp / "worker.log")
        try:
            worker.wait_ready(timeout=180)
            yield worker, server
        finally:
            worker.stop()


def _scrape(client: Client) -> str:
    return client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()


@pytest.mark.slow
def test_a_worker_records_tasks_and_logs_json(
    observed_worker: tuple[WorkerProcess, SentryServer], client: Client
) -> None:
    worker, _ = observed_worker
    result = celery_app.send_task("tests.obs.ok", queue=QUEUE)
    wait_for(lambda: "the ok task ran" in worker.log(), timeout=60)
    # Recorded in Redis by the worker's pool process, read back by this web process.
    done = 'stemsplit_task_duration_seconds_count{state="SUCCESS",task="tests.obs.ok"}'
    wait_for(lambda: done in _scrape(client), timeout=30)
    lines = [line for line in worker.log().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    (ran,) = [r for r in records if r["message"] == "the ok task ran"]
    assert ran["task_id"] == result.id and ran["task_name"] == "tests.obs.ok"
    assert any("ready." in r["message"] for r in records)


@pytest.mark.slow
def test_a_failing_task_is_counted_and_reaches_sentry_without_private_data(
    observed_worker: tuple[WorkerProcess, SentryServer], client: Client
) -> None:
    worker, server = observed_worker
    result = celery_app.send_task("tests.obs.fail", queue=QUEUE)
    event = server.wait_for(
        lambda e: any(
            x.get("type") == "FileNotFoundError" for x in e.get("exception", {}).get("values", [])
        ),
        timeout=60,
    )
    assert event["extra"]["celery-job"]["task_name"] == "tests.obs.fail"
    assert event["tags"].get("celery_task_id", result.id) == result.id
    raw = b"".join(server.raw).decode(errors="replace")
    assert _private(raw) == [], _private(raw)
    failures = 'stemsplit_task_failures_total{task="tests.obs.fail"} 1.0'
    wait_for(lambda: failures in _scrape(client), timeout=30)
    body = _scrape(client)
    assert 'stemsplit_task_duration_seconds_count{state="FAILURE",task="tests.obs.fail"}' in body
    # The worker's own log says what failed, with the task's id, as one JSON object.
    failed = [
        json.loads(line)
        for line in worker.log().splitlines()
        if line.startswith("{") and result.id in line and "FileNotFoundError" in line
    ]
    assert failed and "exc_info" in failed[0]


def test_gunicorn_logs_json_lines_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    code = (
        "import logging, logging.config, runpy\n"
        f"conf = runpy.run_path({str(ROOT / 'deploy' / 'gunicorn.conf.py')!r})\n"
        "logging.config.dictConfig(conf['logconfig_dict'])\n"
        "logging.getLogger('gunicorn.access').info('GET /healthz 200')\n"
        "logging.getLogger('gunicorn.error').error('worker timeout')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd="/",  # as the units start it, outside the project
        env={**os.environ, "PYTHONPATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["logger"], r["message"]) for r in lines] == [
        ("gunicorn.access", "GET /healthz 200"),
        ("gunicorn.error", "worker timeout"),
    ]
