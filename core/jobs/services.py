"""Every change of state of a job or a separation happens here, in a transaction."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.billing import services as billing
from core.celery import celery_app
from core.jobs import deliveries, selectors
from core.jobs.models import AudioSource, Job, LinkImport, Separation, source_upload_to
from shared_separation.engine import ENGINE_VERSION
from shared_separation.links import check_url

logger = logging.getLogger(__name__)

SEPARATE_TASK = "shared_separation.separate"
QUEUE = "separation"
PRIORITY_QUEUE = "separation_priority"
LIGHT_QUEUE = "default"
PREPARE_TASK = "jobs.prepare_deliveries"
LINK_TASK = "shared_separation.import_link"
# A fetch may last LINK_TIMEOUT; the task gets this much more for probing and storing.
LINK_TASK_MARGIN = 60


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


def submit(content: File, submission: Submission, *, owner: User | None = None) -> Job:
    """Create a job for an uploaded file, reusing any live separation of the same audio.

    An owner pays: the job's credits are reserved first, in the same transaction, so a visitor
    short of credits gets billing.InsufficientCredits and nothing is stored; a result that is
    already there is charged at once. Anonymous jobs are the free tier and move no credits.
    """
    sha256 = hash_file(content)
    job = Job(
        owner=owner,
        brand=submission.brand,
        origin=submission.origin,
        stem=submission.stem,
        format=submission.format,
        original_name=submission.original_name[:255],
    )
    with transaction.atomic():
        if owner is not None:
            billing.reserve(job, _credits(sha256, submission))
        source = _store_source(content, sha256, submission)
        separation, created = _live_separation(source, priority=submission.priority)
        now = timezone.now()
        job.separation = separation
        job.status = _job_status_for(separation)
        job.finished_at = now if job.status == Job.Status.SUCCEEDED else None
        job.save(force_insert=True)
        if owner is not None and job.status == Job.Status.SUCCEEDED:
            # Answered at once from the stored result, and charged like a new separation.
            billing.charge(job)
        if created:
            transaction.on_commit(lambda: enqueue(separation))
    logger.info(
        "job %s submitted: separation %s (%s)",
        job.pk,
        separation.pk,
        "new" if created else separation.status,
    )
    return job


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
                )
        except IntegrityError:
            # The same link was followed twice at once: both get the one job.
            return Job.objects.get(derived_from=job, brand=brand)
    logger.info("job %s derived from job %s for %s (%s)", derived.pk, job.pk, brand, stem)
    return derived


def _live_separation(source: AudioSource, *, priority: bool) -> tuple[Separation, bool]:
    live = Separation.objects.filter(
        source=source, engine_version=ENGINE_VERSION, status__in=Separation.LIVE_STATUSES
    )
    separation = live.first()
    if separation is not None:
        return separation, False
    try:
        with transaction.atomic():
            return (
                Separation.objects.create(
                    source=source, engine_version=ENGINE_VERSION, priority=priority
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


def enqueue(separation: Separation) -> None:
    """Send the separation to the pool; its time limits follow the song's length."""
    soft, hard = time_limits(separation.source.duration)
    celery_app.send_task(
        SEPARATE_TASK,
        args=[str(separation.pk)],
        queue=PRIORITY_QUEUE if separation.priority else QUEUE,
        soft_time_limit=soft,
        time_limit=hard,
    )


class Claim(StrEnum):
    """What a worker's attempt to claim a separation found."""

    CLAIMED = "claimed"
    BUSY = "busy"  # another worker holds it and its heartbeat is fresh: ask again later
    GONE = "gone"  # finished, failed, cancelled or deleted: nothing to do


def claim_separation(
    separation_id: uuid.UUID | str, worker: str
) -> tuple[Claim, Separation | None]:
    """Take a queued separation, or a running one whose worker stopped beating, for this worker.

    Each claim increments `attempts`; later writes name that attempt, so a worker that lost its
    claim can no longer change the separation.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SEPARATION_STALE_AFTER)
    with transaction.atomic():
        claimed = Separation.objects.filter(
            Q(status=Separation.Status.QUEUED)
            | Q(status=Separation.Status.RUNNING, heartbeat_at__lt=stale),
            pk=separation_id,
        ).update(
            status=Separation.Status.RUNNING,
            worker=worker[:255],
            started_at=now,
            heartbeat_at=now,
            progress=0.0,
            attempts=F("attempts") + 1,
        )
        if claimed == 1:
            Job.objects.filter(separation_id=separation_id, status=Job.Status.QUEUED).update(
                status=Job.Status.RUNNING
            )
    if claimed == 1:
        return Claim.CLAIMED, Separation.objects.select_related("source").get(pk=separation_id)
    running = Separation.objects.filter(pk=separation_id, status=Separation.Status.RUNNING).exists()
    return (Claim.BUSY if running else Claim.GONE), None


def _current(separation_id: uuid.UUID | str, attempt: int | None) -> QuerySet[Separation]:
    rows = Separation.objects.filter(pk=separation_id)
    return rows if attempt is None else rows.filter(attempts=attempt)


def record_progress(
    separation_id: uuid.UUID | str, fraction: float, *, attempt: int | None = None
) -> bool:
    """Store progress and a heartbeat; False when this attempt no longer holds the work."""
    updated = (
        _current(separation_id, attempt)
        .filter(status=Separation.Status.RUNNING)
        .update(progress=max(0.0, min(1.0, fraction)), heartbeat_at=timezone.now())
    )
    return updated == 1


def complete_separation(
    separation_id: uuid.UUID | str,
    *,
    vocals: str,
    accompaniment: str,
    attempt: int | None = None,
) -> bool:
    """Mark a running separation succeeded with its stored stems, and its jobs with it."""
    now = timezone.now()
    with transaction.atomic():
        done = (
            _current(separation_id, attempt)
            .filter(status=Separation.Status.RUNNING)
            .update(
                status=Separation.Status.SUCCEEDED,
                vocals=vocals,
                accompaniment=accompaniment,
                progress=1.0,
                finished_at=now,
                heartbeat_at=now,
                error_code="",
                error_message="",
            )
        )
        if done != 1:
            return False
        Job.objects.filter(separation_id=separation_id, status__in=Job.ACTIVE_STATUSES).update(
            status=Job.Status.SUCCEEDED, finished_at=now
        )
        # Every succeeded job of it, read after the update so none that the update reached is
        # missed; charging is idempotent, so those charged before move nothing.
        billing.charge_jobs(_job_ids(separation_id, Job.Status.SUCCEEDED))
        transaction.on_commit(lambda: prepare_deliveries(separation_id))
    return True


def _job_ids(separation_id: uuid.UUID | str, status: Job.Status) -> list[uuid.UUID]:
    return list(
        Job.objects.filter(separation_id=separation_id, status=status).values_list("pk", flat=True)
    )


def prepare_deliveries(separation_id: uuid.UUID | str) -> None:
    """Ask a light worker to encode the MP3s and waveforms the result pages will ask for."""
    try:
        celery_app.send_task(PREPARE_TASK, args=[str(separation_id)], queue=LIGHT_QUEUE)
    except Exception:
        # Only a head start: the pages encode on demand when this did not happen.
        logger.warning("could not queue deliveries of %s", separation_id, exc_info=True)


def fail_separation(
    separation_id: uuid.UUID | str, *, code: str, message: str, attempt: int | None = None
) -> bool:
    """Mark a queued or running separation failed, and its active jobs with the same reason."""
    now = timezone.now()
    with transaction.atomic():
        failed = (
            _current(separation_id, attempt)
            .filter(status__in=[Separation.Status.QUEUED, Separation.Status.RUNNING])
            .update(
                status=Separation.Status.FAILED,
                error_code=code[:32],
                error_message=message,
                finished_at=now,
            )
        )
        if failed != 1:
            return False
        Job.objects.filter(separation_id=separation_id, status__in=Job.ACTIVE_STATUSES).update(
            status=Job.Status.FAILED, error_code=code[:32], error_message=message, finished_at=now
        )
        billing.release_jobs(_job_ids(separation_id, Job.Status.FAILED))
    return True


def cancel_job(job_id: uuid.UUID | str) -> bool:
    """Cancel an active job; cancel its separation too if nobody else waits for it."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in Job.ACTIVE_STATUSES:
            return False
        Job.objects.filter(pk=job_id).update(status=Job.Status.CANCELLED, finished_at=now)
        billing.release(job.pk)
        others = (
            Job.objects.filter(separation_id=job.separation_id, status__in=Job.ACTIVE_STATUSES)
            .exclude(pk=job_id)
            .exists()
        )
        if not others:
            Separation.objects.filter(
                pk=job.separation_id,
                status__in=[Separation.Status.QUEUED, Separation.Status.RUNNING],
            ).update(status=Separation.Status.CANCELLED, finished_at=now)
    return True


def _delete_files(names: list[str], separations: list[uuid.UUID]) -> None:
    """Delete stored files and the cached deliveries of separations (after the commit)."""
    for name in names:
        if name:
            default_storage.delete(name)
    for separation_id in separations:
        deliveries.delete_folder(separation_id)


def expire_separation(separation_id: uuid.UUID | str, *, now: datetime | None = None) -> bool:
    """Expire a finished separation whose retention time is over, and delete its files.

    Its succeeded jobs become expired (failed ones keep their reason); the upload goes too when
    no live separation still needs it. Files are deleted once the change is committed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        separation = (
            Separation.objects.select_for_update()
            .select_related("source")
            .filter(pk=separation_id, status__in=Separation.FINISHED_STATUSES)
            .first()
        )
        if separation is None:
            return False
        # Checked inside the transaction: a job that just attached keeps the files alive.
        expires_at = selectors.files_expire_at(separation)
        if expires_at is None or expires_at > now:
            return False
        names = [separation.vocals.name, separation.accompaniment.name]
        Separation.objects.filter(pk=separation.pk).update(
            status=Separation.Status.EXPIRED, vocals="", accompaniment=""
        )
        Job.objects.filter(separation=separation, status=Job.Status.SUCCEEDED).update(
            status=Job.Status.EXPIRED
        )
        source = separation.source
        still_needed = Separation.objects.filter(
            source=source, status__in=Separation.LIVE_STATUSES
        ).exists()
        if not still_needed and source.file:
            names.append(source.file.name)
            AudioSource.objects.filter(pk=source.pk).update(file="")
        ids = [separation.pk]
        transaction.on_commit(lambda: _delete_files(names, ids))
    logger.info("separation %s expired; its files are deleted", separation_id)
    return True


def delete_job(job_id: uuid.UUID | str) -> bool:
    """Delete a job; with the last job of a separation, delete the separation and its files.

    A separation still running is simply deleted: its worker then finds nothing to complete and
    discards what it wrote. The upload goes with its last separation.
    """
    with transaction.atomic():
        job = Job.objects.select_related("separation__source").filter(pk=job_id).first()
        if job is None:
            return False
        separation = job.separation
        if job.status in Job.ACTIVE_STATUSES:
            billing.release(job.pk)  # its credits would otherwise stay held for good
        job.delete()
        if Job.objects.filter(separation=separation).exists():
            return True  # others still use the separation and its files
        names = [separation.vocals.name, separation.accompaniment.name]
        ids = [separation.pk]  # taken before delete(), which clears the primary key
        source = separation.source
        separation.delete()
        if not Separation.objects.filter(source=source).exists():
            names.append(source.file.name)
            source.delete()
        transaction.on_commit(lambda: _delete_files(names, ids))
    logger.info("job %s deleted with its files", job_id)
    return True


def submit_link(
    url: str,
    *,
    stem: str,
    brand: str = "",
    format: str = Job.Format.MP3,
    client: str = "",
    owner: User | None = None,
) -> LinkImport:
    """Check a pasted link and queue its import; raise LinkError before creating anything.

    Only http(s) links to public addresses pass (or the LINK_ALLOWED_PRIVATE exceptions of the
    tests); the worker's address guard checks every connection again, redirects included.
    """
    url = check_url(url, allow=settings.LINK_ALLOWED_PRIVATE)
    with transaction.atomic():
        link = LinkImport.objects.create(
            url=url, brand=brand, stem=stem, format=format, client=client[:64], owner=owner
        )
        transaction.on_commit(lambda: enqueue_link(link.pk))
    logger.info("link %s submitted", link.pk)
    return link


def enqueue_link(link_id: uuid.UUID | str) -> None:
    """Send a link import to a light worker, with a hard stop past its fetch timeout."""
    soft = int(settings.LINK_TIMEOUT) + LINK_TASK_MARGIN
    celery_app.send_task(
        LINK_TASK,
        args=[str(link_id)],
        queue=LIGHT_QUEUE,
        soft_time_limit=soft,
        time_limit=soft + 30,
    )


def claim_link(link_id: uuid.UUID | str) -> LinkImport | None:
    """Take a queued link import for fetching; None when another worker took it or it is done."""
    if LinkImport.objects.filter(pk=link_id, status=LinkImport.Status.QUEUED).update(
        status=LinkImport.Status.FETCHING
    ):
        return LinkImport.objects.get(pk=link_id)
    return None


def complete_link(link_id: uuid.UUID | str, job: Job) -> bool:
    """Mark a fetching link import succeeded with the job made of its audio."""
    done = LinkImport.objects.filter(pk=link_id, status=LinkImport.Status.FETCHING).update(
        status=LinkImport.Status.SUCCEEDED, job=job, finished_at=timezone.now()
    )
    return done == 1


def fail_link(link_id: uuid.UUID | str, *, code: str, message: str) -> bool:
    """Mark a queued or fetching link import failed with a reason a visitor can read."""
    failed = LinkImport.objects.filter(pk=link_id, status__in=LinkImport.ACTIVE_STATUSES).update(
        status=LinkImport.Status.FAILED,
        error_code=code[:32],
        error_message=message,
        finished_at=timezone.now(),
    )
    return failed == 1
