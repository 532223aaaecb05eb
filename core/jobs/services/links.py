"""Pasted links: submit, claim, complete or fail a link import; one download per video.

A link that names a video (by yt-dlp's own URL matching: shared_separation.links.canonical)
points to its RemoteMedia. The first link to fetch it holds the media's lease; links pasted
meanwhile wait for that fetch, and links pasted after it attach to the stored audio at once.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path, PurePath

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.billing import plans
from core.celery import celery_app
from core.jobs import signals
from core.jobs.models import AudioSource, Job, LinkImport, RemoteMedia
from core.jobs.services import blocks, intake
from core.jobs.services.intake import Order, Refusal
from core.jobs.services.names import (
    LIGHT_QUEUE,
    LINK_TASK,
    LINK_TASK_MARGIN,
)
from shared_separation import errors
from shared_separation.errors import Code
from shared_separation.links import LinkError, check_syntax, check_url, too_long_message
from shared_separation.links.canonical import MediaKey, identify
from shared_separation.links.configured import import_configured

logger = logging.getLogger(__name__)


# Failures that any later paste of the same video would meet too: shared for a while instead of
# fetched again. Not the plan-dependent ones (too long, too large) nor the passing ones.
SHARED_FAILURES = frozenset(
    {"private_address", "unsupported_site", "no_media", "stream_only", "playlist", "live",
     "not_found", "forbidden"}
)  # fmt: skip
SHARED_FAILURE_FOR = timedelta(minutes=10)


def submit_link(
    url: str,
    *,
    stem: str,
    brand: str = "",
    format: str = Job.Format.MP3,
    client: str = "",
    owner: User | None = None,
    quality: str = "",
    origin: str = Job.Origin.WEB,
    enqueue: bool = True,
) -> LinkImport:
    """Check a pasted link and queue its import; raise LinkError before creating anything.

    A video already fetched (in any URL form, by anyone) is not fetched again: the link is
    finished at once from its stored audio, and the returned link has its job. Otherwise only
    http(s) links to public addresses pass (or the LINK_ALLOWED_PRIVATE exceptions of the
    tests); the worker's address guard checks every connection again, redirects included.
    With `enqueue` off the caller fetches it itself (`fetch_link`: the bot, in its own worker).
    """
    url, _, _ = check_syntax(url)
    key = identify(url)
    if key is not None and blocks.media_blocked(key.extractor, key.media_id):
        raise LinkError(Code.BLOCKED, blocks.BLOCKED_MESSAGE)
    media = media_for(key) if key is not None else None
    if media is None or ready_source(media) is None:
        # Checked only for a link that will be fetched: attaching to stored audio opens nothing.
        check_url(key.url if key is not None else url, allow=settings.LINK_ALLOWED_PRIVATE)
    link = LinkImport.objects.create(
        url=url,
        brand=brand,
        stem=stem,
        format=format,
        quality=quality,
        client=client[:64],
        owner=owner,
        media=media,
        origin=origin,
    )
    logger.info("link %s submitted (%s)", link.pk, key or "no video key")
    if media is not None and (claimed := claim_link(link.pk)) is not None:
        if follow_known(claimed):
            link.refresh_from_db()
            return link
        LinkImport.objects.filter(pk=link.pk, status=LinkImport.Status.FETCHING).update(
            status=LinkImport.Status.QUEUED
        )
    if enqueue:
        transaction.on_commit(lambda: enqueue_link(link.pk))
    return link


def media_for_url(url: str) -> RemoteMedia | None:
    """Return the RemoteMedia of the video a link names (None: not a video); LinkError if bad."""
    key = identify(check_syntax(url)[0])
    return media_for(key) if key is not None else None


def media_for(key: MediaKey) -> RemoteMedia:
    """Return the RemoteMedia of a video, creating it on its first paste."""
    media, _ = _get_or_create_media(key)
    return media


def _get_or_create_media(key: MediaKey) -> tuple[RemoteMedia, bool]:
    try:
        with transaction.atomic():
            return RemoteMedia.objects.get_or_create(
                extractor=key.extractor, media_id=key.media_id, defaults={"url": key.url}
            )
    except IntegrityError:  # pasted twice at the same moment: both get the one row
        return RemoteMedia.objects.get(extractor=key.extractor, media_id=key.media_id), False


def ready_source(media: RemoteMedia) -> AudioSource | None:
    """Return the stored audio of a video fetched before, if retention has not deleted it."""
    if media.source_id is None:
        return None
    return AudioSource.objects.filter(pk=media.source_id).exclude(file="").first()


def follow_known(link: LinkImport) -> bool:
    """Finish a claimed link from its video's stored audio or shared failure; False: fetch it."""
    if link.media_id is None:
        return False
    media = RemoteMedia.objects.get(pk=link.media_id)
    source = ready_source(media)
    if source is not None:
        try:
            with source.file.open("rb") as fh:
                job = job_from_audio(
                    link,
                    File(fh, name=_name(media.title, source.original_name)),
                    duration=source.duration,
                    size=source.size,
                )
        except (LinkError, Refusal) as exc:
            fail_for(link.pk, exc)
            return True
        complete_link(link.pk, job)
        logger.info("link %s attached to the stored audio of %s", link.pk, media)
        return True
    recent = timezone.now() - SHARED_FAILURE_FOR
    if media.error_code in SHARED_FAILURES and media.failed_at and media.failed_at > recent:
        fail_link(link.pk, code=media.error_code, message=media.error_message)
        return True
    return False


def _name(title: str, stored: str) -> str:
    # The extension keeps the title whole when the download name drops it.
    return f"{(title or 'song').strip()[:200]}{PurePath(stored).suffix}"


def link_order(link: LinkImport) -> Order:
    """Return what a link asks of its song, under the plan that applies when it is fetched.

    The owner's plan when the link is fetched sets the longest song it may bring; a longer one
    that a higher plan takes comes in too, and only its first seconds are separated. The bot's
    links are the house's: whole songs up to its own limit, no credits.
    """
    house = link.origin == Job.Origin.BOT
    return Order(
        stem=link.stem,
        brand=link.brand,
        format=link.format,
        origin=link.origin,
        owner=link.owner,
        plan=plans.house_plan() if house else plans.plan_for(link.owner),
        quality=link.quality or None,
        previews=not house,
    )


def longest_link(order: Order) -> float:
    """Return the longest song a link may bring under this order."""
    plan = order.plan_of()
    return plans.longest_previewable(plan) if order.previews else plan.max_duration


def job_from_audio(
    link: LinkImport, content: File, *, duration: float | None, size: int | None
) -> Job:
    """Make the link's job from its audio through the intake: whole, or a preview.

    Raises LinkError (too long or too large for every plan) or intake.Refusal (the balance,
    a preview that could not be cut).
    """
    order = link_order(link)
    plan = order.plan_of()
    longest = longest_link(order)
    if duration is None or duration > longest:
        raise LinkError("too_long", too_long_message(duration or 0.0, longest))
    if size is not None and size > max_link_bytes(plan):
        raise LinkError("too_large", "The file behind the link is larger than the limit.")
    examined = intake.judge_length(plan, duration, order)
    return intake.admit(content, content.name or "song", examined, order)


def max_link_bytes(plan: plans.Plan) -> int:
    """Return the largest download a link may bring for this plan."""
    return max(settings.LINK_MAX_BYTES, plan.max_upload_bytes)


def fail_for(link_id: uuid.UUID | str, exc: LinkError | Refusal) -> str:
    """Fail a link with the visitor's words for why its audio could not become a job.

    Return the code stored: a link refused for its balance once fetched is `no_credits`.
    """
    code = str(exc.code)
    if exc.code == Code.INSUFFICIENT_CREDITS:
        code = Code.NO_CREDITS
    fail_link(link_id, code=code, message=exc.message)
    return code


def fetch_link(link_id: uuid.UUID | str) -> str:
    """Fetch a queued link's audio and make its job, or record why not; return the outcome.

    A video fetched before attaches to its stored audio; one that another link is fetching
    now waits for that fetch: each video is downloaded once. The pool's link task runs this;
    the bot runs it in its own worker for its own songs.
    """
    link = claim_link(link_id)
    if link is None:
        return "gone"  # already taken (a redelivered message) or finished
    media = link.media
    if media is not None and blocks.media_blocked(media.extractor, media.media_id):
        # Pasted before a copyright notice blocked the video: never downloaded.
        fail_link(link_id, code=Code.BLOCKED, message=blocks.BLOCKED_MESSAGE)
        return Code.BLOCKED
    if follow_known(link):
        return "attached"
    if link.media_id is not None:
        if not lease_media(link.media_id):
            wait_for_media(link)
            return "waiting"
        if follow_known(link):
            # Another link's fetch ended between the first look and the lease: no second one.
            release_media(link.media_id)
            return "attached"
    url = link.media.url if link.media is not None else link.url
    order = link_order(link)
    try:
        # The download lives only as long as this call: stored by the intake, or deleted.
        with tempfile.TemporaryDirectory(prefix="link-") as tmp:
            audio = import_configured(
                url,
                Path(tmp) / "download",
                max_duration=longest_link(order),
                max_bytes=max_link_bytes(order.plan_of()),
            )
            name = f"{(audio.title or 'song').strip()[:200]}{audio.path.suffix}"
            with audio.path.open("rb") as fh:
                job = job_from_audio(link, File(fh, name=name), duration=audio.duration, size=None)
    except (LinkError, Refusal) as exc:
        # Too long now means too long for every plan (a higher plan's songs come as previews).
        code = fail_for(link_id, exc)
        if link.media_id is not None:
            media_failed(link.media_id, code=code, message=exc.message)
        logger.info("link %s failed: %s (%s)", link_id, exc, code)
        return code
    except SoftTimeLimitExceeded:
        fail_link(link_id, code=Code.TIMEOUT, message="Fetching the link took too long.")
        if link.media_id is not None:
            media_failed(link.media_id, code=Code.TIMEOUT, message="timed out")
        return Code.TIMEOUT
    except Exception:
        logger.exception("link %s stopped on an unexpected error", link_id)
        fail_link(
            link_id,
            code=Code.INTERNAL,
            message="An internal error stopped the import. It has been logged; please try again.",
        )
        if link.media_id is not None:
            media_failed(link.media_id, code=Code.INTERNAL, message="internal error")
        raise
    if link.media_id is not None:
        media_fetched(link.media_id, job, title=audio.title, artist=audio.artist)
    complete_link(link_id, job)
    return "succeeded"


# -- one fetch per video ----------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=int(settings.LINK_TIMEOUT) + LINK_TASK_MARGIN + 30)


def lease_media(media_id: uuid.UUID) -> bool:
    """Take the right to fetch a video; False while another link's fetch holds it."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return RemoteMedia.objects.filter(Q(pk=media_id) & free).update(lease_until=now + _lease()) == 1


def release_media(media_id: uuid.UUID) -> None:
    """Give a video's lease back without having fetched it."""
    RemoteMedia.objects.filter(pk=media_id).update(lease_until=None)


def wait_for_media(link: LinkImport) -> None:
    """Put a claimed link back in the queue until its video's fetch by another link ends.

    The fetching link wakes it when done; should that worker die, the link looks again once
    the lease has run out.
    """
    if link.media_id is None:
        raise ValueError("only a link to a video waits for its fetch")
    LinkImport.objects.filter(pk=link.pk, status=LinkImport.Status.FETCHING).update(
        status=LinkImport.Status.QUEUED
    )
    lease_until = (
        RemoteMedia.objects.filter(pk=link.media_id).values_list("lease_until", flat=True).first()
    )
    now = timezone.now()
    # The fetch may have ended between the lease check and the line above: look again now.
    delay = 0.0 if lease_until is None else max(0.0, (lease_until - now).total_seconds()) + 1
    transaction.on_commit(lambda: enqueue_link(link.pk, countdown=delay))


def media_fetched(media_id: uuid.UUID, job: Job, *, title: str, artist: str) -> None:
    """Record a video's stored audio (the whole song, even for a preview) and wake its waiters."""
    source_id = job.full_source_id or job.separation.source_id
    RemoteMedia.objects.filter(pk=media_id).update(
        source_id=source_id,
        title=title[:255],
        artist=artist[:255],
        lease_until=None,
        fetched_at=timezone.now(),
        error_code="",
        error_message="",
        failed_at=None,
        fetches=F("fetches") + 1,
    )
    _wake(media_id)


def media_failed(media_id: uuid.UUID, *, code: str, message: str) -> None:
    """Give a video's lease back after a failed fetch, keeping why, and wake its waiters."""
    RemoteMedia.objects.filter(pk=media_id).update(
        lease_until=None,
        error_code=code[:32],
        error_message=message,
        failed_at=timezone.now(),
        fetches=F("fetches") + 1,
    )
    _wake(media_id)


def _wake(media_id: uuid.UUID) -> None:
    waiting = list(
        LinkImport.objects.filter(media_id=media_id, status=LinkImport.Status.QUEUED).values_list(
            "pk", flat=True
        )
    )
    for link_id in waiting:
        transaction.on_commit(functools.partial(enqueue_link, link_id))


def enqueue_link(link_id: uuid.UUID | str, *, countdown: float = 0.0) -> None:
    """Send a link import to a light worker, with a hard stop past its fetch timeout."""
    soft = int(settings.LINK_TIMEOUT) + LINK_TASK_MARGIN
    celery_app.send_task(
        LINK_TASK,
        args=[str(link_id)],
        queue=LIGHT_QUEUE,
        soft_time_limit=soft,
        time_limit=soft + 30,
        countdown=countdown or None,
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
    if done == 1:
        _announce(link_id)
    return done == 1


def _announce(link_id: uuid.UUID | str) -> None:
    """Tell receivers (the API's callbacks) that a link import finished, once committed."""
    transaction.on_commit(
        lambda: signals.link_finished.send_robust(sender=LinkImport, link_id=link_id)
    )


def fail_link(link_id: uuid.UUID | str, *, code: str, message: str) -> bool:
    """Mark a queued or fetching link import failed with a reason a visitor can read."""
    failed = LinkImport.objects.filter(pk=link_id, status__in=LinkImport.ACTIVE_STATUSES).update(
        status=LinkImport.Status.FAILED,
        error_code=errors.known(code),
        error_message=message,
        finished_at=timezone.now(),
    )
    if failed == 1:
        _announce(link_id)
    return failed == 1
