"""The steps before YouTube (fetch, separation check, render), and `advance` through them all."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from core.brands.registry import Brand
from core.jobs import media
from core.jobs import services as jobs
from core.jobs.media import SeparationError
from core.jobs.models import Job
from shared_separation.links import LinkError
from shared_separation.links.configured import import_configured
from youtube_bot import metadata, render
from youtube_bot.models import Publication, Song, song_audio_upload_to
from youtube_bot.services.channels import brand_of
from youtube_bot.services.publications import _claim, _move, _release, fail
from youtube_bot.services.runtime import Outcome, Runtime, Step
from youtube_bot.services.upload import _finish, _upload, needs_finishing

logger = logging.getLogger(__name__)
Status = Publication.Status


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
            with media.local_copy(known.file.name) as path:
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
    with media.local_copy(song.audio.name) as path:
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
    with (
        media.local_copy(stem_file.name) as stem,
        tempfile.TemporaryDirectory(prefix="ytbot-") as tmp,
    ):
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


def preview_name(publication: Publication) -> str:
    """Return where the song page's preview of the stem is stored."""
    return f"youtube/renders/{publication.pk}/preview.mp3"


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
