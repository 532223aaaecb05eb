"""Free previews: the first seconds of a song longer than the visitor's plan, separated alone.

The whole upload is stored as its own AudioSource, as any upload; its first PREVIEW_SECONDS are
cut (ffmpeg, lossless FLAC, bit-exact) into a second AudioSource, hashed like any other, and the
preview job is an ordinary job on that source's separation: shared, followed, downloaded and
expired like the others, and it can never hold more than the cut. It moves no credits.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import transaction

from core.jobs import media
from core.jobs.media import ErrorCode, SeparationError
from core.jobs.models import AudioSource, Job
from core.jobs.services import blocks
from core.jobs.services.submission import Submission, _store_source, hash_file, submit

logger = logging.getLogger(__name__)

PREVIEW_NAME = "preview.flac"
# ffprobe's length of the FLAC cut may exceed the cut by less than one frame.
_PROBE_SLACK_S = 0.05


def _cut(content: File, folder: Path) -> tuple[Path, float]:
    """Write the first PREVIEW_SECONDS of `content` under `folder`; return the file and length."""
    cut = folder / PREVIEW_NAME
    seconds = float(settings.PREVIEW_SECONDS)
    with media.local_path(content) as whole:
        media.excerpt(whole, cut, seconds)
    duration = media.probe(cut).duration
    if duration <= 0 or duration > seconds + _PROBE_SLACK_S:
        # ffmpeg stops at the limit; anything else is a bug, never a longer free preview.
        raise SeparationError(
            ErrorCode.ENCODE_FAILED, f"The preview came out {duration:.2f} s long."
        )
    return cut, duration


def submit_preview(content: File, submission: Submission, *, owner: User | None = None) -> Job:
    """Store a too-long song whole and queue the free separation of its first seconds.

    `submission.duration` is the whole song's probed length. Raises SeparationError when the
    cut cannot be made (nothing is stored then), blocks.Blocked for a blocked song.
    """
    sha256 = hash_file(content)
    blocks.check_hash(sha256)  # the whole song: its cut has a hash of its own
    with tempfile.TemporaryDirectory(prefix="preview-") as tmp:
        cut, duration = _cut(content, Path(tmp))
        with transaction.atomic():
            full = _store_source(content, sha256, submission)
            with cut.open("rb") as fh:
                job = submit(
                    File(fh, name=PREVIEW_NAME),
                    replace(submission, duration=duration, priority=False),
                    owner=owner,
                    full_source=full,
                )
    logger.info("job %s is a preview of source %s (%.0f s)", job.pk, full.pk, full.duration or 0)
    return job


def submit_whole(preview: Job, *, owner: User | None) -> Job:
    """Submit the whole song of a preview job as an ordinary (paid) job of `owner`.

    Asking again (a double click, a reloaded form) returns the job already made for `owner`
    instead of charging twice. Raises billing.InsufficientCredits, and FileNotFoundError when
    the song is gone.
    """
    full = preview.full_source
    if full is None or not full.file:
        raise FileNotFoundError("the whole song of this preview is no longer stored")
    with transaction.atomic():
        # Lock the preview so that two clicks at once queue one job, not two.
        Job.objects.select_for_update().filter(pk=preview.pk).first()
        if owner is not None:
            earlier = (
                Job.objects.filter(
                    owner=owner,
                    separation__source=full,
                    stem=preview.stem,
                    brand=preview.brand,
                    preview=False,
                )
                .exclude(status__in=(Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.EXPIRED))
                .order_by("-created_at")
                .first()
            )
            if earlier is not None:
                return earlier
        return _submit_whole(preview, full, owner)


def _submit_whole(preview: Job, full: AudioSource, owner: User | None) -> Job:
    submission = Submission(
        original_name=preview.original_name,
        stem=preview.stem,
        format=preview.format,
        brand=preview.brand,
        origin=preview.origin,
        duration=full.duration,
        quality=_quality_of(preview),
    )
    with full.file.open("rb") as fh:
        return submit(File(fh, name=full.original_name), submission, owner=owner)


def _quality_of(job: Job) -> str:
    """Return the quality the preview was separated in, so the whole song sounds the same."""
    return str(job.separation.quality)


def whole_song(job: Job) -> AudioSource | None:
    """Return the stored whole song of a preview job, if it still has its bytes."""
    full = job.full_source if job.preview else None
    return full if full is not None and full.file else None
