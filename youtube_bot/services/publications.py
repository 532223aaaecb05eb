"""Publications: leases on them, moves between states, failures, requeues, visits."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from youtube_bot.models import Publication, Song
from youtube_bot.services.runtime import Outcome, Step

logger = logging.getLogger(__name__)
Status = Publication.Status

# The codes of a publication held back by its channel's credentials: a new token clears them.
_AUTH_CODES = (
    "invalid_grant",
    "refresh_failed",
    "not_authorized",
    "undecryptable",
    "unauthorized",
    "authError",
    "no_client",
    "channel_blocked",
)


def _claim(publication_id: uuid.UUID | str, owner: str) -> Publication | None:
    """Take the lease on an open publication, or None if another worker holds it."""
    now = timezone.now()
    taken = (
        Publication.objects.filter(pk=publication_id)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=now + timedelta(seconds=settings.YOUTUBE_LEASE_SECONDS), lease_owner=owner
        )
    )
    if taken != 1:
        return None
    return Publication.objects.select_related("song", "channel", "job").get(pk=publication_id)


def _renew(publication: Publication, owner: str) -> None:
    """Extend the lease while a long step (a render, an upload) is still making progress."""
    Publication.objects.filter(pk=publication.pk, lease_owner=owner).update(
        lease_until=timezone.now() + timedelta(seconds=settings.YOUTUBE_LEASE_SECONDS)
    )


def _release(publication_id: uuid.UUID | str, owner: str) -> None:
    Publication.objects.filter(pk=publication_id, lease_owner=owner).update(
        lease_until=None, lease_owner=""
    )


def _move(publication: Publication, to: str, **fields: Any) -> bool:
    """Move the publication from the state it was loaded in; False if it had changed."""
    moved = (
        Publication.objects.filter(pk=publication.pk, status=publication.status).update(
            status=to, **fields
        )
        == 1
    )
    if moved:
        logger.info("publication %s: %s → %s", publication.pk, publication.status, to)
        publication.status = to
        for name, value in fields.items():
            setattr(publication, name, value)
    return moved


def fail(publication: Publication, code: str, message: str) -> Outcome:
    """Mark an open publication failed with a reason the admin shows."""
    moved = (
        Publication.objects.filter(pk=publication.pk, status__in=Publication.OPEN_STATUSES).update(
            status=Status.FAILED, error_code=code[:32], error_message=message, parked_until=None
        )
        == 1
    )
    if moved:
        logger.warning("publication %s failed: %s: %s", publication.pk, code, message)
    return Outcome(Step.FAILED, message)


def _note(publication: Publication, code: str, message: str, **fields: Any) -> None:
    """Record why an open publication is held back, without changing its state."""
    Publication.objects.filter(pk=publication.pk).update(
        error_code=code[:32], error_message=message, **fields
    )


def requeue(publication_id: uuid.UUID | str) -> bool:
    """Send a failed publication back to the start (an admin action after fixing the cause)."""
    return (
        Publication.objects.filter(
            pk=publication_id, status=Status.FAILED, takedown_at__isnull=True
        ).update(
            status=Status.QUEUED,
            error_code="",
            error_message="",
            job=None,
            link=None,
            parked_until=None,
            attempts=0,
        )
        == 1
    )


def give_up(publication_id: uuid.UUID | str, reason: str) -> bool:
    """Fail a publication whose transient failures did not clear after every retry."""
    publication = Publication.objects.filter(pk=publication_id).first()
    if publication is None:
        return False
    return (
        fail(publication, "gave_up", f"Gave up after repeated failures: {reason}").step
        is Step.FAILED
    )


def record_visit(song: Song, params: dict[str, str]) -> bool:
    """Count a visit that came from one of the song's videos (by its tracking parameters)."""
    if params.get("utm_source") != "youtube" or params.get("utm_content") != song.slug:
        return False
    return (
        Publication.objects.filter(
            song=song, channel__slug=params.get("utm_campaign", ""), status=Status.UPLOADED
        ).update(visits=F("visits") + 1, last_visit_at=timezone.now())
        == 1
    )


def _delete_folder(folder: str) -> None:
    """Delete every file stored directly under a folder."""
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")


def _delete_takedown_files(publication_ids: list[uuid.UUID], song_audio: list[str]) -> None:
    """Delete the renders (video, thumbnail, page preview) and the songs' stored audio."""
    for publication_id in publication_ids:
        _delete_folder(f"youtube/renders/{publication_id}")
    for name in song_audio:
        default_storage.delete(name)


def mark_for_takedown(source_ids: list[uuid.UUID]) -> int:
    """Mark the publications of blocked audio for removal from YouTube; fail the open ones.

    A publication is of that audio when its job separated it or its link fetched it. Its
    renders and its song's stored audio are deleted (they hold the audio too); the uploaded
    video stays recorded until it is taken down on YouTube (`takedown_done_at`). Return how
    many were newly marked.
    """
    now = timezone.now()
    rows = Publication.objects.filter(
        Q(job__separation__source__in=source_ids) | Q(link__media__source__in=source_ids)
    ).filter(takedown_at__isnull=True)
    ids = list(rows.values_list("pk", flat=True))
    with transaction.atomic():
        marked = Publication.objects.filter(pk__in=ids, takedown_at__isnull=True).update(
            takedown_at=now, video="", thumbnail=""
        )
        Publication.objects.filter(pk__in=ids, status__in=Publication.OPEN_STATUSES).update(
            status=Status.FAILED,
            error_code="blocked",
            error_message="Removed after a copyright notice.",
            parked_until=None,
        )
        songs = Song.objects.filter(publications__in=ids).exclude(audio="").distinct()
        audio = list(songs.values_list("audio", flat=True))
        Song.objects.filter(pk__in=songs.values("pk")).update(audio="")
        transaction.on_commit(lambda: _delete_takedown_files(ids, audio))
    if marked:
        logger.warning("%d publication(s) marked for takedown after a copyright notice", marked)
    return marked
