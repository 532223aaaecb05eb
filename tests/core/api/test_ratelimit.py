"""Requests per key per minute, counted in a real Redis: 429 with Retry-After beyond it."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings

from tests.core.api.conftest import Account, assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_a_minute(settings: Settings, redis_server: str) -> None:
    redis.Redis.from_url(django_settings.REDIS_URL).flushdb()
    settings.API_REQUESTS_PER_MINUTE = 3


@pytest.mark.usefixtures("three_a_minute")
def test_a_key_over_its_limit_gets_429_with_retry_after(account: Account, other: Account) -> None:
    for _ in range(3):
        assert account.client.get("/api/v1/account").status_code == 200
    refused = account.client.get("/api/v1/separations")
    body = assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert body["error"]["retry_after"] == int(refused["Retry-After"])
    # Another key (another account) is counted apart.
    assert other.client.get("/api/v1/account").status_code == 200


@pytest.mark.usefixtures("three_a_minute")
def test_requests_without_a_valid_key_cost_no_quota(account: Account) -> None:
    from tests.core.api.conftest import client_for

    prefix = account.key.split(".")[0]
    for _ in range(5):
        assert client_for(f"{prefix}.wrong").get("/api/v1/account").status_code == 401
    assert account.client.get("/api/v1/account").status_code == 200
