"""The live stream store against a real redis-server: chunks in order, markers, expiry."""

from __future__ import annotations

import threading
import time
import uuid
from typing import cast

import pytest
import redis
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings

from core.jobs import live_streams


@pytest.fixture
def conn(redis_server: str) -> redis.Redis:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.flushdb()
    return client


def _ttl(conn: redis.Redis, key: str) -> int:
    return int(cast(int, conn.ttl(key)))


def _never_stops() -> bool:
    return True


@pytest.mark.usefixtures("conn")
def test_a_reader_gets_every_chunk_in_order_while_they_are_written() -> None:
    sid = uuid.uuid4()
    writer = live_streams.Writer(sid, 1, "vocals")
    chunks = [bytes([i]) * (1000 + i) for i in range(200)]

    def work() -> None:
        for chunk in chunks:
            writer(chunk)
            time.sleep(0.002)
        writer.end()

    thread = threading.Thread(target=work)
    thread.start()
    ending = live_streams.Ending()
    got = list(live_streams.read(sid, 1, "vocals", alive=_never_stops, ending=ending))
    thread.join()
    assert got == chunks
    assert ending.state == live_streams.DONE
    # Read again later (a job attached afterwards): the same bytes from the start.
    assert list(live_streams.read(sid, 1, "vocals", alive=_never_stops)) == chunks


def test_ended_streams_expire_and_live_ones_are_refreshed(conn: redis.Redis) -> None:
    sid = uuid.uuid4()
    writer = live_streams.Writer(sid, 2, "accompaniment")
    writer(b"abc")
    assert 0 < _ttl(conn, writer.key) <= live_streams.STREAM_TTL_SECONDS
    writer.end()
    assert 0 < _ttl(conn, writer.key) <= live_streams.STREAM_KEEP_SECONDS
    assert 0 < _ttl(conn, writer.key + ":end") <= live_streams.STREAM_KEEP_SECONDS


@pytest.mark.usefixtures("conn")
def test_a_failed_stream_stops_with_its_reason() -> None:
    sid = uuid.uuid4()
    writer = live_streams.Writer(sid, 1, "vocals")
    writer(b"first")
    writer.end("The audio could not be decoded.")
    ending = live_streams.Ending()
    assert list(live_streams.read(sid, 1, "vocals", alive=_never_stops, ending=ending)) == [
        b"first"
    ]
    assert (ending.state, ending.reason) == (live_streams.FAILED, "The audio could not be decoded.")


@pytest.mark.usefixtures("conn")
def test_a_stream_whose_attempt_ended_without_a_marker_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_streams, "CHECK_SECONDS", 0.2)
    sid = uuid.uuid4()
    live_streams.Writer(sid, 1, "vocals")(b"partial")
    asked: list[float] = []

    def gone() -> bool:
        asked.append(time.monotonic())
        return False

    started = time.monotonic()
    ending = live_streams.Ending()
    assert list(live_streams.read(sid, 1, "vocals", alive=gone, ending=ending)) == [b"partial"]
    assert time.monotonic() - started < 5
    assert asked and ending.state == ""


@pytest.mark.usefixtures("conn")
def test_announced_stems_are_the_ones_streamed() -> None:
    sid = uuid.uuid4()
    assert live_streams.streamed(sid, 1, "vocals") is None
    live_streams.announce(sid, 1, ["accompaniment"])
    assert live_streams.streamed(sid, 1, "accompaniment") is True
    assert live_streams.streamed(sid, 1, "vocals") is False
    live_streams.announce(sid, 2, [])
    assert live_streams.streamed(sid, 2, "vocals") is False


def test_a_writer_whose_redis_fails_gives_up_quietly(settings: Settings) -> None:
    live_streams.connection.cache_clear()
    settings.LIVE_STREAMS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        writer = live_streams.Writer(uuid.uuid4(), 1, "vocals")
        writer(b"lost")
        assert writer.broken
        writer(b"ignored")  # no second attempt, no exception
        writer.end()
    finally:
        live_streams.connection.cache_clear()
