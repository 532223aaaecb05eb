"""What the steps share: what a step achieved, what API calls go through, local files."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage

from youtube_bot import youtube as yt


class Step(StrEnum):
    """What one call of `advance` achieved."""

    ADVANCED = "advanced"  # a step was taken; call again for the next
    WAITING = "waiting"  # the separation is not done yet
    DONE = "done"  # nothing more to do (uploaded, or rendered in a dry run)
    PARKED = "parked"  # out of quota until `retry_at`
    BLOCKED = "blocked"  # the channel needs authorization
    RETRY = "retry"  # a transient failure; try again after `delay`
    BUSY = "busy"  # another worker holds the publication
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """The result of one step."""

    step: Step
    detail: str = ""
    delay: float = 0.0


@dataclass
class Runtime:
    """What the upload step talks through; tests swap in a mock transport and no sleeping."""

    http: Any | None = None
    sleep: Callable[[float], None] | None = None
    rand: Callable[[], float] | None = None

    def backoff(self) -> yt.Backoff:
        """Return the retry policy from settings."""
        backoff = yt.Backoff(
            max_retries=settings.YOUTUBE_MAX_RETRIES, cap=settings.YOUTUBE_RETRY_MAX_SLEEP
        )
        if self.sleep is not None:
            backoff.sleep = self.sleep
        if self.rand is not None:
            backoff.rand = self.rand
        return backoff


@contextlib.contextmanager
def _local(name: str) -> Iterator[Path]:
    """Yield a local copy of a stored file, for ffmpeg: the storage may be on another host."""
    with tempfile.TemporaryDirectory(prefix="ytbot-") as tmp:
        path = Path(tmp) / Path(name).name
        with default_storage.open(name, "rb") as src, path.open("wb") as dst:
            for chunk in src.chunks():
                dst.write(chunk)
        yield path
