"""The one way in: every song (upload, API, link, bot) is examined and admitted here.

In turn: the request's size before its body is read, the format and the number of files, then
per song its size, its probe and length against the plan, preview or whole song, the credits,
and submission. A song that cannot come in raises one `Refusal` with a stable code from the
catalogue (shared_separation.errors), its HTTP status, a message for people and the facts a
client acts on (the limit, the plan that lifts it, the balance). Each surface adds only its own
advice to the message (the pages say what a visitor can do next).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File

from core.billing import plans
from core.billing import selectors as billing_selectors
from core.billing.services import InsufficientCredits, credits_for_duration
from core.humanize import human_duration, human_size
from core.jobs import media
from core.jobs.media import ErrorCode, SeparationError
from core.jobs.models import Job
from core.jobs.services import blocks
from core.jobs.services.preview import submit_preview
from core.jobs.services.submission import Submission, submit
from shared_separation.errors import Code, status_of

logger = logging.getLogger(__name__)

# Multipart framing around the files; a body longer than the limit plus this is refused unread.
UPLOAD_OVERHEAD = 64 * 1024
# Plans from the least to the most generous: a refusal names only a more generous plan.
_RANK = {plans.ANONYMOUS: 0, plans.FREE: 1, plans.PAID: 2, plans.HOUSE: 99}
_EMPTY = "The file is empty. Choose another file."


class Refusal(Exception):
    """A song (or a request) that cannot come in: a stable code, a message, the facts."""

    def __init__(self, code: Code, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.code = Code(code)
        self.message = message
        self.facts = facts

    @property
    def status(self) -> int:
        """Return the HTTP status of this refusal (from the catalogue)."""
        return status_of(self.code)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Order:
    """What a client asks of every song it sends: the stem, the format, who pays, how."""

    stem: str
    brand: str = ""
    format: str = Job.Format.MP3
    origin: str = Job.Origin.WEB
    owner: User | None = None
    # None: the owner's plan (plans.plan_for); the bot brings the house plan.
    plan: plans.Plan | None = None
    # "standard" or "high"; "" or None: the site's SEPARATION_DEFAULT_QUALITY.
    quality: str | None = None
    # A song too long for the plan that a higher plan takes: True separates its first seconds
    # for free (the sites, links); False refuses it naming that plan (the API).
    previews: bool = True
    priority: bool = False

    def plan_of(self) -> plans.Plan:
        """Return the plan whose limits apply."""
        return self.plan or plans.plan_for(self.owner)


@dataclass(frozen=True)
class Examined:
    """A song that passed the plan's limits: its length, and whether only a preview is made."""

    duration: float
    preview: bool = False


# -- the request, before any song is read -----------------------------------------------------


def check_request_length(
    plan: plans.Plan, content_length: str | int | None, *, files: int | None = None
) -> None:
    """Refuse a request body larger than `files` of the plan's files, before it is read."""
    try:
        length = int(content_length or 0)
    except ValueError:
        return  # a malformed header: the body is read and checked file by file
    limit = plan.max_upload_bytes * (files or plan.max_files)
    if length > limit + UPLOAD_OVERHEAD:
        raise Refusal(
            Code.TOO_LARGE,
            f"The file is over the limit of {human_size(limit)}. Upload a smaller file.",
            limit_bytes=limit,
        )


def check_format(plan: plans.Plan, fmt: str) -> None:
    """Refuse a format the plan does not include, naming the plan that does."""
    if fmt not in plan.formats:
        raise _lifted(plan, plans.cheapest_plan_allowing(fmt=fmt), fmt.upper(), named=True) or (
            Refusal(Code.NOT_ALLOWED, f"{fmt.upper()} is not available.")
        )


def check_count(plan: plans.Plan, count: int) -> None:
    """Refuse more files at once than the plan takes."""
    if count <= plan.max_files:
        return
    lifted = _lifted(
        plan, plans.cheapest_plan_allowing(files=count), "Uploading several songs at once"
    )
    if lifted is not None:
        raise lifted
    most = plan.max_files
    raise Refusal(
        Code.TOO_MANY, f"Upload at most {most} song{'s' if most > 1 else ''} at once.", limit=most
    )


def _lifted(
    plan: plans.Plan, allowing: plans.Plan | None, what: str, *, named: bool = False
) -> Refusal | None:
    """Return the refusal naming the more generous plan that allows `what`, if one does.

    Visitors without an account are told the plain limit instead (`named` for a format, whose
    refusal always names the plan), as the sites have always done.
    """
    if allowing is None or _RANK.get(allowing.code, 0) <= _RANK.get(plan.code, 0):
        return None
    if plan.code == plans.ANONYMOUS and not named:
        return None
    message = plans.plan_refusal(plan, allowing, what)
    return Refusal(Code.PLAN_REQUIRED, message, plan=plan.code, required_plan=allowing.code)


# -- each song ----------------------------------------------------------------------------------


def examine(content: File, order: Order) -> Examined:
    """Check one song against the plan: size, probe, length; decide whole song or preview."""
    plan = order.plan_of()
    size = content.size or 0
    if not size:
        raise Refusal(Code.EMPTY_FILE, _EMPTY)
    if size > plan.max_upload_bytes:
        what = f"A file of {human_size(size)}"
        raise _lifted(plan, plans.cheapest_plan_allowing(size=size), what) or Refusal(
            Code.TOO_LARGE,
            f"The file is {human_size(size)}; the limit is {human_size(plan.max_upload_bytes)}. "
            "Upload a smaller file (an MP3 of a song is usually under 15 MB).",
            limit_bytes=plan.max_upload_bytes,
        )
    duration = probe(content)
    return judge_length(plan, duration, order)


def probe(content: File) -> float:
    """Return a song's length in seconds, or refuse it as empty, not audio or unreadable."""
    try:
        with media.local_path(content) as path:
            info = media.probe(path)
    except SeparationError as exc:
        if exc.code == ErrorCode.EMPTY_FILE:
            raise Refusal(Code.EMPTY_FILE, _EMPTY) from exc
        if exc.code == ErrorCode.FFMPEG_MISSING:
            raise Refusal(
                Code.UNAVAILABLE, "Uploads are unavailable right now. Please try again later."
            ) from exc
        raise Refusal(
            Code.NOT_AUDIO,
            f"{exc.message} Upload an MP3, WAV, FLAC, M4A, OGG or a video with sound.",
        ) from exc
    if info.duration <= 0:
        raise Refusal(
            Code.NOT_AUDIO,
            "The length of this file could not be read. Convert it to MP3 or WAV and "
            "upload it again.",
        )
    return info.duration


def judge_length(plan: plans.Plan, duration: float, order: Order) -> Examined:
    """Decide a song's fate by its length: whole, a free preview, or refused."""
    if duration <= plan.max_duration:
        return Examined(duration)
    if order.previews and plans.plan_for_preview(plan, duration) is not None:
        return Examined(duration, preview=True)
    allowing = (
        plans.cheapest_plan_allowing(duration=duration)
        if duration <= settings.SEPARATION_MAX_DURATION
        else None
    )
    lifted = _lifted(plan, allowing, f"A song of {human_duration(duration)}")
    if lifted is not None:
        raise lifted
    fact = f"The song is {human_duration(duration)} long; the limit is "
    fact += f"{human_duration(plan.max_duration)}. Cut it shorter and upload it again."
    # An account whose plan no higher one lifts: nothing to buy. A visitor without an account
    # (told the plain limit) and the house: too long.
    code = Code.NOT_ALLOWED if plan.code in (plans.FREE, plans.PAID) else Code.TOO_LONG
    raise Refusal(code, fact, limit_seconds=plan.max_duration)


def credits_message(needed: int, balance: int) -> str:
    """Say what a song costs against the balance: the one wording of every surface."""
    unit = f" credit{'s' if balance != 1 else ''}" if balance else ""
    return (
        f"This song needs {needed} credit{'s' if needed != 1 else ''} (one per started minute) "
        f"and your balance is {balance}{unit}. Nothing was charged."
    )


def no_credits(exc: InsufficientCredits) -> Refusal:
    """Return the refusal of a song the balance cannot pay for."""
    return Refusal(
        Code.INSUFFICIENT_CREDITS,
        credits_message(exc.needed, exc.balance),
        balance=exc.balance,
        needed=exc.needed,
    )


def admit(content: File, name: str, examined: Examined, order: Order) -> Job:
    """Submit an examined song: its job, its credits reserved (or its free preview)."""
    submission = Submission(
        original_name=name or "song",
        stem=order.stem,
        format=order.format,
        brand=order.brand,
        origin=order.origin,
        priority=order.priority,
        duration=examined.duration,
        quality=order.quality or None,
    )
    try:
        if examined.preview:
            # Too long for the plan (a higher one takes it): its first seconds, free.
            return submit_preview(content, submission, owner=order.owner)
        # An owner pays in credits (and gets the plan's queue and retention); anonymous songs
        # are the free tier; the bot's are the house's.
        return submit(content, submission, owner=order.owner)
    except InsufficientCredits as exc:
        raise no_credits(exc) from exc
    except blocks.Blocked as exc:
        raise Refusal(Code.BLOCKED, exc.message) from exc
    except SeparationError as exc:
        # Only a preview's cut can fail here: the service, not the song, is at fault.
        raise Refusal(Code.UNAVAILABLE, exc.message) from exc


def take_many(songs: list[tuple[File, str]], order: Order) -> list[Job]:
    """Examine every song first, then admit them all, or none when the balance plainly cannot.

    A refusal while admitting (a balance spent meanwhile) carries `submitted`: how many of the
    songs went through before it.
    """
    plan = order.plan_of()
    check_format(plan, order.format)
    check_count(plan, len(songs))
    examined = [examine(content, order) for content, _ in songs]
    if order.owner is not None and len(songs) > 1:
        needed = sum(credits_for_duration(e.duration) for e in examined if not e.preview)
        balance = billing_selectors.balance(order.owner)
        if needed > balance:
            raise no_credits(InsufficientCredits(balance=balance, needed=needed))
    jobs: list[Job] = []
    for (content, name), song in zip(songs, examined, strict=True):
        try:
            jobs.append(admit(content, name, song, order))
        except Refusal as refusal:
            refusal.facts["submitted"] = len(jobs)
            raise
    logger.info("intake: %d song(s) admitted for %s", len(jobs), order.brand or order.origin)
    return jobs
