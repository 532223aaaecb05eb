"""Expiry and deletion of separations and jobs, with their stored files."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.billing import services as billing
from core.jobs import deliveries, selectors
from core.jobs.models import AudioSource, Job, Separation

logger = logging.getLogger(__name__)


def _delete_files(names: list[str], separations: list[uuid.UUID]) -> None:
    """Delete stored files and the cached deliveries of separations (after the commit)."""
    for name in names:
        if name:
            default_storage.delete(name)
    for separation_id in separations:
        deliveries.delete_folder(separation_id)


def expire_separation(
    separation_id: uuid.UUID | str, *, now: datetime | None = None, force: bool = False
) -> bool:
    """Expire a finished separation whose retention time is over, and delete its files.

    Its succeeded jobs become expired (failed ones keep their reason); the upload goes too when
    no live separation still needs it. Files are deleted once the change is committed. `force`
    expires it whatever its retention (a copyright notice acted upon: services.blocks).
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
        if not force and (expires_at is None or expires_at > now):
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
        names += _unused_whole_songs(separation)
        ids = [separation.pk]
        transaction.on_commit(lambda: _delete_files(names, ids))
    logger.info("separation %s expired; its files are deleted", separation_id)
    return True


def _unused_whole_songs(separation: Separation) -> list[str]:
    """Clear the whole songs kept for this separation's previews that nothing else needs.

    A whole song stays while one of its own separations is live (someone paid for it).
    """
    full_ids = Job.objects.filter(separation=separation, preview=True).values("full_source")
    unused = AudioSource.objects.filter(pk__in=full_ids).exclude(file="")
    unused = unused.exclude(separations__status__in=Separation.LIVE_STATUSES).exclude(
        preview_jobs__separation__status__in=Separation.LIVE_STATUSES
    )
    names = list(unused.values_list("file", flat=True))
    AudioSource.objects.filter(pk__in=[*unused.values_list("pk", flat=True)]).update(file="")
    return names


def _delete_orphan_whole_song(source_id: uuid.UUID) -> None:
    """Delete a preview's whole song once no job and no separation refers to it."""
    orphan = AudioSource.objects.filter(pk=source_id, separations=None, preview_jobs=None).first()
    if orphan is not None:
        name = orphan.file.name
        orphan.delete()
        transaction.on_commit(lambda: _delete_files([name], []))


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
        full_id = job.full_source_id
        job.delete()
        if full_id is not None:
            _delete_orphan_whole_song(full_id)
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


def delete_source_file(source_id: uuid.UUID | str) -> bool:
    """Delete a source's stored bytes (the row stays, so its hash is still known)."""
    with transaction.atomic():
        source = AudioSource.objects.select_for_update().filter(pk=source_id).first()
        if source is None or not source.file:
            return False
        name = source.file.name
        AudioSource.objects.filter(pk=source.pk).update(file="")
        transaction.on_commit(lambda: _delete_files([name], []))
    logger.info("source %s: its stored file is deleted", source_id)
    return True
