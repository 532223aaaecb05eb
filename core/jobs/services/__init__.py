"""Every change of state of a job, a separation or a link import happens here, in a transaction.

One package, one module per concern; callers use `from core.jobs import services` and the names
re-exported below.
"""

from __future__ import annotations

from core.jobs.services.lifecycle import (
    Claim,
    cancel_job,
    claim_separation,
    complete_separation,
    fail_separation,
    prepare_deliveries,
    record_progress,
    release_separation,
)
from core.jobs.services.links import (
    claim_link,
    complete_link,
    enqueue_link,
    fail_for,
    fail_link,
    follow_known,
    job_from_audio,
    lease_media,
    max_link_bytes,
    media_failed,
    media_fetched,
    media_for,
    media_for_url,
    ready_source,
    release_media,
    submit_link,
    wait_for_media,
)
from core.jobs.services.names import (
    LIGHT_QUEUE,
    LINK_TASK,
    LINK_TASK_MARGIN,
    PREPARE_TASK,
    PRIORITY_QUEUE,
    QUEUE,
    SEPARATE_TASK,
)
from core.jobs.services.preview import submit_preview, submit_whole, whole_song
from core.jobs.services.recovery import SweepReport, sweep_stuck
from core.jobs.services.retention import delete_job, expire_separation
from core.jobs.services.submission import (
    JobUnavailable,
    Submission,
    derive_job,
    enqueue,
    hash_file,
    submit,
    time_limits,
)

__all__ = [
    "LIGHT_QUEUE",
    "LINK_TASK",
    "LINK_TASK_MARGIN",
    "PREPARE_TASK",
    "PRIORITY_QUEUE",
    "QUEUE",
    "SEPARATE_TASK",
    "Claim",
    "JobUnavailable",
    "Submission",
    "SweepReport",
    "cancel_job",
    "claim_link",
    "claim_separation",
    "complete_link",
    "complete_separation",
    "delete_job",
    "derive_job",
    "enqueue",
    "enqueue_link",
    "expire_separation",
    "fail_for",
    "fail_link",
    "fail_separation",
    "follow_known",
    "hash_file",
    "job_from_audio",
    "lease_media",
    "max_link_bytes",
    "media_failed",
    "media_fetched",
    "media_for",
    "media_for_url",
    "prepare_deliveries",
    "ready_source",
    "record_progress",
    "release_media",
    "release_separation",
    "submit",
    "submit_link",
    "submit_preview",
    "submit_whole",
    "sweep_stuck",
    "time_limits",
    "wait_for_media",
    "whole_song",
]
