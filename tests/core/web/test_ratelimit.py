"""Anonymous clients may submit a set number of songs per hour (counted in a real Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings

from core.http import ratelimit
from core.jobs.models import Job
from tests.audio import make_song
from tests.core.web.conftest import AE_HOST, VR_HOST

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit_of_two(settings: Settings, redis_server: str) -> None:
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    settings.ANON_SUBMISSIONS_PER_HOUR = 2


def _post(client: Client, path: Path) -> _MonkeyPatchedWSGIResponse:
    return client.post("/", {"file": SimpleUploadedFile(path.name, path.read_bytes())})


@pytest.mark.usefixtures("limit_of_two")
def test_a_client_over_its_hourly_quota_gets_429_with_retry_after(tmp_path: Path) -> None:
    songs = [make_song(tmp_path / f"s{i}.mp3", 1.5, seed=i) for i in range(4)]
    vr = Client(HTTP_HOST=VR_HOST, REMOTE_ADDR="203.0.113.7")
    assert _post(vr, songs[0]).status_code == 303
    # The other brand shares the quota: it is one service.
    ae = Client(HTTP_HOST=AE_HOST, REMOTE_ADDR="203.0.113.7")
    assert _post(ae, songs[1]).status_code == 303
    refused = _post(vr, songs[2])
    assert refused.status_code == 429
    assert 3500 <= int(refused["Retry-After"]) <= 3600
    assert "Please try again in 60 minutes" in refused.content.decode()
    assert Job.objects.count() == 2
    # Another client is not affected.
    other = Client(HTTP_HOST=VR_HOST, REMOTE_ADDR="198.51.100.1")
    assert _post(other, songs[3]).status_code == 303


@pytest.mark.usefixtures("limit_of_two")
def test_refused_files_cost_no_quota(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    vr = Client(HTTP_HOST=VR_HOST, REMOTE_ADDR="203.0.113.8")
    for _ in range(3):
        assert _post(vr, junk).status_code == 415
    assert ratelimit.retry_after("203.0.113.8") == 0


def test_without_redis_the_site_serves_without_a_limit(settings: Settings) -> None:
    settings.ANON_SUBMISSIONS_PER_HOUR = 1
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    ratelimit._redis.cache_clear()
    try:
        assert ratelimit.retry_after("203.0.113.9") == 0
        ratelimit.record("203.0.113.9")
    finally:
        ratelimit._redis.cache_clear()


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.7", "", 0, "203.0.113.7"),
        ("10.0.0.1", "1.2.3.4, 203.0.113.7", 1, "203.0.113.7"),
        ("10.0.0.1", "203.0.113.7", 0, "10.0.0.1"),  # no proxy trusted: the header is ignored
        ("2001:db8:1:2:3:4:5:6", "", 0, "2001:db8:1:2::/64"),
    ],
)
def test_the_client_is_its_address_or_ipv6_network(
    remote: str, forwarded: str, proxies: int, expected: str, settings: Settings
) -> None:
    settings.RATE_LIMIT_PROXY_COUNT = proxies
    request = Client().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded).wsgi_request
    assert ratelimit.client_id(request) == expected
