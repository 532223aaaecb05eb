"""Deliveries: a file many visitors ask for at once is encoded once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings

from core.jobs import deliveries, media
from core.jobs.models import Separation
from tests.factories import finished_job

# Not transactional: nothing is committed, so no worker of the session can take the job.
pytestmark = pytest.mark.django_db


@pytest.fixture
def transcodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Count real transcodes; each lingers a little so that the others arrive meanwhile."""
    calls: list[str] = []
    real = media.transcode

    def counting(src: Path, dest: Path, fmt: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(fmt))
        result = real(src, dest, fmt, *args, **kwargs)
        time.sleep(0.5)
        return result

    monkeypatch.setattr(media, "transcode", counting)
    deliveries._redis.cache_clear()
    yield calls
    deliveries._redis.cache_clear()


def _ask_together(job: Any, count: int, transcodes: list[str]) -> list[str]:
    # Whatever finishing the job already prepared (eager tasks in some test orders) goes first.
    deliveries.delete_folder(job.separation_id)
    transcodes.clear()
    # Loaded here, one per thread as each request has its own: the threads touch no database.
    separations = [Separation.objects.get(pk=job.separation_id) for _ in range(count)]
    barrier = threading.Barrier(count)
    names: list[str] = []
    errors: list[BaseException] = []

    def ask(separation: Separation) -> None:
        barrier.wait()
        try:
            names.append(deliveries.encoded(separation, job.stem, "mp3"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(sep,)) for sep in separations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return names


def test_many_requests_at_once_encode_the_file_once(
    tmp_path: Path, redis_server: str, transcodes: list[str]
) -> None:
    job = finished_job(tmp_path)
    names = _ask_together(job, 8, transcodes)
    assert len(names) == 8 and len(set(names)) == 1
    assert transcodes == ["mp3"]
    with default_storage.open(names[0], "rb") as fh:
        local = tmp_path / "delivered.mp3"
        local.write_bytes(fh.read())
    assert media.probe(local).duration == pytest.approx(3.0, abs=0.1)


def test_without_redis_every_request_still_gets_its_file(
    tmp_path: Path, transcodes: list[str]
) -> None:
    job = finished_job(tmp_path)
    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):  # nothing listens on port 9
        deliveries._redis.cache_clear()
        names = _ask_together(job, 3, transcodes)
    assert len(set(names)) == 1
    assert 1 <= len(transcodes) <= 3  # unlocked: possibly several encodes, never a failure
    assert default_storage.exists(names[0])
