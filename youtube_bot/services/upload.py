"""The steps on YouTube: upload the video once, then set its thumbnail and playlist entry."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.jobs import media
from youtube_bot import metadata, quota
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, Publication
from youtube_bot.services.channels import block_channel, brand_of
from youtube_bot.services.publications import _move, _note, _renew, fail
from youtube_bot.services.runtime import Outcome, Runtime, Step
from youtube_bot.services.schedule import uploads_left

logger = logging.getLogger(__name__)
Status = Publication.Status


def _handle(publication: Publication, error: yt.YouTubeError, now: datetime) -> Outcome:
    """Park, block, retry or fail a publication after an API failure."""
    channel = publication.channel
    if error.kind in (yt.Kind.QUOTA, yt.Kind.AUTH):
        # No session yet means no byte was sent: start over from the budget check next time.
        Publication.objects.filter(
            pk=publication.pk, status=Status.UPLOADING, session_uri=""
        ).update(status=Status.RENDERED)
    if error.kind is yt.Kind.QUOTA:
        until = quota.next_reset(now)
        if error.code != "uploadLimitExceeded":
            quota.exhaust(channel, now)
        _note(publication, error.code, error.message, parked_until=until)
        return Outcome(Step.PARKED, error.message)
    if error.kind is yt.Kind.AUTH:
        block_channel(channel, error.message)
        _note(publication, error.code, f"Channel {channel.slug}: {error.message}")
        return Outcome(Step.BLOCKED, error.message)
    if error.kind is yt.Kind.TRANSIENT:
        Publication.objects.filter(pk=publication.pk).update(
            attempts=F("attempts") + 1, error_code=error.code[:32], error_message=error.message
        )
        return Outcome(Step.RETRY, error.message, delay=60.0)
    return fail(publication, error.code, error.message)


def _park_for_daily_limit(publication: Publication, now: datetime) -> Outcome:
    until = quota.next_reset(now)
    message = (
        f"The channel has started its {settings.YOUTUBE_CHANNEL_DAILY_LIMIT} uploads of today "
        f"(YOUTUBE_CHANNEL_DAILY_LIMIT); waiting until {until:%Y-%m-%d %H:%M %Z}."
    )
    _note(publication, "daily_limit", message, parked_until=until)
    return Outcome(Step.PARKED, message)


def _park_for_quota(publication: Publication, now: datetime) -> Outcome:
    until = quota.next_reset(now)
    message = (
        f"The channel's API budget for today is spent; waiting until {until:%Y-%m-%d %H:%M %Z}."
    )
    _note(publication, "quota_budget", message, parked_until=until)
    return Outcome(Step.PARKED, message)


def _upload(publication: Publication, runtime: Runtime, owner: str) -> Outcome:
    """Upload the rendered video once, resuming a stored session after a crash."""
    channel = publication.channel
    now = timezone.now()
    if channel.status != Channel.Status.ACTIVE:
        reason = channel.error or f"the channel is {channel.get_status_display().lower()}"
        _note(publication, "channel_blocked", f"Channel {channel.slug}: {reason}")
        return Outcome(Step.BLOCKED, reason)
    if publication.status == Status.RENDERED:
        with transaction.atomic():
            # Workers starting uploads on one channel take turns, so two never both take the
            # day's last upload (PostgreSQL locks the row; SQLite runs one writer anyway).
            Channel.objects.select_for_update().get(pk=channel.pk)
            if uploads_left(channel, now) == 0:
                return _park_for_daily_limit(publication, now)
            # Start only with room for the whole upload: insert, thumbnail and playlist.
            needed = quota.cost("videos.insert") + quota.cost("thumbnails.set")
            if channel.playlist_id:
                needed += quota.cost("playlistItems.insert")
            if not quota.reserve(channel, quota.cost("videos.insert"), require=needed, now=now):
                return _park_for_quota(publication, now)
            if not _move(publication, Status.UPLOADING, parked_until=None):
                return Outcome(Step.BUSY, "the publication changed meanwhile")
    backoff = runtime.backoff()
    brand = brand_of(channel)
    body = metadata.video_body(publication.song, brand, channel, now=now)

    def on_session(uri: str) -> None:
        # Before the first byte: a retry after a crash resumes this session.
        Publication.objects.filter(pk=publication.pk).update(session_uri=uri)
        _renew(publication, owner)

    def find_existing() -> str | None:
        if not quota.reserve(channel, quota.cost("playlistItems.list")):
            raise yt.YouTubeError(yt.Kind.QUOTA, "quota_budget", "No budget left to search.")
        playlist = yt.uploads_playlist(client, channel, backoff)
        return yt.find_upload(client, playlist, metadata.marker(publication.song, channel), backoff)

    try:
        client = yt.build_client(channel, runtime.http)
        with media.local_copy(publication.video.name) as path:
            video_id = yt.upload_video(
                client,
                path,
                body,
                session_uri=publication.session_uri,
                on_session=on_session,
                find_existing=find_existing,
                backoff=backoff,
                chunk_size=settings.YOUTUBE_CHUNK_SIZE,
            )
    except yt.YouTubeError as error:
        return _handle(publication, error, now)
    try:
        moved = _move(
            publication,
            Status.UPLOADED,
            video_id=video_id,
            uploaded_at=timezone.now(),
            session_uri="",
            error_code="",
            error_message="",
            parked_until=None,
        )
    except IntegrityError:
        return fail(publication, "duplicate_video", f"Video {video_id} is another song's.")
    if not moved:
        return Outcome(Step.BUSY, "the publication changed meanwhile")
    logger.info("publication %s uploaded as %s", publication.pk, video_id)
    return Outcome(Step.ADVANCED, video_id)


def needs_finishing(publication: Publication) -> bool:
    """Return whether an uploaded video still lacks its thumbnail or playlist entry."""
    if publication.status != Status.UPLOADED or publication.error_code:
        return False
    return not publication.thumbnail_set or bool(
        publication.channel.playlist_id and not publication.playlist_item_id
    )


def _finish(publication: Publication, runtime: Runtime) -> Outcome:
    """Set the thumbnail and add the video to the channel's playlist, each once."""
    channel = publication.channel
    now = timezone.now()
    backoff = runtime.backoff()
    try:
        client = yt.build_client(channel, runtime.http)
        if not publication.thumbnail_set:
            if not quota.reserve(channel, quota.cost("thumbnails.set"), now=now):
                return _park_for_quota(publication, now)
            with media.local_copy(publication.thumbnail.name) as path:
                try:
                    yt.set_thumbnail(client, publication.video_id, path, backoff)
                except yt.YouTubeError as error:
                    if error.kind is not yt.Kind.PERMANENT:
                        raise
                    # E.g. a channel not verified for custom thumbnails: the video stands.
                    _note(publication, "thumbnail_refused", error.message)
                    return Outcome(Step.DONE, error.message)
            Publication.objects.filter(pk=publication.pk).update(thumbnail_set=True)
            publication.thumbnail_set = True
        if channel.playlist_id and not publication.playlist_item_id:
            if not quota.reserve(channel, quota.cost("playlistItems.insert"), now=now):
                return _park_for_quota(publication, now)
            try:
                item = yt.add_to_playlist(
                    client, channel.playlist_id, publication.video_id, backoff
                )
            except yt.YouTubeError as error:
                if error.kind is not yt.Kind.PERMANENT:
                    raise
                _note(publication, "playlist_refused", error.message)
                return Outcome(Step.DONE, error.message)
            Publication.objects.filter(pk=publication.pk).update(playlist_item_id=item)
    except yt.YouTubeError as error:
        outcome = _handle(publication, error, now)
        return outcome
    Publication.objects.filter(pk=publication.pk).update(
        error_code="", error_message="", parked_until=None
    )
    return Outcome(Step.DONE, publication.video_id)
