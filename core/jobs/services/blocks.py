"""Audio removed after a copyright notice: blocked by content hash and by video link key.

The intake (submission) refuses a blocked hash and the link services a blocked video, each with
the catalogue's `blocked` code (451). `block_source` removes the audio's files everywhere (every
job on every site that shares its separations, through the retention services) and tells the
other apps (the bot's publications) through `signals.source_blocked`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q

from core.jobs import signals
from core.jobs.models import AudioSource, Block, Job, RemoteMedia, Separation
from core.jobs.services import lifecycle, retention
from shared_separation.links.canonical import identify

logger = logging.getLogger(__name__)

BLOCKED_MESSAGE = (
    "This song was removed after a copyright notice and cannot be separated here. "
    "Choose another song."
)


class Blocked(Exception):
    """The audio (or the video a link names) is blocked."""

    def __init__(self, message: str = BLOCKED_MESSAGE) -> None:
        super().__init__(message)
        self.message = message


def hash_blocked(sha256: str) -> bool:
    """Return whether audio with this content hash is blocked."""
    return bool(sha256) and Block.objects.filter(sha256=sha256).exists()


def media_blocked(extractor: str, media_id: str) -> bool:
    """Return whether the video with this link key is blocked."""
    return bool(media_id) and Block.objects.filter(extractor=extractor, media_id=media_id).exists()


def check_hash(sha256: str) -> None:
    """Raise Blocked when audio with this content hash may not come in."""
    if hash_blocked(sha256):
        raise Blocked()


def check_media(extractor: str, media_id: str) -> None:
    """Raise Blocked when the video with this link key may not come in."""
    if media_blocked(extractor, media_id):
        raise Blocked()


def _block(reason: str, **key: str) -> bool:
    """Add one block; False when it was there already."""
    try:
        with transaction.atomic():
            _, created = Block.objects.get_or_create(**key, defaults={"reason": reason[:255]})
    except IntegrityError:  # blocked by someone else at the same moment
        return False
    return created


@dataclass
class Removal:
    """What blocking an audio did."""

    sources: list[uuid.UUID] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    cancelled_jobs: int = 0
    expired_separations: int = 0


def related_sources(source: AudioSource) -> list[AudioSource]:
    """Return the source with its previews' cuts, or with the whole song it is a cut of."""
    cut_ids = Job.objects.filter(full_source=source).values("separation__source")
    whole_ids = Job.objects.filter(separation__source=source, full_source__isnull=False).values(
        "full_source"
    )
    return list(
        AudioSource.objects.filter(Q(pk=source.pk) | Q(pk__in=cut_ids) | Q(pk__in=whole_ids))
    )


def block_source(source_id: uuid.UUID | str, *, reason: str) -> Removal:
    """Block an audio (its hash and its videos' link keys) and remove its files everywhere.

    Active jobs of its separations are cancelled (their credits released); every finished
    separation is expired at once, whatever its retention, so every job on every site that
    shares it loses its files; the bytes of the source go too.
    """
    source = AudioSource.objects.get(pk=source_id)
    removal = Removal()
    for related in related_sources(source):
        removal.sources.append(related.pk)
        removal.hashes.append(related.sha256)
        _block(reason, sha256=related.sha256)
        for media in RemoteMedia.objects.filter(source=related):
            _block(reason, extractor=media.extractor, media_id=media.media_id)
            removal.media.append(str(media))
        active = Job.objects.filter(
            separation__source=related, status__in=Job.ACTIVE_STATUSES
        ).values_list("pk", flat=True)
        removal.cancelled_jobs += sum(lifecycle.cancel_job(job_id) for job_id in list(active))
        separations = Separation.objects.filter(
            source=related, status__in=Separation.FINISHED_STATUSES
        ).values_list("pk", flat=True)
        removal.expired_separations += sum(
            retention.expire_separation(pk, force=True) for pk in list(separations)
        )
        retention.delete_source_file(related.pk)
    transaction.on_commit(
        lambda: signals.source_blocked.send_robust(
            sender=AudioSource, source_ids=list(removal.sources)
        )
    )
    logger.info(
        "source %s blocked: %d source(s), %d job(s) cancelled, %d separation(s) expired",
        source_id,
        len(removal.sources),
        removal.cancelled_jobs,
        removal.expired_separations,
    )
    return removal


def block_media(extractor: str, media_id: str, *, reason: str) -> Removal:
    """Block a video by its link key; remove its stored audio when it was fetched."""
    _block(reason, extractor=extractor, media_id=media_id)
    media = RemoteMedia.objects.filter(extractor=extractor, media_id=media_id).first()
    if media is not None and media.source_id is not None:
        removal = block_source(media.source_id, reason=reason)
    else:
        removal = Removal()
    if f"{extractor}:{media_id}" not in removal.media:
        removal.media.append(f"{extractor}:{media_id}")
    return removal


def block_link(url: str, *, reason: str) -> Removal | None:
    """Block the video a link names (in any of its URL forms); None: the link names no video."""
    key = identify(url)
    if key is None:
        return None
    return block_media(key.extractor, key.media_id, reason=reason)
