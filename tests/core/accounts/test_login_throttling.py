"""Logins are throttled per account and per address, with counters in Redis and a 429."""

from __future__ import annotations

import pytest
import redis
from allauth.account.models import EmailAddress
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client
from pytest_django.fixtures import Settings

pytestmark = pytest.mark.django_db

HOST = "vocals-remover.localhost:8000"
OTHER_HOST = "acapella-extractor.localhost:8000"
PASSWORD = "a-long-Secret-42"


@pytest.fixture
def redis_cache(settings: Settings, redis_server: str) -> redis.Redis:
    """Use the production cache backend, on the test redis-server, empty."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.REDIS_URL,
            "KEY_PREFIX": "cache",
        }
    }
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.flushdb()
    caches["default"].clear()
    return client


def _user(email: str) -> User:
    user = User.objects.create_user(email, email, PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def _login(email: str, password: str, *, addr: str, host: str = HOST) -> int:
    client = Client(HTTP_HOST=host, REMOTE_ADDR=addr)
    response = client.post("/account/login/", {"login": email, "password": password})
    return response.status_code


def test_an_account_is_locked_after_its_failures_from_any_address(
    redis_cache: redis.Redis, settings: Settings
) -> None:
    _user("ada@example.com")
    limit = settings.LOGIN_FAILURES_PER_ACCOUNT
    # Failures spread over many addresses still count against the one account.
    for i in range(limit):
        assert _login("ada@example.com", "wrong", addr=f"203.0.113.{i + 1}") == 200
    client = Client(HTTP_HOST=OTHER_HOST, REMOTE_ADDR="198.51.100.7")
    response = client.post("/account/login/", {"login": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.LOGIN_FAILURE_WINDOW
    assert b"Too many attempts" in response.content
    assert "_auth_user_id" not in client.session
    # The counters live in Redis, where every web process sees them.
    assert redis_cache.keys("cache:*allauth*")

    # Another account is not affected by the lock.
    _user("grace@example.com")
    assert _login("grace@example.com", PASSWORD, addr="198.51.100.7") == 302


def test_an_address_is_throttled_across_accounts(
    redis_cache: redis.Redis, settings: Settings
) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/300s/ip,50/300s/key"}
    _user("lin@example.com")
    for i in range(3):
        assert _login(f"nobody{i}@example.com", "guess", addr="192.0.2.9") == 200
    # The next attempt from the address is refused, even with a good password...
    assert _login("lin@example.com", PASSWORD, addr="192.0.2.9") == 429
    # ...while the same account logs in from elsewhere.
    assert _login("lin@example.com", PASSWORD, addr="192.0.2.10") == 302


def test_the_address_comes_from_the_proxy_header_only_when_trusted(
    redis_cache: redis.Redis, settings: Settings
) -> None:
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "2/300s/ip,50/300s/key"}
    for i in range(2):
        client = Client(HTTP_HOST=HOST, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"1.2.3.{i}")
        client.post("/account/login/", {"login": "x@example.com", "password": "no"})
    # Without a trusted proxy, a forged X-Forwarded-For does not give a fresh address.
    client = Client(HTTP_HOST=HOST, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="9.9.9.9")
    response = client.post("/account/login/", {"login": "x@example.com", "password": "no"})
    assert response.status_code == 429
