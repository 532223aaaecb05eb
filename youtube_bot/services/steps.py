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

from core.billing import plans
from core.brands.registry import Brand
from core.jobs import media
from core.jobs import services as jobs
from core.jobs.models import Job, LinkImport
from youtube_bot import metadata, render
from youtube_bot.models import Publication, Song
from youtube_bot.services.channels import brand_of
from youtube_bot.services.publications import _claim, _move, _release, fail
from youtube_bot.services.runtime import Outcome, Runtime, Step
from youtube_bot.services.upload import _finish, _upload, needs_finishing

logger = logging.getLogger(__name__)
Status = Publication.Status


def _fetch(publication: Publication) -> Outcome:
    """Bring the song in through the intake and record the job of the channel's stem.

    A song with a link comes as a visitor's pasted link does (the same rules, one download per
    video, shared with visitors), in this worker; a song with a file is examined and admitted
    like an upload. Both under the house plan: whole songs up to the bot's limit, no credits.
    A song that the other channel already brought is not fetched again.
    """
    song, channel = publication.song, publication.channel
    sibling = _sibling_job(publication)
    if sibling is not None:
        return _fetched(publication, sibling)
    if song.audio:
        return _admit_file(publication)
    if not song.source_url:
        return fail(publication, "no_source", "The song has neither a link nor a file.")
    link = publication.link
    if link is None:
        try:
            link = jobs.submit_link(
                song.source_url,
                stem=channel.stem,
                brand=channel.brand,
                format=Job.Format.FLAC,
                origin=Job.Origin.BOT,
                enqueue=False,
            )
        except jobs.LinkError as exc:
            return _link_failed(publication, exc.code, exc.message)
        Publication.objects.filter(pk=publication.pk).update(link=link)
        publication.link = link
    if link.status == LinkImport.Status.QUEUED:
        # The download runs here, in the bot's worker, not on the visitors' link queue.
        jobs.fetch_link(link.pk)
    link.refresh_from_db()
    if link.status == LinkImport.Status.SUCCEEDED and link.job is not None:
        return _fetched(publication, link.job)
    if link.status == LinkImport.Status.FAILED:
        Publication.objects.filter(pk=publication.pk).update(link=None)
        return _link_failed(publication, link.error_code, link.error_message)
    # Another fetch of the same video is under way (a visitor's, or a crashed worker's retry).
    return Outcome(Step.WAITING, f"link {link.pk} is {link.status}")


def _sibling_job(publication: Publication) -> Job | None:
    """Return the job for this channel's stem made from the other channel's fetch, if any."""
    others = Publication.objects.filter(song_id=publication.song_id, job__isnull=False).exclude(
        pk=publication.pk
    )
    for other in others.select_related("job"):
        assert other.job is not None
        try:
            return jobs.derive_job(
                other.job, brand=publication.channel.brand, stem=publication.channel.stem
            )
        except jobs.JobUnavailable:
            continue  # that separation failed or expired: fetch the song again
    return None


def _admit_file(publication: Publication) -> Outcome:
    """Examine and admit the song's stored file, as an upload is."""
    song, channel = publication.song, publication.channel
    order = jobs.Order(
        stem=channel.stem,
        brand=channel.brand,
        format=Job.Format.FLAC,
        origin=Job.Origin.BOT,
        plan=plans.house_plan(),
        previews=False,
    )
    with media.local_copy(song.audio.name) as path, path.open("rb") as fh:
        content = File(fh, name=path.name)
        try:
            job = jobs.admit(content, str(song)[:255], jobs.examine(content, order), order)
        except jobs.Refusal as exc:
            return fail(publication, str(exc.code), f"The song's audio: {exc.message}")
    return _fetched(publication, job)


def _link_failed(publication: Publication, code: str, message: str) -> Outcome:
    url = publication.song.source_url
    return fail(
        publication, f"link_{code}", f"The song's link {url} could not be fetched: {message}"
    )


def _fetched(publication: Publication, job: Job) -> Outcome:
    if not _move(publication, Status.FETCHED, job=job, error_code="", error_message=""):
        return Outcome(Step.BUSY, "the publication changed meanwhile")
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
