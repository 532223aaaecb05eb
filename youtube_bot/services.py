"""Every change of state of the bot's songs, channels and publications happens here.

A publication moves queued → fetched → separated → rendered → uploading → uploaded, or to
failed with a reason. Each step is taken under a lease (a worker that dies loses it after
YOUTUBE_LEASE_SECONDS) and ends with a conditional update from the state it started in, so two
workers never both take a step. Quota answers park a publication until YouTube's next quota
day; revoked credentials block the channel, not the other channel or the next songs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from core.brands import registry
from core.brands.registry import Brand
from core.jobs import services as jobs
from core.jobs.models import Job
from shared_separation.engine import SeparationError, media
from shared_separation.links import LinkError
from shared_separation.links.configured import import_configured
from youtube_bot import crypto, metadata, quota, render
from youtube_bot import youtube as yt
from youtube_bot.models import Channel, Publication, Song, song_audio_upload_to

logger = logging.getLogger(__name__)
Status = Publication.Status


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


# -- catalogue -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPosition:
    """Where a song stood on a chart on the day the chart was read."""

    chart: str
    region: str
    rank: int
    day: date


def _unique_slug(artist: str, title: str) -> str:
    base = slugify(f"{artist} {title}")[:100] or "song"
    slug, n = base, 1
    while Song.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def add_song(
    *,
    title: str,
    artist: str,
    source_url: str = "",
    audio: File | None = None,
    origin: str = Song.Origin.COMMAND,
    source_video_id: str = "",
    chart: ChartPosition | None = None,
) -> Song:
    """Add a song to the catalogue and queue it on every channel that is not paused."""
    if not source_url and audio is None:
        raise ValueError("a song needs a link or a file")
    with transaction.atomic():
        song = Song(
            title=title.strip()[:200],
            artist=artist.strip()[:200],
            slug=_unique_slug(artist, title),
            source_url=source_url.strip(),
            origin=origin,
            source_video_id=source_video_id,
        )
        if chart is not None:
            song.chart, song.chart_region = chart.chart, chart.region
            song.chart_rank, song.chart_date = chart.rank, chart.day
        if audio is not None:
            song.audio.save(Path(audio.name or "audio").name, audio, save=False)
        song.save()
        queue_song(song)
    logger.info("song %s added (%s)", song.slug, origin)
    return song


def queue_song(song: Song, channels: QuerySet[Channel] | None = None) -> int:
    """Create the song's missing publications on channels; return how many were created."""
    if channels is None:
        channels = Channel.objects.exclude(status=Channel.Status.PAUSED)
    created = 0
    for channel in channels:
        _, new = Publication.objects.get_or_create(song=song, channel=channel)
        created += int(new)
    return created


# -- channels ---------------------------------------------------------------------------------


def store_refresh_token(
    channel: Channel, refresh_token: str, *, youtube_channel_id: str = "", title: str = ""
) -> None:
    """Store a channel's new refresh token, encrypted, and make the channel active."""
    fields: dict[str, Any] = {
        "refresh_token_encrypted": crypto.encrypt(refresh_token),
        "authorized_at": timezone.now(),
        "status": Channel.Status.ACTIVE,
        "error": "",
        "error_at": None,
    }
    if youtube_channel_id:
        fields["youtube_channel_id"] = youtube_channel_id
    if title:
        fields["title"] = title[:100]
    Channel.objects.filter(pk=channel.pk).update(**fields)
    # Publications blocked on this channel's credentials may go on.
    Publication.objects.filter(channel=channel, error_code__in=_AUTH_CODES).exclude(
        status=Status.FAILED
    ).update(error_code="", error_message="")
    channel.refresh_from_db()


def block_channel(channel: Channel, message: str) -> None:
    """Mark the channel as needing authorization, with the reason, until it is authorized."""
    Channel.objects.filter(pk=channel.pk).exclude(status=Channel.Status.PAUSED).update(
        status=Channel.Status.NEEDS_AUTHORIZATION, error=message, error_at=timezone.now()
    )
    channel.refresh_from_db()
    logger.error("channel %s blocked: %s", channel.slug, message)


def brand_of(channel: Channel) -> Brand:
    """Return the channel's brand."""
    brand = registry.get(channel.brand)
    if brand is None:
        raise ValueError(f"channel {channel.slug} names an unknown brand {channel.brand!r}")
    return brand


# -- publications: leases and transitions -----------------------------------------------------

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
        Publication.objects.filter(pk=publication_id, status=Status.FAILED).update(
            status=Status.QUEUED,
            error_code="",
            error_message="",
            job=None,
            parked_until=None,
            attempts=0,
        )
        == 1
    )


# -- the steps -------------------------------------------------------------------------------


@contextlib.contextmanager
def _local(name: str) -> Iterator[Path]:
    """Yield a local copy of a stored file, for ffmpeg: the storage may be on another host."""
    with tempfile.TemporaryDirectory(prefix="ytbot-") as tmp:
        path = Path(tmp) / Path(name).name
        with default_storage.open(name, "rb") as src, path.open("wb") as dst:
            for chunk in src.chunks():
                dst.write(chunk)
        yield path


def _fetch(publication: Publication) -> Outcome:
    """Make sure the song's audio is stored, then submit a job for the channel's stem.

    A video that a visitor (or another channel) already brought is not downloaded again: the
    job is made from its stored audio. The bot fetches under the visitors' rules.
    """
    song = publication.song
    remote = None
    if not song.audio:
        if not song.source_url:
            return fail(publication, "no_source", "The song has neither a link nor a file.")
        try:
            remote = jobs.media_for_url(song.source_url)
        except LinkError as exc:
            return fail(publication, f"link_{exc.code}", f"The song's link: {exc.message}")
        known = jobs.ready_source(remote) if remote is not None else None
        if known is not None:
            with _local(known.file.name) as path:
                return _submit(publication, path, known.duration)
        with tempfile.TemporaryDirectory(prefix="ytbot-fetch-") as tmp:
            try:
                imported = import_configured(
                    remote.url if remote is not None else song.source_url,
                    Path(tmp) / "download",
                    max_duration=settings.YOUTUBE_MAX_DURATION,
                    max_bytes=settings.YOUTUBE_MAX_DOWNLOAD_BYTES,
                )
            except LinkError as exc:
                return fail(
                    publication,
                    f"link_{exc.code}",
                    f"The song's link {song.source_url} could not be fetched: {exc.message}",
                )
            with imported.path.open("rb") as fh:
                name = default_storage.save(
                    song_audio_upload_to(song, imported.path.name), File(fh)
                )
        # The song's other channel may have fetched it meanwhile: keep the first file.
        if Song.objects.filter(pk=song.pk, audio="").update(audio=name) != 1:
            default_storage.delete(name)
        song.refresh_from_db()
    with _local(song.audio.name) as path:
        try:
            info = media.probe(path)
        except SeparationError as exc:
            return fail(publication, "not_audio", f"The song's audio is unusable: {exc}")
        outcome = _submit(publication, path, info.duration)
    if remote is not None and publication.job_id is not None:
        # Later pastes of the same video, by visitors or the bot, attach to this audio.
        job = Job.objects.get(pk=publication.job_id)
        jobs.media_fetched(remote.pk, job, title=song.title, artist=song.artist)
    return outcome


def _submit(publication: Publication, path: Path, duration: float | None) -> Outcome:
    """Submit the job of a publication's stem from a local copy of the song."""
    song, channel = publication.song, publication.channel
    if duration is None or duration > settings.YOUTUBE_MAX_DURATION:
        return fail(
            publication,
            "too_long",
            f"The song lasts {duration or 0:.0f} s, over YOUTUBE_MAX_DURATION.",
        )
    with path.open("rb") as fh:
        job = jobs.submit(
            File(fh, name=path.name),
            jobs.Submission(
                original_name=str(song)[:255],
                stem=channel.stem,
                format=Job.Format.FLAC,
                brand=channel.brand,
                origin=Job.Origin.BOT,
                duration=duration,
            ),
        )
    if not _move(publication, Status.FETCHED, job=job, error_code="", error_message=""):
        return Outcome(Step.BUSY, "the publication changed meanwhile")
    publication.job = job
    return Outcome(Step.ADVANCED, f"job {job.pk}")


def _check_separation(publication: Publication) -> Outcome:
    """Move on once the job's separation has succeeded; fail with it."""
    job = publication.job
    if job is None:
        return fail(publication, "no_job", "The publication lost its job; queue it again.")
    job.refresh_from_db()
    if job.status == Job.Status.SUCCEEDED:
        _move(publication, Status.SEPARATED)
        return Outcome(Step.ADVANCED)
    if job.status in (Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.EXPIRED):
        reason = job.error_message or job.separation.error_message or job.status
        return fail(publication, "separation_failed", f"The separation did not succeed: {reason}")
    return Outcome(Step.WAITING, f"job {job.pk} is {job.status}")


def card_for(song: Song, brand: Brand) -> render.Card:
    """Return what the video's picture shows, in the brand's colours."""
    return render.Card(
        brand=brand.name,
        title=song.title,
        artist=song.artist,
        label=brand.stem_label,
        site=brand.domain,
        background=brand.palette.primary,
        text=brand.palette.on_primary,
        accent=brand.palette.on_primary,
    )


def render_options() -> render.RenderOptions:
    """Return the render settings."""
    return render.RenderOptions(
        font=Path(settings.YOUTUBE_FONT),
        fps=settings.YOUTUBE_RENDER_FPS,
        preset=settings.YOUTUBE_RENDER_PRESET,
        threads=settings.YOUTUBE_RENDER_THREADS,
    )


def _render(publication: Publication) -> Outcome:
    """Render the video and thumbnail of the stem and write the metadata, all to storage."""
    song, channel = publication.song, publication.channel
    brand = brand_of(channel)
    job = publication.job
    if job is None:
        return fail(publication, "no_job", "The publication lost its job; queue it again.")
    stem_file = getattr(job.separation, channel.stem)
    if not stem_file:
        return fail(publication, "no_stem", f"The separation has no {channel.stem} stem.")
    folder = f"youtube/renders/{publication.pk}"
    with _local(stem_file.name) as stem, tempfile.TemporaryDirectory(prefix="ytbot-") as tmp:
        try:
            peak = render.peak_db(stem)
            if peak < settings.YOUTUBE_SILENCE_DB:
                return fail(
                    publication,
                    "silent_stem",
                    f"The {brand.stem_label.lower()} is silent (peak {peak:.0f} dBFS): "
                    "nothing worth posting.",
                )
            video, thumbnail = render.render_all(
                stem, card_for(song, brand), Path(tmp), render_options()
            )
            preview = render.render_preview(stem, Path(tmp) / "preview.mp3")
        except render.RenderError as exc:
            logger.error("render of %s failed: %s\n%s", publication.pk, exc.message, exc.detail)
            return fail(publication, "render_failed", exc.message)
        body = metadata.video_body(song, brand, channel)
        names = {}
        for key, path in (("video", video), ("thumbnail", thumbnail), ("preview", preview)):
            target = f"{folder}/{path.name}"
            default_storage.delete(target)  # a render retried after a crash replaces its files
            with path.open("rb") as fh:
                names[key] = default_storage.save(target, File(fh))
        default_storage.delete(f"{folder}/metadata.json")
        default_storage.save(
            f"{folder}/metadata.json", ContentFile(json.dumps(body, indent=2).encode())
        )
    _move(
        publication,
        Status.RENDERED,
        video=names["video"],
        thumbnail=names["thumbnail"],
        metadata=body,
        rendered_at=timezone.now(),
    )
    return Outcome(Step.ADVANCED)


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


def uploads_today(channel: Channel, now: datetime | None = None) -> int:
    """Return the channel's uploads of this quota day: finished today, or under way."""
    now = now or timezone.now()
    return (
        Publication.objects.filter(channel=channel)
        .filter(
            Q(uploaded_at__gte=quota.day_start(now), uploaded_at__lt=quota.next_reset(now))
            | Q(status=Status.UPLOADING)
        )
        .count()
    )


def uploads_left(channel: Channel, now: datetime | None = None) -> int | None:
    """Return how many more uploads the channel may start today; None when there is no cap."""
    limit = int(settings.YOUTUBE_CHANNEL_DAILY_LIMIT)
    if limit <= 0:
        return None
    return max(0, limit - uploads_today(channel, now))


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
        with _local(publication.video.name) as path:
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


def preview_name(publication: Publication) -> str:
    """Return where the song page's preview of the stem is stored."""
    return f"youtube/renders/{publication.pk}/preview.mp3"


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
            with _local(publication.thumbnail.name) as path:
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


def advance(
    publication_id: uuid.UUID | str,
    *,
    dry_run: bool | None = None,
    runtime: Runtime | None = None,
) -> Outcome:
    """Take the next step of a publication under a lease."""
    dry_run = settings.YOUTUBE_DRY_RUN if dry_run is None else dry_run
    runtime = runtime or Runtime()
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    publication = _claim(publication_id, owner)
    if publication is None:
        if not Publication.objects.filter(pk=publication_id).exists():
            return Outcome(Step.DONE, "no such publication")
        return Outcome(Step.BUSY, "another worker holds the publication")
    try:
        if publication.parked_until and publication.parked_until > timezone.now():
            return Outcome(Step.PARKED, publication.error_message)
        match publication.status:
            case Status.QUEUED:
                return _fetch(publication)
            case Status.FETCHED:
                return _check_separation(publication)
            case Status.SEPARATED:
                return _render(publication)
            case Status.RENDERED | Status.UPLOADING:
                if dry_run:
                    return Outcome(Step.DONE, "dry run: rendered, not uploaded")
                return _upload(publication, runtime, owner)
            case Status.UPLOADED:
                if dry_run or not needs_finishing(publication):
                    return Outcome(Step.DONE, publication.video_id)
                return _finish(publication, runtime)
            case _:
                return Outcome(Step.DONE, publication.status)
    finally:
        _release(publication_id, owner)


def run_publication(
    publication_id: uuid.UUID | str,
    *,
    dry_run: bool | None = None,
    runtime: Runtime | None = None,
    max_steps: int = 10,
) -> Outcome:
    """Advance a publication as far as it goes now (until it waits, parks, fails or is done)."""
    outcome = Outcome(Step.DONE)
    for _ in range(max_steps):
        outcome = advance(publication_id, dry_run=dry_run, runtime=runtime)
        if outcome.step is not Step.ADVANCED:
            break
    return outcome


# Chart songs first, by the latest day a chart was read and their best rank on it; then the
# other songs, oldest first (a song's chart fields stay empty unless a chart import found it).
POPULAR_FIRST = (
    F("song__chart_date").desc(nulls_last=True),
    F("song__chart_rank").asc(nulls_last=True),
    "created_at",
)


def due_publications(now: datetime | None = None) -> list[Publication]:
    """Return what a scheduled run should advance: per channel, the most popular open ones.

    A channel that started its YOUTUBE_CHANNEL_DAILY_LIMIT uploads today is given no rendered
    video to upload, and one whose budget cannot pay for another upload is parked at the upload;
    both are still served up to the render, so the videos are ready when the day turns.
    """
    now = now or timezone.now()
    chosen: list[Publication] = []
    for channel in Channel.objects.exclude(status=Channel.Status.PAUSED):
        rows = (
            Publication.objects.filter(channel=channel)
            .filter(Q(parked_until__isnull=True) | Q(parked_until__lte=now))
            .filter(
                Q(status__in=Publication.OPEN_STATUSES)
                | Q(status=Status.UPLOADED, error_code="", thumbnail_set=False)
                | Q(status=Status.UPLOADED, error_code="", playlist_item_id="")
                & ~Q(channel__playlist_id="")
            )
            .select_related("channel", "song")
            .order_by(*POPULAR_FIRST)
        )
        uploads = None
        if channel.status != Channel.Status.ACTIVE:
            rows = rows.filter(status__in=[Status.QUEUED, Status.FETCHED, Status.SEPARATED])
        else:
            uploads = uploads_left(channel, now)
            if uploads == 0:
                rows = rows.exclude(status=Status.RENDERED)
        picked: list[Publication] = []
        for publication in rows.iterator(chunk_size=100):
            if publication.status == Status.RENDERED and uploads is not None:
                if uploads <= 0:
                    continue  # the more popular rendered videos take today's last uploads
                uploads -= 1
            picked.append(publication)
            if len(picked) >= settings.YOUTUBE_SONGS_PER_RUN:
                break
        chosen.extend(picked)
    return chosen


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


def give_up(publication_id: uuid.UUID | str, reason: str) -> bool:
    """Fail a publication whose transient failures did not clear after every retry."""
    publication = Publication.objects.filter(pk=publication_id).first()
    if publication is None:
        return False
    return (
        fail(publication, "gave_up", f"Gave up after repeated failures: {reason}").step
        is Step.FAILED
    )


def authorize(
    channel: Channel, refresh_token: str, runtime: Runtime | None = None
) -> tuple[str, str]:
    """Store a channel's new refresh token and return the (id, title) of its YouTube channel."""
    store_refresh_token(channel, refresh_token)
    runtime = runtime or Runtime()
    backoff = runtime.backoff()
    try:
        youtube_id, title = yt.own_channel(yt.build_client(channel, runtime.http), backoff)
    except yt.YouTubeError as error:
        if error.kind is yt.Kind.AUTH:
            block_channel(channel, error.message)
        raise
    except Exception as exc:  # classified below; anything unknown is raised again
        raise yt.classify(exc, "Reading the channel") from exc
    Channel.objects.filter(pk=channel.pk).update(youtube_channel_id=youtube_id, title=title[:100])
    channel.refresh_from_db()
    quota.reserve(channel, quota.cost("channels.list"))
    return youtube_id, title


# A bracketed part naming one of these is packaging ("(Official Music Video)", "[4K]"), not
# part of the song's name; credits ("(feat. X)", "(with X)") are kept whatever they name.
_PACKAGING = re.compile(
    r"\b(official|officiel|oficial|video|videoclip|clip|audio|lyrics?|visuali[sz]er|hd|hq|4k|8k"
    r"|mv|m/v)(?!\w)",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\s*(\([^()]*\)|\[[^\[\]]*\]|\u3010[^\u3010\u3011]*\u3011)")
_CREDIT = re.compile(r"^.\s*(feat\.?|ft\.?|featuring|with|prod\.?)\s", re.IGNORECASE)
_TRAILING_PACKAGING = re.compile(r"\s+(hd|hq|4k|mv|m/v)$", re.IGNORECASE)
_QUOTES = {"'": "'", '"': '"', "\u2018": "\u2019", "\u201c": "\u201d"}
_TOPIC = re.compile(r"\s+-\s+Topic$")


def _drop_packaging(match: re.Match[str]) -> str:
    part = match.group(1)
    return match.group(0) if _CREDIT.match(part) or not _PACKAGING.search(part) else ""


def _unquote(text: str) -> str:
    if len(text) > 2 and _QUOTES.get(text[0]) == text[-1]:
        return text[1:-1].strip()
    return text


def split_video_title(video_title: str, owner: str) -> tuple[str, str]:
    """Return (artist, title) from "Artist - Title (Official Video)", else the owner's name."""
    # What follows " | " is packaging too ("| Official Video", an album's name).
    text = video_title.split(" | ", 1)[0]
    while (cleaner := _BRACKETED.sub(_drop_packaging, text)) != text:
        text = cleaner  # again for "(Official Video (HD))"
    text = _TRAILING_PACKAGING.sub("", " ".join(text.split())).strip()
    text = text or " ".join(video_title.split())
    owner = owner.strip()
    owner_artist = re.sub(r"VEVO$", "", _TOPIC.sub("", owner)).strip()
    # A " - Topic" channel is YouTube's own for one artist, and titles its videos with the
    # song's name alone: a dash there is part of the name ("Something - Remastered 2009").
    if not _TOPIC.search(owner):
        for dash in (" - ", " \u2013 ", " \u2014 "):  # hyphen, en dash, em dash
            if dash in text:
                artist, title = (part.strip() for part in text.split(dash, 1))
                if artist and title:
                    return artist, _unquote(title)
    return owner_artist or "Unknown artist", _unquote(text)


def playlist_id_from(value: str) -> str:
    """Return the playlist id of an id or a playlist address."""
    query = parse_qs(urlsplit(value).query)
    return query["list"][0] if "list" in query else value.strip()


def import_playlist(
    channel: Channel, playlist: str, *, limit: int = 50, runtime: Runtime | None = None
) -> list[Song]:
    """Add a playlist's videos to the catalogue, each video once; return the new songs."""
    runtime = runtime or Runtime()
    backoff = runtime.backoff()
    client = yt.build_client(channel, runtime.http)
    playlist_id = playlist_id_from(playlist)
    added: list[Song] = []
    seen = 0
    page: str | None = None
    while seen < limit:
        if not quota.reserve(channel, quota.cost("playlistItems.list")):
            raise yt.YouTubeError(yt.Kind.QUOTA, "quota_budget", "No API budget left today.")
        answer = yt.call(
            client.playlistItems().list(
                part="snippet", playlistId=playlist_id, maxResults=min(50, limit - seen),
                pageToken=page,
            ),
            "Reading the playlist",
            backoff,
        )  # fmt: skip
        for item in answer.get("items", []):
            seen += 1
            snippet = item.get("snippet", {})
            video_id = snippet.get("resourceId", {}).get("videoId", "")
            name = snippet.get("title", "")
            if not video_id or name in ("Deleted video", "Private video"):
                continue
            if Song.objects.filter(source_video_id=video_id).exists():
                continue
            artist, title = split_video_title(name, snippet.get("videoOwnerChannelTitle", ""))
            try:
                added.append(
                    add_song(
                        title=title, artist=artist, origin=Song.Origin.PLAYLIST,
                        source_url=f"https://www.youtube.com/watch?v={video_id}",
                        source_video_id=video_id,
                    )
                )  # fmt: skip
            except IntegrityError:
                continue  # imported meanwhile by another run
        page = answer.get("nextPageToken")
        if not page:
            break
    logger.info("playlist %s: %d new songs", playlist_id, len(added))
    return added
