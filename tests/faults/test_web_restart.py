"""The web server is killed and restarted while uploads are in flight: nothing half-stored."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from django.conf import settings

from core.jobs.models import AudioSource, Job
from tests.audio import make_song
from tests.conftest import ROOT, worker_env
from tests.faults.conftest import RedisServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOST = "vocals-remover.localhost"


class WebServer:
    """gunicorn with the deploy configuration, as the web role runs it."""

    def __init__(self, tmp: Path, uploads_tmp: Path, redis_port: int) -> None:
        self.port = free_port()
        self.tmp = tmp
        # Django's TemporaryFileUploadHandler writes uploads over 2 MB here (FILE_UPLOAD_TEMP_DIR).
        self.env = worker_env(
            STEMSPLIT_TEST_REDIS_PORT=str(redis_port),
            FILE_UPLOAD_TEMP_DIR=str(uploads_tmp),
            TMPDIR=str(uploads_tmp),
            WEB_BIND=f"127.0.0.1:{self.port}",
            WEB_WORKERS="1",
            WEB_THREADS="4",
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.tmp / "web.log").open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "core.wsgi:application",
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError):
                # Answering is enough (healthz may say 503: this test runs no storage checks).
                if _request(self.port, _get("/healthz")).startswith(b"HTTP/1.1 "):
                    return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"the web server did not start:\n{self.log()[-3000:]}")
            time.sleep(0.3)

    def kill(self) -> None:
        """Kill the master and its workers at once, as a crash or an OOM kill does."""
        assert self.proc is not None
        master = psutil.Process(self.proc.pid)
        for process in [master, *master.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def log(self) -> str:
        return (self.tmp / "web.log").read_text(errors="replace")


def _get(path: str, cookie: str = "") -> bytes:
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}Connection: close\r\n\r\n".encode()


def _request(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def web(
    tmp_path: Path, django_db_setup: None, broker: RedisServer
) -> Iterator[tuple[WebServer, Path]]:
    """The web server, with a broker to queue the jobs it takes; and its temporary folder."""
    uploads_tmp = tmp_path / "upload-tmp"
    uploads_tmp.mkdir()
    server = WebServer(tmp_path, uploads_tmp, broker.port)
    server.start()
    try:
        yield server, uploads_tmp
    finally:
        server.stop()


def _upload_head(port: int, body_length: int) -> tuple[socket.socket, bytes, bytes]:
    """Open an upload: fetch the form's CSRF token, send the request head; return the tail."""
    page = _request(port, _get("/"))
    cookie = re.search(rb"csrftoken=([^;]+)", page)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert cookie and token, page[:2000]
    boundary = b"----faultsuiteboundary"
    head = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        + token.group(1)
        + b"\r\n--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="song.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n"
    )
    tail = b"\r\n--" + boundary + b"--\r\n"
    request = (
        b"POST / HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\n"
        b"Cookie: csrftoken=" + cookie.group(1) + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"
        b"Content-Length: " + str(len(head) + body_length + len(tail)).encode() + b"\r\n"
        b"Accept: application/json\r\n\r\n"
    )
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(request + head)
    return sock, head, tail


def test_uploads_in_flight_when_the_web_server_dies_leave_nothing_half_stored(
    web: tuple[WebServer, Path], tmp_path: Path
) -> None:
    server, uploads_tmp = web
    # A WAV of 25 s (about 4.4 MB): over FILE_UPLOAD_MAX_MEMORY_SIZE, so it streams to disk.
    audio = make_song(tmp_path / "song.wav", 25).read_bytes()
    media_before = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}

    # Two uploads, each half sent, then slowed to a trickle, as from a slow phone.
    in_flight = []
    for _ in range(2):
        sock, _head, _tail = _upload_head(server.port, len(audio))
        sock.sendall(audio[: len(audio) // 2])
        in_flight.append(sock)
    deadline = time.monotonic() + 30
    while len(list(uploads_tmp.glob("*.upload*"))) < 2:
        assert time.monotonic() < deadline, "the uploads never reached the temporary folder"
        time.sleep(0.1)

    server.kill()
    for sock in in_flight:
        # The client learns the upload failed: the connection is closed or reset, no answer.
        with sock, contextlib.suppress(ConnectionResetError, BrokenPipeError):
            with contextlib.suppress(OSError):
                sock.sendall(audio[len(audio) // 2 :])
            assert sock.recv(65536) == b""
    server.start()

    # Nothing of the cut uploads was stored: no source, no job, no file in storage.
    assert AudioSource.objects.count() == 0 and Job.objects.count() == 0
    media_after = {p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()}
    assert media_after == media_before
    # A killed process cannot delete its own temporary files: those of the two cut uploads are
    # all that may remain (an operator's tmp cleaner removes them); the restarted server adds none.
    leftovers = sorted(p.name for p in uploads_tmp.iterdir())
    assert len(leftovers) <= 2 and all(".upload" in name for name in leftovers), leftovers

    # The restarted server takes a whole upload and cleans up after it.
    sock, _head, tail = _upload_head(server.port, len(audio))
    with sock:
        sock.sendall(audio + tail)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b'"redirect"' in answer:
                break
    assert answer.startswith(b"HTTP/1.1 201"), answer[:500]
    assert Job.objects.count() == 1 and AudioSource.objects.count() == 1
    # Django deletes the upload's temporary file when the request ends, after the answer.
    deadline = time.monotonic() + 10
    while sorted(p.name for p in uploads_tmp.iterdir()) != leftovers:
        assert time.monotonic() < deadline, sorted(p.name for p in uploads_tmp.iterdir())
        time.sleep(0.1)
