"""Submitting work: store the audio once, attach a job to a live separation, queue it."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from core.billing import plans
from core.billing import services as billing
from core.celery import celery_app
from core.jobs import signals
from core.jobs.media import ENGINE_VERSION
from core.jobs.models import AudioSource, Job, Separation, source_upload_to
from core.jobs.services import blocks
from core.jobs.services.names import (
    PRIORITY_QUEUE,
    QUEUE,
    SEPARATE_TASK,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """What a client asks for."""

    original_name: str
    stem: str
    format: str = Job.Format.MP3
    brand: str = ""
    origin: str = Job.Origin.WEB
    priority: bool = False
    duration: float | None = None
    # "standard" or "high" (Separation.Quality); None: the site's SEPARATION_DEFAULT_QUALITY.
    quality: str | None = None


def hash_file(content: File) -> str:
    """Return the SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    content.seek(0)
    for chunk in content.chunks():
        digest.update(chunk)
    content.seek(0)
    return digest.hexdigest()


def _store_source(content: File, sha256: str, submission: Submission) -> AudioSource:
    existing = AudioSource.objects.filter(sha256=sha256).first()
    if existing is not None:
        if existing.duration is None and submission.duration is not None:
            AudioSource.objects.filter(pk=existing.pk).update(duration=submission.duration)
            existing.duration = submission.duration
        if not existing.file:
            _restore_source_file(existing, content)
        return existing
    source = AudioSource(
        sha256=sha256,
        original_name=submission.original_name[:255],
        size=content.size or 0,
        duration=submission.duration,
    )
    # The bytes are written before the row; if the row loses a race, the same name is reused.
    source.file.save("input", content, save=False)
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError:
        return AudioSource.objects.get(sha256=sha256)
    return source


def _restore_source_file(source: AudioSource, content: File) -> None:
    """Store the bytes of a source again after retention deleted them."""
    name = default_storage.save(source_upload_to(source, "input"), content)
    if AudioSource.objects.filter(pk=source.pk, file="").update(file=name) == 1:
        source.file.name = name
        return
    # Another request restored it first: keep theirs.
    default_storage.delete(name)
    source.refresh_from_db(fields=["file"])


def _credits(sha256: str, submission: Submission) -> int:
    """Return what the audio costs, from its probed length (this upload's or a stored one's)."""
    duration = submission.duration
    if duration is None:
        duration = (
            AudioSource.objects.filter(sha256=sha256).values_list("duration", flat=True).first()
        )
    if duration is None:
        raise ValueError("the audio's length must be known to charge for it")
    return billing.credits_for_duration(duration)


def submit(
    content: File,
    submission: Submission,
    *,
    owner: User | None = None,
    full_source: AudioSource | None = None,
) -> Job:
    """Create a job for an uploaded file, reusing any live separation of the same audio.

    An owner pays: the job's credits are reserved first, in the same transaction, so a visitor
    short of credits gets billing.InsufficientCredits and nothing is stored; a result that is
    already there is charged at once. Anonymous jobs are the free tier and move no credits.
    With `full_source`, `content` is that song's preview (services.preview): free for anyone.
    """
    pays = owner is not None and full_source is None
    quality = Separation.Quality(submission.quality or settings.SEPARATION_DEFAULT_QUALITY)
    sha256 = hash_file(content)
    blocks.check_hash(sha256)  # before anything is reserved or stored
    # The owner's plan at submission decides the queue and how long the files are kept.
    plan = plans.plan_for(owner) if owner is not None else None
    priority = submission.priority or (plan is not None and plan.priority)
    job = Job(
        owner=owner,
        retention=plan.retention if plan is not None else None,
        brand=submission.brand,
        origin=submission.origin,
        stem=submission.stem,
        format=submission.format,
        original_name=submission.original_name[:255],
        preview=full_source is not None,
        full_source=full_source,
    )
    with transaction.atomic():
        if pays:
            billing.reserve(job, _credits(sha256, submission))
        source = _store_source(content, sha256, submission)
        separation, created = _live_separation(source, priority=priority, quality=quality)
        if priority and not created:
            _promote(separation)
        now = timezone.now()
        job.separation = separation
        job.status = _job_status_for(separation)
        job.finished_at = now if job.status == Job.Status.SUCCEEDED else None
        job.save(force_insert=True)
        if pays and job.status == Job.Status.SUCCEEDED:
            # Answered at once from the stored result, and charged like a new separation.
            billing.charge(job)
        if job.status == Job.Status.SUCCEEDED:
            finished = [job.pk]
            transaction.on_commit(
                lambda: signals.jobs_finished.send_robust(sender=Job, job_ids=finished)
            )
        if created:
            transaction.on_commit(lambda: enqueue(separation))
    logger.info(
        "job %s submitted: separation %s (%s)",
        job.pk,
        separation.pk,
        "new" if created else separation.status,
    )
    return job


def _promote(separation: Separation) -> None:
    """Move a song still waiting in the normal queue to the priority queue, for a payer.

    Its first message stays in the normal queue: whichever a worker takes first claims the
    separation, and the other then finds nothing to claim (extra messages are harmless).
    """
    promoted = Separation.objects.filter(
        pk=separation.pk, status=Separation.Status.QUEUED, priority=False
    ).update(priority=True)
    if promoted:
        separation.priority = True
        transaction.on_commit(lambda: enqueue(separation))
        logger.info("separation %s moved to the priority queue", separation.pk)


def _job_status_for(separation: Separation) -> Job.Status:
    """Return the status a new job on this live separation starts in."""
    return {
        Separation.Status.QUEUED: Job.Status.QUEUED,
        Separation.Status.RUNNING: Job.Status.RUNNING,
        Separation.Status.SUCCEEDED: Job.Status.SUCCEEDED,
    }[Separation.Status(separation.status)]


class JobUnavailable(Exception):
    """The job's separation is failed, cancelled or expired: nothing can be derived from it."""


def derive_job(job: Job, *, brand: str, stem: str) -> Job:
    """Return the job for another stem of the same audio on another brand, creating it once.

    It points to the same Separation, so the audio is never separated a second time.
    """
    if job.brand == brand and job.stem == stem:
        return job
    origin = Job.objects.filter(pk=job.derived_from_id).first() if job.derived_from_id else None
    if origin is not None and origin.brand == brand and origin.stem == stem:
        return origin  # back from the derived job to the one it came from, not a third job
    with transaction.atomic():
        existing = Job.objects.filter(derived_from=job, brand=brand).first()
        if existing is not None:
            return existing
        separation = Separation.objects.get(pk=job.separation_id)
        if separation.status not in Separation.LIVE_STATUSES:
            raise JobUnavailable(f"separation {separation.pk} is {separation.status}")
        status = _job_status_for(separation)
        try:
            with transaction.atomic():
                derived = Job.objects.create(
                    separation=separation,
                    owner=job.owner,
                    brand=brand,
                    origin=job.origin,
                    stem=stem,
                    format=job.format,
                    original_name=job.original_name,
                    status=status,
                    finished_at=timezone.now() if status == Job.Status.SUCCEEDED else None,
                    derived_from=job,
                    preview=job.preview,
                    full_source_id=job.full_source_id,
                )
        except IntegrityError:
            # The same link was followed twice at once: both get the one job.
            return Job.objects.get(derived_from=job, brand=brand)
    logger.info("job %s derived from job %s for %s (%s)", derived.pk, job.pk, brand, stem)
    return derived


def _live_separation(
    source: AudioSource, *, priority: bool, quality: Separation.Quality
) -> tuple[Separation, bool]:
    live = Separation.objects.filter(
        source=source,
        engine_version=ENGINE_VERSION,
        quality=quality,
        status__in=Separation.LIVE_STATUSES,
    )
    separation = live.first()
    if separation is not None:
        return separation, False
    try:
        with transaction.atomic():
            return (
                Separation.objects.create(
                    source=source, engine_version=ENGINE_VERSION, quality=quality, priority=priority
                ),
                True,
            )
    except IntegrityError:
        # Another request created it between our read and our insert: follow that one.
        return live.get(), False


def time_limits(duration: float | None) -> tuple[int, int]:
    """Return (soft, hard) seconds a separation of this length may run."""
    seconds = duration if duration is not None else settings.SEPARATION_MAX_DURATION
    soft = settings.SEPARATION_TIME_MARGIN + settings.SEPARATION_SECONDS_PER_AUDIO_MINUTE * (
        seconds / 60.0
    )
    return int(soft), int(soft) + 60


def enqueue(separation: Separation) -> bool:
    """Send the separation to the pool; its time limits follow the song's length.

    The database is the record: when the broker cannot take the message, the separation stays
    queued and is marked due, so the sweep sends it as soon as the broker answers again, and
    the visitor still gets the job's page instead of an error.
    """
    soft, hard = time_limits(separation.source.duration)
    try:
        celery_app.send_task(
            SEPARATE_TASK,
            args=[str(separation.pk)],
            queue=PRIORITY_QUEUE if separation.priority else QUEUE,
            soft_time_limit=soft,
            time_limit=hard,
        )
    except (KombuOperationalError, RedisError, OSError):
        logger.warning("broker unreachable: separation %s left for the sweep", separation.pk)
        due = timezone.now() - timedelta(seconds=settings.SEPARATION_REQUEUE_AFTER + 1)
        Separation.objects.filter(pk=separation.pk, status=Separation.Status.QUEUED).update(
            heartbeat_at=due
        )
        return False
    return True
