"""Real services for the tests: a redis-server and a Celery worker as separate processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.postgres import PostgresServer, wanted

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """Start a throw-away redis-server on the port the test settings chose."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = os.environ["STEMSPLIT_TEST_REDIS_PORT"]
    workdir = tempfile.mkdtemp(prefix="redis-test-")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield settings.REDIS_URL
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


class WorkerProcess:
    """A real `celery worker` child process with its log kept for assertions."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "core", "worker", *args],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.log():
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log()[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def worker_env(**overrides: str) -> dict[str, str]:
    """Return the environment a worker needs to share the test database, storage and Redis."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["SQLITE_PATH"] = str(settings.DATABASES["default"]["NAME"])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def start_worker(
    tmp: Path, *, queues: str = "separation_priority,separation,default", **env: str
) -> WorkerProcess:
    """Start one worker process (prefork, one child) consuming the given queues."""
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    args = [
        "-Q",
        queues,
        "-c",
        "1",
        "-P",
        "prefork",
        "-n",
        name,
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
    ]
    return WorkerProcess(args, worker_env(**env), tmp / f"{name.split('@')[0]}.log")


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None,
    django_db_blocker: object,
    redis_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    """A real Celery worker with the real model, shared by the tests that need one."""
    worker = start_worker(tmp_path_factory.mktemp("worker"))
    try:
        worker.wait_ready(timeout=180)
        yield worker
    finally:
        worker.stop()


def wait_for(predicate: object, timeout: float, interval: float = 0.25) -> None:
    """Poll until predicate() is true, failing the test after `timeout` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throw-away PostgreSQL server on the port the test settings chose."""
    server = PostgresServer(int(os.environ["STEMSPLIT_TEST_PG_PORT"]))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, request: pytest.FixtureRequest
) -> None:
    """Start PostgreSQL before the test databases are created, if a collected test uses it."""
    if wanted(request.session.items):
        request.getfixturevalue("postgres_server")
