"""Fixtures of the multi-host tests: an S3-compatible server, and settings that use a bucket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings

from core.env import env_storages
from tests.integration.s3 import S3Server, s3_env


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """Start moto's S3 server for the session."""
    server = S3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make a fresh bucket the default storage, set as an operator sets it; return its name."""
    bucket = s3_server.new_bucket()
    for name, value in s3_env(s3_server.endpoint, bucket).items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = env_storages(settings.MEDIA_ROOT, url_expiry=settings.DOWNLOAD_URL_EXPIRY)
    return bucket
