"""Tasks a test worker imports (-I): one that succeeds, one that fails naming private data."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)

SECRET_NAME = "Jane Doe - Secret Song.mp3"
SECRET_EMAIL = "jane.doe@example.com"


@shared_task(name="tests.obs.ok")
def ok() -> str:
    """Log a line and succeed."""
    logger.info("the ok task ran")
    return "ok"


@shared_task(name="tests.obs.fail")
def fail() -> None:
    """Fail the way a missing upload would, its path and owner in the message."""
    path = settings.MEDIA_ROOT / "sources" / SECRET_NAME
    raise FileNotFoundError(f"no such file: '{path}' (uploaded by {SECRET_EMAIL})")
