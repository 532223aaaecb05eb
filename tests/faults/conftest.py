"""The real stack for fault injection: its own redis-server, workers of both kinds, beat.

Each test gets a fresh broker (append-only as `scripts/run.sh` runs it) so that it may stop,
freeze or restart it, and the worker processes it needs, all with the settings the README's
stack uses unless a test says otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kombu.pools
import psutil
import pytest
import redis
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage

from core.billing import services as billing
from core.billing.models import CreditEntry
from core.celery import celery_app
from core.jobs import services
from core.jobs.models import Job, Separation
from tests.audio import make_song
from tests.conftest import ROOT, WorkerProcess, start_worker, worker_env


def free_port() -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server process with append-only persistence, restartable on its port and dir."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (again) and wait until it answers with its data loaded."""
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        # The flags of scripts/run.sh: a restart loses at most a second of writes, and a full
        # broker refuses writes rather than evicting queued messages.
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--maxmemory-policy",
                "noeviction",
                "--save",
                "",
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
        )
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"redis-server did not start:\n{self.log()}")
            time.sleep(0.05)

    def terminate(self) -> None:
        """Stop it as an operator or systemd does (SIGTERM: it writes its append-only file)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def pause(self) -> None:
        """Freeze it: connections stay open, nothing answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen server go on."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def client(self) -> redis.Redis:
        """Return a client with short timeouts."""
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def log(self) -> str:
        """Return the server's log."""
        path = self.workdir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop it for good, whatever state it is in."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=30)


def _reset_producers() -> None:
    """Forget the test process's broker connections, so the next message uses the new URL."""
    pool = celery_app.__dict__.get("_pool")
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.force_close_all()
    # What Celery itself resets in a forked child (Celery._after_fork), without its signal.
    celery_app.__dict__["_pool"] = None
    celery_app.amqp.__dict__["_producer_pool"] = None
    # kombu keeps its own registry of producer pools by connection; a closed one left there
    # would fail every later message of this process ("Acquire on closed pool").
    kombu.pools.reset()


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A fresh append-only redis-server; this test process sends its messages there."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir)
    server.start()
    # Celery reads this before its configuration, at each new connection.
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)
    _reset_producers()
    try:
        yield server
    finally:
        monkeypatch.delenv("CELERY_BROKER_URL")
        _reset_producers()
        server.stop()


def kill_tree(proc: psutil.Process) -> None:
    """Kill a process and its children at once, the parent first so it can requeue nothing."""
    children = proc.children(recursive=True)
    for p in [proc, *children]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)


@dataclass
class Stack:
    """The processes of one test, stopped (whatever their state) when it ends."""

    tmp: Path
    broker: RedisServer
    workers: list[WorkerProcess] = field(default_factory=list)
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        # tests/settings.py builds REDIS_URL from this port in every process it configures.
        return {"STEMSPLIT_TEST_REDIS_PORT": str(self.broker.port), **extra}

    def separation_worker(self, **extra: str) -> WorkerProcess:
        """Start a worker of the separation queues, like the README's (one pool process)."""
        worker = start_worker(
            self.tmp, queues="separation_priority,separation", **self.env(**extra)
        )
        self.workers.append(worker)
        return worker

    def light_worker(self) -> WorkerProcess:
        """Start a worker of the light queue, where beat's sweep runs."""
        worker = start_worker(self.tmp, queues="default", **self.env())
        self.workers.append(worker)
        return worker

    def beat(self) -> subprocess.Popen[bytes]:
        """Start Celery beat with the project's schedule."""
        log = (self.tmp / f"beat-{uuid.uuid4().hex[:6]}.log").open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "core",
                "beat",
                "-s",
                str(self.tmp / f"schedule-{uuid.uuid4().hex[:6]}"),
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=worker_env(**self.env()),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.others.append(proc)
        return proc

    def worker_named(self, hostname: str) -> WorkerProcess:
        """Return the worker process whose node name is `hostname`."""
        for worker in self.workers:
            if hostname.startswith(worker.log_path.stem + "@"):
                return worker
        raise LookupError(hostname)

    def logs(self) -> str:
        """Return every worker's log, for assertions and failure messages."""
        return "\n".join(f"== {w.log_path.name}\n{w.log()}" for w in self.workers)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.proc.poll() is None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    kill_tree(psutil.Process(worker.proc.pid))
            worker.proc.wait(timeout=30)
            worker.stop()
        for proc in self.others:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def stack(django_db_setup: None, broker: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    """The processes a test starts, all stopped at its end."""
    processes = Stack(tmp_path, broker)
    try:
        yield processes
    finally:
        processes.stop()


def ready(*workers: WorkerProcess, timeout: float = 300) -> None:
    """Wait until every worker consumes and each separation worker's pool process is warm.

    A pool process loads the model after the worker says "ready."; a job it takes before that
    waits for the load, which would count in a takeover time measured from a kill.
    """
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.wait_ready(timeout=max(1.0, deadline - time.monotonic()))
    for worker in workers:
        if "separation" not in " ".join(str(a) for a in worker.proc.args):  # type: ignore[union-attr]
            continue
        wait_loaded(worker, deadline)


def wait_loaded(worker: WorkerProcess, deadline: float) -> None:
    """Wait until the worker's pool process has loaded the model: it then sits idle."""
    while "loading the separation engine" not in worker.log():
        if time.monotonic() > deadline:
            pytest.fail(f"the model was never loaded:\n{worker.log()[-3000:]}")
        time.sleep(0.2)
    quiet = 0
    while quiet < 2:
        if time.monotonic() > deadline:
            pytest.fail(f"the pool process never went idle:\n{worker.log()[-3000:]}")
        (child,) = psutil.Process(worker.proc.pid).children()
        before = sum(child.cpu_times()[:2])
        time.sleep(1.0)
        quiet = quiet + 1 if sum(child.cpu_times()[:2]) - before < 0.05 else 0


def paying_user(credits: int = 20) -> User:
    """Return a new account holding `credits`."""
    user = User.objects.create_user(f"fault-{uuid.uuid4().hex[:8]}", password="x")
    billing.grant(user, credits, key=f"test-grant:{user.pk}")
    return user


def submit_song(path: Path, seconds: float, owner: User | None = None) -> Job:
    """Submit a generated song as a visitor's upload would, after probing."""
    with path.open("rb") as fh:
        return services.submit(
            File(fh, name=path.name),
            services.Submission(
                original_name=path.name,
                stem="accompaniment",
                brand="vocals-remover",
                duration=seconds,
            ),
            owner=owner,
        )


def song(tmp: Path, seconds: float, seed: int) -> Path:
    """Write a distinct short song (the seed changes its noise, so its hash)."""
    return make_song(tmp / f"song-{seed}.flac", seconds, seed=seed)


def finished(job: Job) -> bool:
    """Return whether the job reached a final state (refreshing it)."""
    job.refresh_from_db()
    return job.status not in Job.ACTIVE_STATUSES


def wait_finished(jobs: list[Job], timeout: float, stack: Stack) -> float:
    """Wait until every job is final; return when (monotonic), failing with the logs if not."""
    deadline = time.monotonic() + timeout
    while not all(finished(job) for job in jobs):
        if time.monotonic() > deadline:
            states = [(str(j.pk)[:8], j.status) for j in jobs]
            pytest.fail(f"jobs not finished within {timeout}s: {states}\n{stack.logs()[-6000:]}")
        time.sleep(0.2)
    return time.monotonic()


def wait_running(job: Job, timeout: float) -> Separation:
    """Wait until a worker has claimed the job's separation; return it."""
    deadline = time.monotonic() + timeout
    while True:
        separation = Separation.objects.get(pk=job.separation_id)
        if separation.status == Separation.Status.RUNNING:
            return separation
        if separation.status != Separation.Status.QUEUED or time.monotonic() > deadline:
            pytest.fail(f"separation {separation.pk} is {separation.status}, never seen running")
        time.sleep(0.02)


def probe_seconds(name: str) -> float:
    """Return the duration ffprobe reads from a stored file (it fails on a truncated one)."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration,format_name",
            "-of",
            "json",
            default_storage.path(name),
        ],
        capture_output=True,
        check=True,
    )
    info = json.loads(out.stdout)["format"]
    assert info["format_name"] == "flac"
    return float(info["duration"])


def assert_complete(separation: Separation, seconds: float) -> None:
    """Both stems are stored, whole, from the attempt that won, and nothing else is."""
    assert separation.status == Separation.Status.SUCCEEDED
    for name in (separation.vocals.name, separation.accompaniment.name):
        assert name.startswith(f"separations/{separation.pk}/{separation.attempts}/")
        assert abs(probe_seconds(name) - seconds) < 0.1
        # Decoding to the end proves the FLAC is whole, not only its header.
        path = default_storage.path(name)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-"],
            check=True,
            capture_output=True,
        )
    folders = set(default_storage.listdir(f"separations/{separation.pk}")[0])
    assert folders == {str(separation.attempts)}, f"stems of lost attempts remain: {folders}"


def ledger(job: Job) -> list[str]:
    """Return the kinds of the credit entries of a job, oldest first."""
    return list(
        CreditEntry.objects.filter(job_id=job.pk)
        .order_by("created_at")
        .values_list("kind", flat=True)
    )
