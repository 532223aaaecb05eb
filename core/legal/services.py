"""Takedown notices: receive one (stored, the sender told), act on it (audio removed, blocked).

Acting on a notice finds the audio its address names (a job or link page on either site, a video
link, or what another app recognises: the bot's song pages and videos, through `resolvers`) and
hands it to core.jobs.services.blocks, which removes its files everywhere and refuses it from
then on. The sender gets an e-mail when the notice arrives and when it is acted upon.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.brands import registry
from core.brands.registry import Brand
from core.jobs import selectors
from core.jobs.models import LinkImport
from core.jobs.services import blocks
from core.legal.models import TakedownNotice

logger = logging.getLogger(__name__)

_UUID = r"[0-9a-fA-F-]{36}"
_JOB_PATH = re.compile(rf"^/jobs/({_UUID})/")
_LINK_PATH = re.compile(rf"^/links/({_UUID})/")

# Other apps' ways of reading an address: each returns the AudioSource ids it names.
Resolver = Callable[[str], list[uuid.UUID]]
resolvers: list[Resolver] = []


def register_resolver(resolver: Resolver) -> None:
    """Let an app (the bot: its song pages and videos) say which audio an address names."""
    if resolver not in resolvers:
        resolvers.append(resolver)


def contact_email(brand: Brand | None) -> str:
    """Return where people write to: CONTACT_EMAIL, else contact@ the brand's domain."""
    if settings.CONTACT_EMAIL:
        return str(settings.CONTACT_EMAIL)
    domain = brand.domain if brand is not None else "localhost"
    return f"contact@{domain}"


def _send(notice: TakedownNotice, template: str, subject: str) -> None:
    """Mail the sender about their notice, replies going to the site's contact address."""
    brand = registry.get(notice.brand)
    context = {
        "notice": notice,
        "brand": brand,
        "contact_email": contact_email(brand),
        "operator": settings.LEGAL_OPERATOR,
    }
    name = brand.name if brand is not None else settings.LEGAL_OPERATOR
    EmailMessage(
        subject=f"{name}: {subject}",
        body=render_to_string(template, context),
        to=[notice.email],
        reply_to=[contact_email(brand)],
    ).send()


def _tell_operator(notice: TakedownNotice) -> None:
    """Mail the site's contact address that a notice waits, with where to act on it."""
    brand = registry.get(notice.brand)
    name = brand.name if brand is not None else settings.LEGAL_OPERATOR
    domain = brand.domain if brand is not None else "localhost"
    admin = reverse("admin:legal_takedownnotice_change", args=[notice.pk])
    body = (
        f"A takedown notice arrived on {name} from {notice.name} <{notice.email}>.\n\n"
        f"The work: {notice.work}\nIts address: {notice.location}\n\n"
        f"Act on it in the admin: https://{domain}{admin}\n"
    )
    EmailMessage(
        subject=f"{name}: takedown notice from {notice.name}",
        body=body,
        to=[contact_email(brand)],
        reply_to=[notice.email],
    ).send()


def receive_notice(
    *, brand: str, work: str, location: str, name: str, email: str, good_faith: bool
) -> TakedownNotice:
    """Store a notice; tell its sender it arrived and the site's contact address that it waits."""
    if not good_faith:
        raise ValueError("a notice needs the good-faith statement")
    notice = TakedownNotice.objects.create(
        brand=brand, work=work, location=location, name=name, email=email, good_faith=True
    )
    transaction.on_commit(lambda: _send(notice, "legal/email/received.txt", "notice received"))
    transaction.on_commit(lambda: _tell_operator(notice))
    logger.info("takedown notice %s received for %s", notice.pk, location)
    return notice


@dataclass
class Target:
    """The audio an address names: stored sources, and the video link keys to block."""

    source_ids: list[uuid.UUID] = field(default_factory=list)


def resolve(location: str) -> Target:
    """Return what an address names: a job or link page of either site, a video, a bot page."""
    target = Target()
    parts = urlsplit(location)
    on_our_site = registry.for_host(parts.hostname or "") is not None
    if on_our_site and (match := _JOB_PATH.match(parts.path)):
        job = selectors.job_by_id(match.group(1))
        if job is not None:
            target.source_ids.append(job.separation.source_id)
    elif on_our_site and (match := _LINK_PATH.match(parts.path)):
        link = LinkImport.objects.select_related("job__separation", "media").filter(
            pk=match.group(1)
        )
        found = link.first()
        if found is not None and found.job is not None:
            target.source_ids.append(found.job.separation.source_id)
        elif found is not None and found.media is not None and found.media.source_id:
            target.source_ids.append(found.media.source_id)
    for resolver in resolvers:
        target.source_ids += resolver(location)
    target.source_ids = list(dict.fromkeys(target.source_ids))  # once each, in order
    return target


def act_on_notice(notice_id: uuid.UUID | str) -> bool:
    """Remove and block the audio a received notice names; False if it was not open.

    The audio's files go on every site (every job sharing its separations), its content hash
    and its videos' link keys are blocked, the bot's videos of it are marked for takedown; the
    sender is told. A notice whose address names nothing known is still acted upon for the video
    it names, if any, so the video can never come in.
    """
    notice = TakedownNotice.objects.filter(pk=notice_id, status=TakedownNotice.Status.RECEIVED)
    found = notice.first()
    if found is None:
        return False
    reason = f"takedown notice {found.pk}"
    target = resolve(found.location)
    with transaction.atomic():
        removals = [blocks.block_source(s, reason=reason) for s in target.source_ids]
        by_link = blocks.block_link(found.location, reason=reason)
        if by_link is not None:
            removals.append(by_link)
        hashes = sorted({h for r in removals for h in r.hashes})
        media = sorted({m for r in removals for m in r.media})
        outcome = (
            f"Blocked {len(hashes)} audio file(s) by content and {len(media)} video(s) by link"
            f"{': ' + ', '.join(media) if media else ''}; "
            f"{sum(r.expired_separations for r in removals)} result(s) deleted, "
            f"{sum(r.cancelled_jobs for r in removals)} job(s) cancelled."
        )
        if not hashes and not media:
            outcome = "Nothing stored matches this address; nothing was blocked."
        moved = TakedownNotice.objects.filter(
            pk=found.pk, status=TakedownNotice.Status.RECEIVED
        ).update(
            status=TakedownNotice.Status.REMOVED,
            acted_at=timezone.now(),
            outcome=outcome,
            source_id=target.source_ids[0] if target.source_ids else None,
        )
        if moved != 1:
            transaction.set_rollback(True)  # another admin acted on it meanwhile
            return False
        found.refresh_from_db()
        transaction.on_commit(lambda: _send(found, "legal/email/acted.txt", "content removed"))
    logger.warning("takedown notice %s acted upon: %s", found.pk, outcome)
    return True


def reject_notice(notice_id: uuid.UUID | str, *, reason: str) -> bool:
    """Close a received notice without removing anything (incomplete, not ours); no e-mail."""
    return (
        TakedownNotice.objects.filter(pk=notice_id, status=TakedownNotice.Status.RECEIVED).update(
            status=TakedownNotice.Status.REJECTED, acted_at=timezone.now(), outcome=reason
        )
        == 1
    )
