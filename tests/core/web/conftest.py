"""Clients for each brand's host."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from tests.factories import finished_job, stored_files

__all__ = ["AE_HOST", "VR_HOST", "finished_job", "stored_files"]

VR_HOST = "vocals-remover.localhost:8000"
AE_HOST = "acapella-extractor.localhost:8000"


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Settings) -> None:
    """Let each test submit freely; the rate limit's own tests set a limit and a Redis."""
    settings.ANON_SUBMISSIONS_PER_HOUR = 0


@pytest.fixture
def vr() -> Client:
    """A visitor of Vocals Remover."""
    return Client(HTTP_HOST=VR_HOST)


@pytest.fixture
def ae() -> Client:
    """A visitor of Acapella Extractor."""
    return Client(HTTP_HOST=AE_HOST)
