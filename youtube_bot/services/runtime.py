"""What the steps share: what a step achieved, what API calls go through, local files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings

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
