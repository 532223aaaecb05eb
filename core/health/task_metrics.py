"""Every Celery task's duration, failures and retries, recorded in Redis for /metrics."""

from __future__ import annotations

import time
from typing import Any

from celery.signals import task_failure, task_postrun, task_prerun, task_retry

from core.health import recorder

# Start times by task id, in the process that runs the task (prerun and postrun both fire there).
_started: dict[str, float] = {}


def _name(task: Any) -> str:
    return str(getattr(task, "name", None) or "unknown")


@task_prerun.connect
def _prerun(task_id: str | None = None, **_: Any) -> None:
    """Note when the task began."""
    if task_id:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    """Record how long the task ran, with the state it ended in."""
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        elapsed = time.monotonic() - started
        recorder.record([(recorder.TASK_DURATION, (_name(task), state or "UNKNOWN"), elapsed)])


@task_failure.connect
def _failure(sender: Any = None, **_: Any) -> None:
    """Count a task that raised."""
    recorder.record([(recorder.TASK_FAILURES, (_name(sender),), 1)])


@task_retry.connect
def _retry(sender: Any = None, **_: Any) -> None:
    """Count a task that asked to run again."""
    recorder.record([(recorder.TASK_RETRIES, (_name(sender),), 1)])
